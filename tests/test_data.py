import pytest
import torch

from training import augment, data, fonts


@pytest.fixture(scope="module")
def splits():
    return data.load("mnist-5k")


def test_mnist_5k_has_a_fixed_stratified_held_out_split(splits):
    train, held_out = splits
    assert len(train) == 4500 and len(held_out) == 500
    assert torch.bincount(held_out.labels).tolist() == [50] * 10
    assert train.images.shape[1:] == (1, 28, 28) and train.images.dtype == torch.float32
    assert 0 <= train.images.min() and train.images.max() <= 1
    again = data.load("mnist-5k")[1]
    assert torch.equal(again.images, held_out.images)  # the same digits every time


def test_held_out_digits_never_appear_in_training(splits):
    train, held_out = splits
    seen = {bytes(image.numpy().tobytes()) for image in train.images}
    assert not any(bytes(image.numpy().tobytes()) in seen for image in held_out.images)


def test_batches_shard_the_epoch_without_overlap(splits):
    train = splits[0]
    shards = [list(data.batches(train, 100, seed=0, epoch=3, rank=r, world=2)) for r in range(2)]
    assert len(shards[0]) == len(shards[1]) == data.steps_per_epoch(train, 100, world=2)
    firsts = [torch.cat([labels for _, labels in shard]) for shard in shards]
    assert len(firsts[0]) == 2200
    other_epoch = next(data.batches(train, 100, seed=0, epoch=4))[1]
    assert not torch.equal(other_epoch, next(data.batches(train, 100, seed=0, epoch=3))[1])


def test_unknown_or_unreachable_dataset_names_the_offline_choice(monkeypatch):
    with pytest.raises(data.DatasetUnavailable, match="mnist-5k"):
        data.load("cifar")
    import urllib.error

    from torchvision import datasets

    def offline(*args, **kwargs):
        raise urllib.error.URLError("no network")

    monkeypatch.setattr(datasets, "MNIST", offline)
    with pytest.raises(data.DatasetUnavailable, match="--dataset mnist-5k"):
        data.load("mnist")


def test_canvas_like_augmentation_keeps_shape_range_and_gradients(splits):
    images = splits[0].images[:32].clone().requires_grad_(True)
    out = augment.canvas_like(images)
    assert out.shape == images.shape and out.min() >= 0 and out.max() <= 1 + 1e-6
    assert not torch.allclose(out, images)
    out.sum().backward()
    assert images.grad is not None and images.grad.abs().sum() > 0


def test_canvas_share_redraws_about_that_share_and_leaves_the_rest(splits):
    torch.manual_seed(0)
    images = splits[0].images[:400]
    assert torch.equal(augment.canvas_like(images, share=0.0), images)
    changed = (augment.canvas_like(images, share=0.5) != images).flatten(1).any(1).float().mean()
    assert 0.4 < changed < 0.6


def test_typed_digits_are_every_font_s_ten_digits_framed_like_mnist():
    typed = fonts.typed_digits()
    faces = fonts.font_files()
    assert len(faces) >= 15 and len(typed) == 10 * len(faces)
    assert typed.labels[:20].tolist() == list(range(10)) * 2
    ink = typed.images[:, 0]
    assert ink.min() >= 0 and 0.9 < ink.amax(dim=(1, 2)).min() <= 1
    rows_with_ink, cols_with_ink = (ink > 0.05).any(2).sum(1), (ink > 0.05).any(1).sum(1)
    assert torch.maximum(rows_with_ink, cols_with_ink).max() <= 21  # fit in MNIST's 20x20 box
    grid = torch.arange(28.0)
    mass = ink.sum(dim=(1, 2))
    centre_row, centre_col = (ink.sum(2) * grid).sum(1) / mass, (ink.sum(1) * grid).sum(1) / mass
    assert (centre_row - 13.5).abs().max() < 1.5 and (centre_col - 13.5).abs().max() < 1.5


def test_plus_appends_another_split_as_many_times_as_asked(splits):
    train, typed = splits[0], fonts.typed_digits()
    more = train.plus(typed, times=2)
    assert len(more) == len(train) + 2 * len(typed) and torch.equal(more.images[: len(train)], train.images)
    assert torch.equal(more.labels[-len(typed):], typed.labels)


def test_pen_changes_stroke_thickness_both_ways(splits):
    torch.manual_seed(0)
    images = splits[0].images[:1].repeat(400, 1, 1, 1)
    ink = augment.random_pen(images).sum(dim=(1, 2, 3))
    original = images[0].sum()
    assert ink.min() < 0.8 * original and ink.max() > 1.3 * original


def test_translate_moves_the_ink_centre(splits):
    torch.manual_seed(0)
    images = splits[0].images[:64]
    moved = augment.translate(images, shift=0.1)
    columns = torch.arange(28.0)
    centre = lambda x: (x.sum(dim=(1, 2)) * columns).sum(1) / x.sum(dim=(1, 2, 3))
    assert (centre(moved) - centre(images)).abs().mean() > 0.5
