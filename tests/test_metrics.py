import numpy as np
import pytest

from training import data, metrics
from inference.sessions import shipped


def test_frechet_distance_is_zero_for_the_same_set_and_grows_with_a_shift():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(500, 8))
    assert metrics.frechet_distance(a, a) == pytest.approx(0, abs=1e-6)
    near = metrics.frechet_distance(a, rng.normal(size=(500, 8)))
    far = metrics.frechet_distance(a, rng.normal(size=(500, 8)) + 1.0)
    assert near < far and far == pytest.approx(8, rel=0.3)  # mean shift of 1 in 8 dimensions


def test_accuracy():
    assert metrics.accuracy(np.eye(3), np.array([0, 1, 0])) == pytest.approx(2 / 3)


@pytest.fixture(scope="module")
def judge():
    return metrics.Judge(shipped("cnn"))


def test_real_digits_score_like_real_digits_and_blurred_ones_do_not(judge):
    train, held_out = data.load("mnist-5k")
    order = np.random.default_rng(0).permutation(len(train))  # the data set is sorted by class
    pick, rest = order[:1000], order[1000:]
    real, labels = train.images[pick].numpy(), train.labels[pick].numpy()
    quality = metrics.gan_quality(judge, real, labels, held_out.images.numpy(), train.images[rest].numpy())
    assert quality["label_fidelity"] > 0.97
    assert quality["frechet_ratio"] < 2
    padded = np.pad(real, ((0, 0), (0, 0), (1, 1), (1, 1)))
    blurred = sum(padded[:, :, i : i + 28, j : j + 28] for i in range(3) for j in range(3)) / 9  # 3x3 box blur
    worse = metrics.gan_quality(judge, blurred, labels, held_out.images.numpy(), train.images[rest].numpy())
    print(f"Frechet ratio: real {quality['frechet_ratio']:.2f}, blurred {worse['frechet_ratio']:.2f}")
    assert worse["frechet_ratio"] > 3 * quality["frechet_ratio"]
