"""Quality figures. The classifier is accuracy; the GAN is judged by the project's own CNN
(through its ONNX export, so every run is judged by the same, shipped reader):

- label fidelity: the share of generated digits the CNN reads as the digit asked for;
- Frechet ratio: the Frechet distance between generated and real held-out digits in the CNN's
  penultimate features, divided by the same distance between two real sets of the same sizes,
  so 1.0 means as close to the held-out digits as other real digits are.
"""
from pathlib import Path

import numpy as np
import onnxruntime as ort
from scipy import linalg


SHIPPED_CNN = Path(__file__).resolve().parent.parent / "exports" / "cnn.onnx"  # the judge by default
CONFIDENT = 0.9  # an unconditional GAN's sample counts as a clear digit when the CNN is this sure


def probabilities(logits: np.ndarray) -> np.ndarray:
    shifted = np.exp(logits - logits.max(1, keepdims=True))
    return shifted / shifted.sum(1, keepdims=True)


class Judge:
    """The exported CNN in onnxruntime: logits and penultimate features for [N,1,28,28] in [0,1]."""

    def __init__(self, path: str | Path = "exports/cnn.onnx"):
        options = ort.SessionOptions()
        options.intra_op_num_threads = 1
        self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])

    def read(self, images: np.ndarray, batch_size: int = 500) -> tuple[np.ndarray, np.ndarray]:
        parts = [
            self.session.run(["logits", "features"], {"image": np.asarray(images[i : i + batch_size], np.float32)})
            for i in range(0, len(images), batch_size)
        ]
        return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])

    def fidelity(self, images: np.ndarray, labels: np.ndarray) -> float:
        return float((self.read(images)[0].argmax(1) == np.asarray(labels)).mean())

    def confident_share(self, images: np.ndarray) -> float:
        """The share of images the CNN reads as some digit with probability >= CONFIDENT."""
        return float((probabilities(self.read(images)[0]).max(1) >= CONFIDENT).mean())


def accuracy(logits: np.ndarray, labels: np.ndarray) -> float:
    return float((np.asarray(logits).argmax(1) == np.asarray(labels)).mean())


def frechet_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Frechet distance between Gaussians fitted to two feature sets [N,D]."""
    mu_a, mu_b = a.mean(0), b.mean(0)
    cov_a, cov_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    root = linalg.sqrtm(cov_a @ cov_b)
    if np.iscomplexobj(root):
        root = root.real  # tiny imaginary parts come from numerical error
    return float(((mu_a - mu_b) ** 2).sum() + np.trace(cov_a + cov_b - 2 * root))


def gan_quality(judge: Judge, generated: np.ndarray, labels: np.ndarray | None, held_out: np.ndarray, reference: np.ndarray, seed: int = 0) -> dict:
    """Label fidelity (conditional: `labels` are the digits asked for) or, for an unconditional
    GAN (`labels` None), the class histogram of what the CNN reads and the share it reads with
    confidence >= CONFIDENT; and the Frechet ratio. `held_out` are real held-out digits;
    `reference` real training digits, of which as many as `generated` are drawn for the
    real-vs-real baseline."""
    logits, gen_features = judge.read(generated)
    held_features = judge.read(held_out)[1]
    pick = np.random.default_rng(seed).choice(len(reference), size=min(len(generated), len(reference)), replace=False)
    ref_features = judge.read(reference[pick])[1]
    baseline = frechet_distance(ref_features, held_features)
    distance = frechet_distance(gen_features, held_features)
    if labels is not None:
        reading = {"label_fidelity": accuracy(logits, labels)}
    else:
        reading = {
            "class_histogram": np.bincount(logits.argmax(1), minlength=10).tolist(),
            "confident_share": float((probabilities(logits).max(1) >= CONFIDENT).mean()),
        }
    return reading | {"frechet_distance": distance, "frechet_baseline": baseline, "frechet_ratio": distance / baseline}
