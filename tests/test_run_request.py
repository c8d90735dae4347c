"""A run's request without a server (runs/request.py): each setting read as training/knob_list.py
declares it and checked against the caps, the word "own" (or a setting left out) read for the kind
and architecture asked for, the knobs checked against each other, and the run's files."""
import json
from pathlib import Path

import numpy as np
import pytest

from runs import jobs
from training import settings
from training.settings import TrainSettings

CAPS = TrainSettings(max_epochs=5, max_seconds=30, batch_min=8, batch_max=256, lr_min=1e-4, lr_max=0.01)


def request(kind="cnn", **overrides):
    return jobs.validate(**{"kind": kind, "dataset": "mnist-5k", "epochs": 2, "batch_size": 64, "caps": CAPS} | overrides)


# -- validation ----------------------------------------------------------------------------------
def test_valid_settings_pass_and_own_means_the_models_default():
    assert request().lr is None and request("gan", lr="own").lr is None
    assert "lr" not in request().config(CAPS)  # so CNNConfig / GANConfig use their own
    assert request(epochs=5.0, lr=0.001, batch_size=8).epochs == 5  # 5.0 from JSON is a whole number
    typed = request(epochs="4", lr="0.002", batch_size=" 32 ", dropout="0.3")  # a choice typed into the page
    assert (typed.epochs, typed.lr, typed.batch_size, typed.knobs["dropout"]) == (4, 0.002, 32, 0.3)


def test_own_is_the_kind_and_architectures_own():
    """A setting left out or "own" takes the default of the run's own kind and architecture: a GAN
    run is not given the CNN's batch size or the Train tab's CNN epochs."""
    from training import knob_list

    for kind in ("cnn", "gan"):
        for arch in ("lab", "seed"):
            left_out = jobs.validate(kind, caps=CAPS, arch=arch)
            said = jobs.validate(kind, "own", "own", "own", "own", "own", CAPS, arch=arch, dropout="own", train_digits="own")
            assert left_out == said
            assert said.batch_size == knob_list.BY_NAME["batch_size"].own(kind, arch) and said.lr is None
            assert said.epochs == settings.DEFAULT_EPOCHS[kind] and said.knobs == {"arch": arch}
    assert (jobs.validate("gan", caps=CAPS).batch_size, jobs.validate("gan", caps=CAPS, arch="seed").batch_size) == (32, 64)
    assert jobs.validate("gan", epochs=1, caps=CAPS).config(CAPS)["batch_size"] == 32


def test_the_numbers_callers_once_sent_for_own_still_mean_it():
    old = request(lr=0, dropout=-1, train_digits=0)
    assert old == request(lr="own", dropout="own", train_digits="all") and old.lr is None and "dropout" not in old.knobs


@pytest.mark.parametrize("overrides, says", [
    ({"epochs": 0}, "epochs must be from 1 to 5"),
    ({"epochs": 6}, "epochs must be from 1 to 5"),
    ({"epochs": 2.5}, "whole number"),
    ({"epochs": "three"}, "whole number"),
    ({"epochs": True}, "whole number"),
    ({"batch_size": 4}, "batch size must be from 8 to 256"),
    ({"batch_size": "big"}, "whole number"),
    ({"seed": -1}, "seed must be from 0"),
    ({"lr": 0.5}, "learning rate must be from 0.0001 to 0.01"),
    ({"lr": "fast"}, "learning rate must be a number"),
    ({"lr": float("nan")}, "learning rate must be a number"),
    ({"kind": "rnn"}, "kind must be one of cnn, gan"),
    ({"dataset": "cifar10"}, "dataset must be one of"),
])
def test_bad_settings_are_refused_with_a_message(overrides, says):
    with pytest.raises(jobs.InvalidSettings, match=says):
        request(**overrides)


# -- the primer's knobs -----------------------------------------------------------------------------
def test_knobs_that_apply_are_kept_typed_and_the_rest_left_out():
    cnn = request(arch="seed", activation="sigmoid", dropout=0, train_digits=100.0, augment=False, gan_digits=0,
                  loss="mse")
    assert cnn.knobs == {"arch": "seed", "loss": "mse", "activation": "sigmoid", "dropout": 0.0, "train_digits": 100,
                         "augment": False, "gan_digits": 0}
    assert cnn.config(CAPS)["activation"] == "sigmoid" and cnn.config(CAPS)["train_digits"] == 100
    gan = request("gan", arch="seed", loss="bce", train_digits=100, dropout=0.3)
    assert gan.knobs == {"arch": "seed", "loss": "bce"}
    # None, "" and "own" mean the architecture's own: not passed, as on the command line
    own = request(activation=None, loss="", dropout="own", augment=None)
    assert own.knobs == {"arch": "lab"} and "dropout" not in own.config(CAPS)


@pytest.mark.parametrize("overrides, key, says", [
    ({"arch": "vgg"}, "train.error.choice", "arch must be one of lab, seed"),
    ({"activation": "swish"}, "train.error.choice", "activation must be one of relu, sigmoid, tanh"),
    ({"kind": "gan", "loss": "wasserstein"}, "train.error.choice", "loss must be one of"),
    ({"augment": "yes"}, "train.error.bool", "augment must be true or false"),
    ({"dropout": "half"}, "train.error.number", "dropout must be a number"),
    ({"train_digits": 2.5}, "train.error.whole", "train digits must be a whole number"),
    ({"epochs": 9}, "train.error.range", "epochs must be from 1 to 5"),
])
def test_bad_knobs_are_refused_with_a_key_for_the_tab(overrides, key, says):
    with pytest.raises(jobs.InvalidSettings, match=says) as caught:
        request(**overrides)
    assert caught.value.key == key and "setting" in caught.value.values


def test_an_impossible_combination_is_refused_by_the_knobs_module():
    """GAN-made digits are digits: training/knobs.py refuses them with Fashion-MNIST (its key and
    values reach the tab, which says them in the visitor's language)."""
    from training import knobs

    with pytest.raises(jobs.InvalidSettings) as caught:
        request(dataset="fashion-mnist", gan_digits=500)
    assert caught.value.key.startswith("knobs.error.")
    with pytest.raises(knobs.KnobError):  # the same refusal, from the module itself
        knobs.check("cnn", {"arch": "lab", "dataset": "fashion-mnist", "gan_digits": 500})



@pytest.mark.parametrize("kind, loss, key", [("cnn", "bce", "knobs.error.loss_for_cnn"), ("gan", "mse", "knobs.error.loss_for_gan")])
def test_another_kinds_loss_is_refused_by_name_in_both_languages(kind, loss, key):
    with pytest.raises(jobs.InvalidSettings) as caught:
        request(kind, loss=loss)
    assert caught.value.key == key and str(caught.value).startswith(f"{loss} is a {'GAN' if kind == 'cnn' else 'CNN'}'s loss")
    assert caught.value.say("zh-CN").startswith(f"{loss} 是 {'GAN' if kind == 'cnn' else 'CNN'} 的损失函数")


def test_messages_carry_their_locale_key_and_stay_english_strings():
    """Messages and refusals are one worded form, locales.Explained: str() English, key and values kept."""
    from locales import Explained

    message = Explained("train.stop.done", step=3, total=9, seconds="0.1")
    assert str(message) == "Stopped at step 3 of 9 (0.1 s after asking); exporting what it learned." and message.key == "train.stop.done" and message.values["step"] == 3
    assert json.loads(json.dumps({"reason": str(jobs.STOPPED_BY_VISITOR)})) == {"reason": "stopped by the visitor"}
    assert isinstance(jobs.RunBusy("train.busy.yours"), Explained) and issubclass(jobs.InvalidSettings, Explained)


def test_a_config_without_a_knob_says_which(monkeypatch):
    """Until the training configs know the knobs, Digit Lab's own values are what the code does
    anyway (dropped); any other value is a clear error, not a silent change of recipe."""
    from dataclasses import dataclass

    @dataclass
    class CNNConfig:
        dataset: str = "mnist-5k"
        augment: bool = True

    own = jobs.arch_defaults("cnn", "lab")
    assert jobs._config(CNNConfig, {"dataset": "mnist-5k", "arch": "lab", "activation": own["activation"]}) == CNNConfig()
    with pytest.raises(ValueError, match="no activation setting"):
        jobs._config(CNNConfig, {"arch": "lab", "activation": "tanh"})


def test_run_files_are_the_model_its_companions_and_the_cards(tmp_path):
    for name in ("cnn.onnx", "cnn.layers.onnx", "cnn.json", "run.json", "cnn.pt"):
        (tmp_path / name).write_text("x")
    assert [Path(f).name for f in jobs.run_files(str(tmp_path / "cnn.onnx"))] == ["cnn.onnx", "cnn.layers.onnx", "cnn.json", "run.json"]
    (tmp_path / "gan.onnx").write_text("x")
    (tmp_path / "gan.discriminator.onnx").write_text("x")
    assert [Path(f).name for f in jobs.run_files(str(tmp_path / "gan.onnx"))] == ["gan.onnx", "gan.discriminator.onnx", "run.json"]
    assert jobs.run_files(None) == []


def test_settings_come_from_the_environment(monkeypatch):
    monkeypatch.setenv("DIGIT_LAB_TRAIN_MAX_EPOCHS", "7")
    monkeypatch.setenv("DIGIT_LAB_TRAIN_LR_MAX", "0.2")
    monkeypatch.setenv("DIGIT_LAB_RUNS_DIR", "/tmp/elsewhere")
    loaded = settings.load()
    assert (loaded.max_epochs, loaded.lr_max, str(loaded.runs_dir)) == (7, 0.2, "/tmp/elsewhere")
    monkeypatch.setenv("DIGIT_LAB_TRAIN_MAX_EPOCHS", "lots")
    with pytest.raises(settings.SettingError, match="DIGIT_LAB_TRAIN_MAX_EPOCHS"):
        settings.load()
    monkeypatch.setenv("DIGIT_LAB_TRAIN_MAX_EPOCHS", "0")
    with pytest.raises(settings.SettingError):
        settings.load()


def test_the_dataset_list_matches_the_training_code():
    from training import data

    assert settings.DATASETS == data.DATASETS


def test_only_well_formed_corrections_are_kept():
    good = (np.full((28, 28), 0.5, np.float32), 3)
    kept = jobs.usable_corrections([good, (np.zeros((27, 28)), 1), (np.zeros((28, 28)), 12), "junk", (np.ones((28, 28)) * 2, 0)])
    assert [digit for _, digit in kept] == [3, 0]
    assert kept[1][0].max() == 1.0  # clipped into [0,1]
