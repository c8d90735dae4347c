"""Measure the Draw tab's not-sure rule: how often each feature, and the whole rule in
inference/classifier.THRESHOLDS, flags real digits (held-out MNIST, drawn, typed) versus junk
(blank, dots, scribbles, two digits, noise, a filled canvas).

    python -m tests.draw_calibrate            # the figures quoted in inference/classifier.py
    python -m tests.draw_calibrate --sweep    # each feature's rates over a range of thresholds
"""
import argparse
from dataclasses import dataclass

import numpy as np

from inference.classifier import THRESHOLDS, judge, probabilities
from inference.preprocess import Steps, prepare
from tests.draw_digits import JUNK_KINDS, drawn_set, junk_set, typed_set


@dataclass
class Case:
    group: str  # "held-out", "drawn", "typed" or a junk kind
    steps: Steps
    probs: np.ndarray | None
    digit: int | None  # the right answer; None for junk


def held_out_digits() -> list:
    """mnist-5k's held-out 500, as images a visitor might upload (white on black, 28x28)."""
    from training.data import load

    _, held_out = load("mnist-5k")
    return [(image[0], int(label)) for image, label in zip(held_out.images.numpy(), held_out.labels.numpy())]


def cases(per_digit: int = 100, per_junk: int = 100, seed: int = 7, model_path: str | None = None) -> list[Case]:
    groups = {"held-out": held_out_digits(), "drawn": drawn_set(per_digit, seed=seed), "typed": typed_set(max(1, per_digit // 2), seed=seed)}
    for value, kind in junk_set(per_junk, seed=seed):
        groups.setdefault(kind, []).append((value, None))
    out = []
    for group, items in groups.items():
        steps = [prepare(v) for v, _ in items]
        readable = [s for s in steps if not s.blank]
        probs = iter(probabilities(np.stack([s.image for s in readable]), model_path)) if readable else iter(())
        out += [Case(group, s, None if s.blank else next(probs), digit) for s, (_, digit) in zip(steps, items)]
    return out


def flag_rates(all_cases: list[Case], thresholds: dict = THRESHOLDS) -> dict[str, float]:
    """Fraction flagged not-sure in each group under `thresholds`."""
    import inference.classifier as classifier

    saved = dict(classifier.THRESHOLDS)
    classifier.THRESHOLDS.update(thresholds)
    try:
        rates = {}
        for group in dict.fromkeys(c.group for c in all_cases):
            flags = [judge(c.steps, c.probs)[0] for c in all_cases if c.group == group]
            rates[group] = float(np.mean(flags))
        return rates
    finally:
        classifier.THRESHOLDS.clear()
        classifier.THRESHOLDS.update(saved)


FEATURES = {
    "min_box_fraction": (lambda c: c.steps.box_fraction, "<", np.linspace(0.02, 0.12, 6)),
    "max_split_share": (lambda c: c.steps.split_share, ">", [0.02, 0.05, 0.1, 0.15, 0.2]),
    "max_aspect": (lambda c: c.steps.aspect, ">", np.linspace(1.2, 2.2, 6)),
    "max_fill": (lambda c: c.steps.fill, ">", [0.5, 0.55, 0.6, 0.65, 0.7]),
    "min_confidence": (lambda c: float(c.probs.max()), "<", np.linspace(0.3, 0.7, 9)),
}


def sweep(all_cases: list[Case]) -> None:
    readable = [c for c in all_cases if c.probs is not None]
    groups = list(dict.fromkeys(c.group for c in readable))
    print("feature threshold | " + " | ".join(f"{g:>10}" for g in groups))
    for name, (value, side, grid) in FEATURES.items():
        for threshold in grid:
            row = []
            for group in groups:
                values = np.array([value(c) for c in readable if c.group == group])
                flagged = values < threshold if side == "<" else values > threshold
                row.append(f"{flagged.mean():10.1%}")
            print(f"{name:>16} {side}{threshold:5.2f} | " + " | ".join(row))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sweep", action="store_true")
    parser.add_argument("--per-digit", type=int, default=100)
    parser.add_argument("--per-junk", type=int, default=100)
    args = parser.parse_args()
    all_cases = cases(args.per_digit, args.per_junk)
    if args.sweep:
        sweep(all_cases)
    rates = flag_rates(all_cases)
    counts = {g: sum(c.group == g for c in all_cases) for g in rates}
    print("thresholds:", THRESHOLDS)
    for group, rate in rates.items():
        kind = "junk " if group in JUNK_KINDS else "digit"
        print(f"  {kind} {group:>10} (n={counts[group]:4d}): flagged not sure {rate:6.1%}")
    for group in ("held-out", "drawn", "typed"):
        mine = [c for c in all_cases if c.group == group]
        wrong = [c for c in mine if int(c.probs.argmax()) != c.digit]
        caught = sum(judge(c.steps, c.probs)[0] for c in wrong)
        print(f"  {group}: {len(wrong)} of {len(mine)} read wrong, {caught} of those flagged not sure")
    junk = [r * counts[g] for g, r in rates.items() if g in JUNK_KINDS]
    print(f"  all junk flagged: {sum(junk) / sum(counts[g] for g in JUNK_KINDS):.1%}")


if __name__ == "__main__":
    main()
