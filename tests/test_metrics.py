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
    real = train.images[:1000].numpy()
    quality = metrics.gan_quality(judge, real, train.labels[:1000].numpy(), held_out.images.numpy(), train.images[1000:].numpy())
    assert quality["label_fidelity"] > 0.97
    assert quality["frechet_ratio"] < 2
    shifted = np.roll(real, 2, axis=3)
    worse = metrics.gan_quality(judge, shifted, train.labels[:1000].numpy(), held_out.images.numpy(), train.images[1000:].numpy())
    assert worse["frechet_ratio"] > 2 * quality["frechet_ratio"]
