"""The command lines as a user runs them: smoke runs with --max-steps, and one-line errors."""
import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # each test starts python and torch in a subprocess

ROOT = Path(__file__).resolve().parent.parent


def cli(*args, timeout=300):
    return subprocess.run([sys.executable, "-m", *args], cwd=ROOT, capture_output=True, text=True, timeout=timeout)


@pytest.mark.slow
def test_train_then_export_from_the_command_line(tmp_path):
    done = cli("training.train_cnn", "--max-steps", "3", "--batch-size", "32", "--device", "cpu", "--out", str(tmp_path))
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "cnn.pt").is_file()
    resumed = cli("training.train_cnn", "--resume", str(tmp_path / "cnn.pt"), "--max-steps", "5", "--out", str(tmp_path / "more"))
    assert resumed.returncode == 0, resumed.stderr
    assert "step 5 of 5" in resumed.stdout
    exported = cli("training.export", "--checkpoint", str(tmp_path / "cnn.pt"), "--out", str(tmp_path / "cnn.onnx"))
    assert exported.returncode == 0, exported.stderr
    assert (tmp_path / "cnn.onnx").is_file() and (tmp_path / "cnn.json").is_file()


@pytest.mark.slow
def test_gan_smoke_run(tmp_path):
    done = cli("training.train_gan", "--max-steps", "2", "--batch-size", "16", "--g-width", "16", "--device", "cpu", "--out", str(tmp_path))
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "gan.pt").is_file()


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["cnn", "gan"])
def test_the_primers_networks_from_the_command_line(tmp_path, kind):
    done = cli(f"training.train_{kind}", "--arch", "seed", "--max-steps", "2", "--batch-size", "16", "--device", "cpu", "--out", str(tmp_path))
    assert done.returncode == 0, done.stderr
    import torch

    config = torch.load(tmp_path / f"{kind}.pt", weights_only=True)["config"]
    assert config["arch"] == "seed" and config["lr"] == (1e-3 if kind == "cnn" else 3e-4)


@pytest.mark.slow
def test_the_cnn_trains_on_mean_squared_error_and_its_card_says_so(tmp_path):
    done = cli("training.train_cnn", "--arch", "seed", "--loss", "mse", "--max-steps", "20", "--batch-size", "32",
               "--device", "cpu", "--out", str(tmp_path))
    assert done.returncode == 0, done.stderr
    exported = cli("training.export", "--checkpoint", str(tmp_path / "cnn.pt"), "--out", str(tmp_path / "cnn.onnx"))
    assert exported.returncode == 0, exported.stderr
    card = json.loads((tmp_path / "cnn.json").read_text())
    assert card["knobs"]["loss"] == card["config"]["loss"] == "mse" and "--loss mse" in card["training_command"]
    assert 0 <= card["metrics"]["held_out_accuracy"] <= 1 and card["steps"] == 20


BAD_INPUT = [
    (("training.train_cnn", "--epochs", "-1"), "epochs"),
    (("training.train_cnn", "--lr", "abc"), "invalid float"),
    (("training.train_gan", "--dataset", "imagenet"), "mnist-5k"),
    (("training.train_cnn", "--device", "tpu", "--max-steps", "1"), "unknown device"),
    (("training.train_cnn", "--resume", "missing.pt"), "no checkpoint"),
    (("training.train_cnn", "--loss", "bce"), "bce is a GAN's loss function"),
    (("training.train_cnn", "--gan-digits", "100", "--dataset", "fashion-mnist"), "handwritten digits"),
    (("training.train_cnn", "--train-digits", "5"), "Training digits"),
    (("training.train_gan", "--arch", "primer"), "Unknown architecture"),
    (("training.export", "--checkpoint", "missing.pt", "--out", "x.onnx"), "no checkpoint"),
]

# Runs each command line as `python -m` does (runpy, __main__, its own argv), all in one interpreter
# so that torch is imported once, not once a case; prints [exit status, what went to stderr] a case.
# An exception other than SystemExit escapes as it would from the command: its traceback is the text.
MANY = """
import contextlib, io, json, runpy, sys, traceback
answers = []
for module, *args in json.loads(sys.argv[1]):
    sys.argv = [module, *args]
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        try:
            runpy.run_module(module, run_name="__main__", alter_sys=True)
            code = 0
        except SystemExit as done:
            code = done.code if isinstance(done.code, int) or done.code is None else 1
            if isinstance(done.code, str):
                print(done.code, file=sys.stderr)
        except BaseException:
            code = 1
            traceback.print_exc()
    answers.append([code or 0, err.getvalue()])
print(json.dumps(answers))
"""


@pytest.fixture(scope="module")
def bad_input_answers():
    done = subprocess.run([sys.executable, "-c", MANY, json.dumps([args for args, _ in BAD_INPUT])], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return dict(zip([args for args, _ in BAD_INPUT], json.loads(done.stdout.splitlines()[-1])))


@pytest.mark.parametrize("args, message", BAD_INPUT)
def test_bad_input_gets_a_one_line_error_and_a_non_zero_exit(bad_input_answers, args, message):
    code, stderr = bad_input_answers[args]
    assert code != 0
    assert message in stderr
    assert "Traceback" not in stderr


def test_the_bad_input_check_runs_a_command_line_as_python_m_does():
    """What the shared interpreter above stands for: one case, the real way."""
    done = cli("training.train_cnn", "--epochs", "-1")
    assert done.returncode != 0 and "epochs" in done.stderr and "Traceback" not in done.stderr


def test_a_corrupt_checkpoint_is_named_not_a_traceback(tmp_path):
    bad = tmp_path / "cnn.pt"
    bad.write_bytes(b"not a checkpoint")
    done = cli("training.export", "--checkpoint", str(bad), "--out", str(tmp_path / "cnn.onnx"))
    assert done.returncode == 1 and "not a readable checkpoint" in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "cnn.onnx").exists()
