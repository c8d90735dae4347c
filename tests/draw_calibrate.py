"""Measure the Draw tab's not-sure rule: how often each feature, and the whole rule in
inference/classifier.THRESHOLDS, flags real digits versus junk (blank, dots, scribbles, two
digits, noise, a filled canvas).

Two ways in, both measured:
- the page's canvas (strokes, inference/strokes.py): digits drawn as the page draws them, at 30%,
  45%, 60%, 75% and 90% of the canvas's height, on a desktop's box and a phone's smaller one
  (coarser pointer positions), and the same junk drawn as strokes. The reading redraws strokes at a
  width in proportion to the digit, so the pen the visitor picked does not change it; each of the
  page's pens is measured all the same (`--pens`);
- images (/classify's Sketchpad value, uploads): held-out MNIST, drawn-stroke images of any pen,
  typed digits, the page's digits at each of its heights drawn as pictures on the Sketchpad's canvas
  with its default pen, and the junk as pictures. A picture keeps the pen it was drawn with, so a
  small digit is bolder for its size; inference/pen.py brings its pen to MNIST's width, and no
  height may be flagged more than PICTURE_BOUNDS allow (the last line says whether one is).

    python -m tests.draw_calibrate            # the figures quoted in inference/classifier.py
    python -m tests.draw_calibrate --sweep    # each feature's rates over a range of thresholds
"""
import argparse
from dataclasses import dataclass

import numpy as np

from inference.classifier import THRESHOLDS, judge, probabilities
from inference.preprocess import Steps, prepare
from inference.strokes import prepare_strokes
from tests.draw_digits import (JUNK_KINDS, PAGE_PENS, _render_strokes, digit_strokes, drawn_set, junk_set,
                               page_digit, page_junk, sketchpad_value, typed_set)

PAGE_HEIGHTS = (0.3, 0.45, 0.6, 0.75, 0.9)
SKETCHPAD_CANVAS, SKETCHPAD_PEN = 252, 16  # the Sketchpad /classify's API users draw on: its side and default pen, px
PICTURE_BOUNDS = (0.05, 0.03)  # clear digits drawn as pictures flagged not sure: at most in any one height, in all
BOXES = {"desktop": 340, "phone": 300}  # the canvas's side on screen, CSS pixels (tabs/draw/canvas.py)
DIGIT_GROUPS = ("held-out", "drawn", "typed")


def page_groups(per_digit: int, per_junk: int, seed: int, pens=(PAGE_PENS[1],)) -> dict[str, list]:
    """Digits and junk drawn on the page's canvas, as the strokes it sends: {group: [(value, digit)]}."""
    rng = np.random.default_rng(seed)
    groups = {}
    for pen in pens:
        for box_name, box in BOXES.items():
            for height in PAGE_HEIGHTS:
                name = f"page {box_name} {height:.0%}" + (f" pen {pen}" if len(pens) > 1 else "")
                groups[name] = [(page_digit(d, rng, height, pen, box), d) for d in range(10) for _ in range(max(1, per_digit // 10))]
    for kind in JUNK_KINDS:
        groups[f"page {kind}"] = [(page_junk(kind, rng, box=BOXES["phone"] if k % 2 else None), None) for k in range(per_junk)]
    return groups


def picture_groups(per_digit: int, seed: int) -> dict[str, list]:
    """Digits at each of the page's heights drawn as pictures on the Sketchpad's canvas with its
    default pen (the value /classify takes, black on white): {group: [(value, digit)]}."""
    rng = np.random.default_rng(seed)
    groups = {}
    for height in PAGE_HEIGHTS:
        groups[f"picture {height:.0%}"] = [
            (sketchpad_value(_render_strokes(digit_strokes(d, rng, SKETCHPAD_CANVAS, heights=(height, height))[0],
                                             SKETCHPAD_CANVAS, SKETCHPAD_PEN, (0, 0, 0))), d)
            for d in range(10) for _ in range(max(1, per_digit // 10))]
    return groups


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


def _light(steps: Steps) -> Steps:
    """The rule reads the ink map's shape, not its pixels: keep a zero-cost stand-in, so that
    thousands of cases fit in little memory (an 800x800 canvas's map is 2.5 MB)."""
    steps.ink = np.broadcast_to(np.float32(0), steps.ink.shape)
    return steps


def is_junk(group: str) -> bool:
    return group.removeprefix("page ") in JUNK_KINDS


def cases(per_digit: int = 100, per_junk: int = 100, seed: int = 7, model_path: str | None = None, pens=(PAGE_PENS[1],)) -> list[Case]:
    groups = {"held-out": held_out_digits(), "drawn": drawn_set(per_digit, seed=seed), "typed": typed_set(max(1, per_digit // 2), seed=seed)}
    for value, kind in junk_set(per_junk, seed=seed):
        groups.setdefault(kind, []).append((value, None))
    groups.update(page_groups(per_digit, per_junk, seed, pens))
    groups.update(picture_groups(per_digit, seed))
    out = []
    for group, items in groups.items():
        read_in = prepare_strokes if group.startswith("page ") else prepare
        steps = [_light(read_in(v)) for v, _ in items]
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
    "max_fill": (lambda c: c.steps.fill if c.steps.aspect >= THRESHOLDS["fill_min_aspect"] else 0.0, ">", [0.5, 0.55, 0.6, 0.65, 0.7]),
    "min_confidence": (lambda c: float(c.probs.max()), "<", np.linspace(0.3, 0.7, 9)),
    "max_strokes": (lambda c: getattr(c.steps, "strokes", 0), ">", [6, 8, 12, 20]),
    "max_path": (lambda c: getattr(c.steps, "path", 0.0), ">", [3.5, 4.0, 4.5, 5.0, 6.0]),
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
    parser.add_argument("--pens", action="store_true", help="measure the page's digits with each of its pens")
    args = parser.parse_args()
    all_cases = cases(args.per_digit, args.per_junk, pens=PAGE_PENS if args.pens else (PAGE_PENS[1],))
    if args.sweep:
        sweep(all_cases)
    rates = flag_rates(all_cases)
    counts = {g: sum(c.group == g for c in all_cases) for g in rates}
    print("thresholds:", THRESHOLDS)
    for group, rate in rates.items():
        kind = "junk " if is_junk(group) else "digit"
        print(f"  {kind} {group:>22} (n={counts[group]:4d}): flagged not sure {rate:6.1%}")
    digit_groups = [g for g in rates if not is_junk(g)]
    for group in digit_groups:
        mine = [c for c in all_cases if c.group == group]
        wrong = [c for c in mine if int(c.probs.argmax()) != c.digit]
        caught = sum(judge(c.steps, c.probs)[0] for c in wrong)
        print(f"  {group}: {len(wrong)} of {len(mine)} read wrong, {caught} of those flagged not sure")
    for prefix in ("", "page "):
        groups = [g for g in rates if is_junk(g) and g.startswith("page ") == bool(prefix)]
        junk = sum(rates[g] * counts[g] for g in groups) / sum(counts[g] for g in groups)
        print(f"  all {prefix or 'image '}junk flagged: {junk:.1%}")
    pictures = [g for g in rates if g.startswith("picture ")]
    worst = max(rates[g] for g in pictures)
    whole = sum(rates[g] * counts[g] for g in pictures) / sum(counts[g] for g in pictures)
    within = worst <= PICTURE_BOUNDS[0] and whole <= PICTURE_BOUNDS[1]
    print(f"  pictures ({SKETCHPAD_PEN} px pen on {SKETCHPAD_CANVAS} px): {worst:.1%} flagged at worst in one height, "
          f"{whole:.1%} in all ({'within' if within else 'OUTSIDE'} the bounds, {PICTURE_BOUNDS[0]:.0%} and {PICTURE_BOUNDS[1]:.0%})")


if __name__ == "__main__":
    main()
