"""Figures for the README that compare the shipped CNNs: `python -m benchmarks.figures`.

Reads the Draw tab's test digits (tests/draw_digits.py: drawn-stroke digits and digits typed in
fonts neither CNN trained on, with the seeds tests/test_draw_accuracy.py uses) through the app's
own preprocessing (inference.preprocess.prepare), then through each CNN's ONNX file, and prints
how many each reads right (the top digit, without the Draw tab's "not sure" rule) and the
held-out accuracy on mnist-5k. Accuracy only: nothing here is timed."""
import argparse
import json
from pathlib import Path

import numpy as np
import onnxruntime as ort

from inference.preprocess import prepare

ROOT = Path(__file__).resolve().parent.parent
MODELS = {"Digit Lab's CNN": ROOT / "exports" / "cnn.onnx", "the primer's CNN": ROOT / "exports" / "seed_cnn.onnx"}


def _images(items) -> tuple[np.ndarray, np.ndarray]:
    images, digits = [], []
    for value, digit in items:
        steps = prepare(value)
        images.append(steps.image if not steps.blank else np.zeros((28, 28), np.float32))
        digits.append(digit)
    return np.stack(images)[:, None].astype(np.float32), np.array(digits)


def accuracy(path: Path, images: np.ndarray, digits: np.ndarray) -> float:
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    logits = session.run(["logits"], {"image": images})[0]
    return float((logits.argmax(1) == digits).mean())


def main(argv=None) -> None:
    from tests.draw_digits import drawn_set, font_paths, typed_set
    from training import data

    parser = argparse.ArgumentParser(prog="python -m benchmarks.figures", description=__doc__.splitlines()[0])
    parser.add_argument("--drawn-per-digit", type=int, default=100)
    parser.add_argument("--typed-per-digit", type=int, default=50)
    args = parser.parse_args(argv)
    held_out = data.load("mnist-5k")[1]
    sets = {
        "held-out (mnist-5k)": (held_out.images.numpy(), held_out.labels.numpy()),
        "drawn strokes": _images(drawn_set(args.drawn_per_digit, seed=2024)),
    }
    if font_paths():
        sets["typed (unseen fonts)"] = _images(typed_set(args.typed_per_digit, seed=2024))
    table = {name: {model: accuracy(path, *sets[name]) for model, path in MODELS.items()} for name in sets}
    for name, row in table.items():
        print(f"{name} ({len(sets[name][1])} digits): " + ", ".join(f"{m} {a:.1%}" for m, a in row.items()))
    print(json.dumps(table))


if __name__ == "__main__":
    main()
