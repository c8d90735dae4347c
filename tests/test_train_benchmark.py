"""benchmarks/train.py's recipe changes (--set) and its second-half mean: parsed as typed, carried
into the run the Train tab's path starts, and averaged over the right epoch ends."""
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks import train as bench


def test_a_change_is_read_as_json_where_it_can_be():
    assert bench.parse_change("canvas_share=0.65") == ("canvas_share", 0.65)
    assert bench.parse_change("lr=1e-2") == ("lr", 0.01)
    assert bench.parse_change("typed_digits=false") == ("typed_digits", False)
    assert bench.parse_change("activation=tanh") == ("activation", "tanh")
    assert bench.parse_change("schedule=one-cycle") == ("schedule", "one-cycle")


def test_the_second_half_mean_reads_only_the_epoch_ends_past_the_middle():
    timeline = [{"step": s, "held_out_accuracy": a} for s, a in ((73, 0.5), (146, 0.9), (219, 0.98), (292, 0.99))]
    assert bench.late_mean(timeline, "held_out_accuracy", 292) == pytest.approx(0.985)
    assert bench.late_mean(timeline[:2], "held_out_accuracy", 292) is None


@pytest.mark.parametrize("change, said", [("bogus=1", "not a CNN setting"), ("seed=3", "--seeds"), ("canvas_share=2", "canvas_share must be in [0, 1]")])
def test_a_change_the_recipe_cannot_take_is_refused_before_anything_runs(change, said):
    done = subprocess.run([sys.executable, "-m", "benchmarks.train", "--skip-gan", "--set", change], capture_output=True, text=True, timeout=120,
                          cwd=Path(__file__).resolve().parent.parent)
    assert done.returncode == 2 and said in done.stderr and "Traceback" not in done.stderr


@pytest.mark.slow
def test_changes_reach_the_run_and_a_whole_run_gives_its_second_half_mean():
    figures = bench.measure("cnn", epochs=2, threads=1, seed=0, whole=True, changes={"batch_size": 128, "canvas_share": 0.25})
    assert figures["config"]["batch_size"] == 128 and figures["config"]["canvas_share"] == 0.25
    assert figures["total_steps"] == 2 * 36  # 4,500 digits and 220 typed ones, 36 batches of 128 an epoch
    last = figures["timeline"][-1]
    assert figures["late_held_out_accuracy"] == last["held_out_accuracy"]  # the second half of 2 epochs: its last end
