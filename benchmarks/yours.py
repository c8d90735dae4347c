"""Yours against strangers': does a CNN fine-tuned on 50 of one writer's digits read that writer
better than the shipped one, trained on 4,500 strangers', and what does it lose on theirs?

The writer is a font drawn as pen strokes (benchmarks/handwriting.py). Their set is 5 drawings a
digit (drawn anew for each seed); their test is 30 other drawings a digit, never trained on. The
shipped CNN (exports/cnn.onnx, read by onnxruntime as the app serves it) is scored once: it does
not change with the seed. Each fine-tuned CNN starts from the shipped model's own weights (no
checkpoint ships; training/served.py takes them out of the ONNX) and trains the set in the
Train tab's two ways: "mine" (the set alone) and "mnist-5k+mine" (the set joins mnist-5k's 4,500,
about a fifth of each epoch). Scores: the writer's test and mnist-5k's 500 held-out digits, medians
over the seeds with their range.

    python -m benchmarks.yours                  # seeds 0 1 2, 60 steps a run: ~2 minutes on 2 cores
    python -m benchmarks.yours --steps 120 --lr 3e-4
"""
import argparse
import os
import statistics
import time

import numpy as np

from benchmarks import handwriting
from inference import mnist_5k
from training import mine as mine_set

SET_PER_DIGIT = 5
TEST_PER_DIGIT = 30
TEST_SEED = 1000  # the writer's test drawings; each seed's set is drawn from the seed itself
WAYS = ("mine", "mnist-5k+mine")


def shipped_scores(test: tuple[np.ndarray, np.ndarray]) -> dict:
    """The shipped CNN's accuracy on the writer's test and on mnist-5k's held-out, via onnxruntime."""
    import onnxruntime as ort

    from training import knobs

    session = ort.InferenceSession(str(knobs.ROOT / "exports" / "cnn.onnx"), providers=["CPUExecutionProvider"])

    def accuracy(images, labels):
        return float((session.run(None, {"image": images[:, None]})[0].argmax(1) == labels).mean())

    return {"yours": accuracy(*test), "strangers": accuracy(*mnist_5k.held_out())}


def fine_tuned_scores(way: str, seed: int, test: tuple[np.ndarray, np.ndarray], steps: int, lr: float) -> dict:
    """One fine-tuning run from the shipped weights on `seed`'s set: its last step's scores."""
    import torch

    from training import train_cnn

    images, labels = handwriting.digits(SET_PER_DIGIT, seed)
    the_set = mine_set.as_split(list(zip(images, labels)))
    the_test = mine_set.as_split(list(zip(*test)))
    cfg = train_cnn.CNNConfig(seed=seed, lr=lr, max_steps=steps, epochs=1000, device="cpu", digits=way, fine_tune=True)
    torch.manual_seed(seed)
    last = None
    for last in train_cnn.train(cfg, mine=mine_set.Mine(the_set, the_test)):
        pass
    return {"yours": last.metrics["mine_accuracy"], "strangers": last.metrics["held_out_accuracy"], "seconds": last.elapsed}


def run(seeds=(0, 1, 2), steps: int = 60, lr: float = 1e-3) -> dict:
    test = handwriting.digits(TEST_PER_DIGIT, TEST_SEED)
    found = {"shipped": shipped_scores(test), "steps": steps, "lr": lr, "seeds": list(seeds)}
    for way in WAYS:
        found[way] = [fine_tuned_scores(way, seed, test, steps, lr) for seed in seeds]
    return found


def spread(values: list[float]) -> str:
    """A median over the seeds and its range, as percentages."""
    return f"{100 * statistics.median(values):.1f}% ({100 * min(values):.1f}-{100 * max(values):.1f})"


def rows(found: dict) -> list[list]:
    shipped = found["shipped"]
    out = [["shipped CNN (4,500 strangers' digits)", f"{100 * shipped['yours']:.1f}%", f"{100 * shipped['strangers']:.1f}%", "-"]]
    for way in WAYS:
        runs = found[way]
        out.append([f"fine-tuned on your 50, \"{way}\"", spread([r["yours"] for r in runs]),
                    spread([r["strangers"] for r in runs]), f"{statistics.median(r['seconds'] for r in runs):.0f}"])
    return out


COLUMNS = ["model", f"your handwriting ({10 * TEST_PER_DIGIT} drawings)", "strangers' (mnist-5k held-out, 500)", "run seconds"]


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.yours", description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--steps", type=int, default=60, help="optimiser steps of each fine-tuning run")
    parser.add_argument("--lr", type=float, default=1e-3, help="the one-cycle schedule's peak")
    args = parser.parse_args()
    import torch

    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS") or torch.get_num_threads()))
    started = time.perf_counter()
    found = run(tuple(args.seeds), args.steps, args.lr)
    table = rows(found)
    for row in [COLUMNS, *table]:
        print(" | ".join(map(str, row)))
    print(f"({time.perf_counter() - started:.0f} s, {torch.get_num_threads()} threads)")
    from benchmarks import results

    words = (f"One writer (benchmarks/handwriting.py: {handwriting.FONT.name} drawn as pen strokes, read by the page's "
             f"strokes path). Their set: {SET_PER_DIGIT} drawings a digit, drawn anew each seed; their test: "
             f"{TEST_PER_DIGIT} other drawings a digit, never trained on. Fine-tuned runs start from the shipped "
             f"CNN's weights, {args.steps} steps at a peak lr of {args.lr:g} (one-cycle), seeds "
             f"{' '.join(map(str, args.seeds))}: medians over the seeds (range). The shipped CNN is one model: "
             "no range.\n")
    print("wrote", results.write("yours", results.command_line("benchmarks.yours"), [words, results.table(COLUMNS, table)],
                                 title="Yours against strangers': a CNN fine-tuned on 50 of your digits"))


if __name__ == "__main__":
    main()
