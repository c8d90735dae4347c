"""The two training loops, a few steps each, as the CLI and the Train tab consume them."""
import pytest
import torch

from training import data, train_cnn, train_gan
from training.runtime import Progress

pytestmark = pytest.mark.slow  # each test trains for real, a few steps


def run(events):
    return list(events)


def test_cnn_loop_yields_a_progress_event_per_step_and_evaluates_at_the_end():
    events = run(train_cnn.train(train_cnn.CNNConfig(max_steps=4, batch_size=32, device="cpu")))
    assert [e.step for e in events] == [1, 2, 3, 4]
    assert all(isinstance(e, Progress) and e.total_steps == 4 for e in events)
    assert set(events[0].losses) == {"loss", "accuracy"}
    assert not events[0].epoch_end and events[-1].epoch_end
    assert set(events[-1].metrics) == {"held_out_loss", "held_out_accuracy", "train_accuracy"}
    checkpoint = events[-1].snapshot()
    assert checkpoint["kind"] == "cnn" and checkpoint["step"] == 4
    assert {"model", "optimizer", "scheduler", "config"} <= set(checkpoint)


def test_cnn_loop_learns():
    events = run(train_cnn.train(train_cnn.CNNConfig(max_steps=60, device="cpu", augment=False)))
    assert events[-1].metrics["held_out_accuracy"] > 0.5  # chance is 0.1


def test_a_resumed_cnn_run_continues_where_it_stopped():
    cfg = train_cnn.CNNConfig(max_steps=6, batch_size=32, device="cpu")
    events = train_cnn.train(cfg)
    for event in events:
        if event.step == 3:
            checkpoint = event.snapshot()
            break
    events.close()  # the consumer stopping is how a run is cancelled
    resumed = run(train_cnn.train(cfg, resume=checkpoint))
    assert [e.step for e in resumed] == [4, 5, 6]


def test_a_run_keeps_its_held_out_history_and_a_resumed_run_its_clock():
    cfg = train_cnn.CNNConfig(max_steps=2, batch_size=16, device="cpu")
    first = run(train_cnn.train(cfg))[-1].snapshot()
    assert [(h["epoch"], h["step"]) for h in first["history"]] == [(1, 2)]
    assert first["history"][0]["held_out_accuracy"] == first["metrics"]["held_out_accuracy"]
    resumed = run(train_cnn.train(train_cnn.CNNConfig(**{**first["config"], "max_steps": 3}), resume=first))
    after = resumed[-1].snapshot()
    assert [h["step"] for h in after["history"]] == [2, 3]
    assert resumed[0].elapsed >= first["seconds"] and after["seconds"] > first["seconds"]


def test_the_cnn_serves_its_weights_moving_average_and_resumes_both():
    cfg = train_cnn.CNNConfig(max_steps=3, batch_size=16, device="cpu", ema=0.9)
    checkpoint = run(train_cnn.train(cfg))[-1].snapshot()
    served, trained = checkpoint["model"], checkpoint["trained"]
    assert served.keys() == trained.keys()
    assert any(not torch.equal(served[k], trained[k]) for k in served if served[k].is_floating_point())
    resumed = run(train_cnn.train(train_cnn.CNNConfig(**{**checkpoint["config"], "max_steps": 4}), resume=checkpoint))
    assert [e.step for e in resumed] == [4]
    assert not torch.equal(resumed[-1].snapshot()["average"]["n_averaged"], checkpoint["average"]["n_averaged"])


def test_same_seed_same_run():
    cfg = train_cnn.CNNConfig(max_steps=3, batch_size=16, device="cpu", seed=7)
    first = [e.losses["loss"] for e in train_cnn.train(cfg)]
    second = [e.losses["loss"] for e in train_cnn.train(cfg)]
    assert first == second


def test_extra_examples_join_the_training_set():
    extra = data.Split(torch.zeros(3, 1, 28, 28), torch.tensor([1, 2, 3]))
    events = run(train_cnn.train(train_cnn.CNNConfig(max_steps=2, device="cpu"), extra=extra))
    assert events[-1].step == 2


def test_gan_loop_yields_losses_and_a_sample_grid_at_the_end():
    cfg = train_gan.GANConfig(max_steps=3, batch_size=16, g_width=16, d_width=8, device="cpu")
    events = run(train_gan.train(cfg, judge=None))
    assert [e.step for e in events] == [1, 2, 3]
    assert set(events[0].losses) == {"d_loss", "g_loss", "d_real", "d_fake"}
    assert events[-1].samples.shape == (100, 28, 28) and events[-1].sample_scores.shape == (100,)
    assert 0 <= events[-1].samples.min() and events[-1].samples.max() <= 1
    checkpoint = events[-1].snapshot()
    assert checkpoint["kind"] == "gan" and {"generator", "discriminator", "ema", "model"} <= set(checkpoint)
    resumed = run(train_gan.train(train_gan.GANConfig(**{**checkpoint["config"], "max_steps": 4}), resume=checkpoint, judge=None))
    assert [e.step for e in resumed] == [4]


@pytest.mark.parametrize("bad", [{"epochs": 0}, {"lr": -1.0}, {"dataset": "nope"}, {"batch_size": 0}, {"max_steps": -2}, {"ema": 1.0}])
def test_bad_settings_are_refused_before_anything_starts(bad):
    with pytest.raises(ValueError):
        train_cnn.CNNConfig(**bad)
    with pytest.raises(ValueError):
        train_gan.GANConfig(**bad)


def test_the_primers_cnn_trains_on_a_stratified_subset_and_reports_train_accuracy():
    cfg = train_cnn.CNNConfig(arch="seed", train_digits=100, max_steps=2, device="cpu", activation="sigmoid")
    events = run(train_cnn.train(cfg))
    metrics = events[-1].metrics
    assert {"held_out_accuracy", "train_accuracy"} <= set(metrics) and 0 <= metrics["train_accuracy"] <= 1
    checkpoint = events[-1].snapshot()
    assert checkpoint["config"]["arch"] == "seed" and checkpoint["config"]["train_digits"] == 100
    assert checkpoint["config"]["activation"] == "sigmoid" and checkpoint["config"]["dropout"] == 0.5


def test_a_stratified_subset_is_even_across_classes_and_picked_by_seed():
    train = data.load("mnist-5k")[0]
    subset = data.stratified_subset(train, 100, seed=1)
    assert torch.bincount(subset.labels).tolist() == [10] * 10
    assert not torch.equal(subset.images, data.stratified_subset(train, 100, seed=2).images)
    assert torch.equal(subset.images, data.stratified_subset(train, 100, seed=1).images)


def test_gan_made_digits_come_from_the_served_gan_a_tenth_a_class():
    from training import knobs

    made = data.gan_digits(30, seed=0, path=knobs.SERVED_GAN)
    assert made.images.shape == (30, 1, 28, 28) and torch.bincount(made.labels).tolist() == [3] * 10
    assert 0 <= made.images.min() and made.images.max() <= 1
    events = run(train_cnn.train(train_cnn.CNNConfig(arch="seed", gan_digits=20, train_digits=20, max_steps=1, device="cpu")))
    assert events[-1].step == 1


def test_the_primers_gan_loop_reports_both_sides_and_the_confident_share():
    from training.metrics import SHIPPED_CNN, Judge

    cfg = train_gan.GANConfig(arch="seed", max_steps=2, batch_size=16, device="cpu")
    events = run(train_gan.train(cfg, judge=Judge(SHIPPED_CNN)))
    losses, end = events[0].losses, events[-1]
    assert 0 < losses["d_real"] < 1 and 0 < losses["d_fake"] < 1  # bce: probabilities
    assert end.samples.shape == (100, 28, 28) and end.sample_scores.shape == (100,)
    assert ((0 < end.sample_scores) & (end.sample_scores < 1)).all()
    assert set(end.metrics) == {"confident_share"} and 0 <= end.metrics["confident_share"] <= 1
    checkpoint = end.snapshot()
    assert checkpoint["config"]["arch"] == "seed" and "ema" not in checkpoint
    resumed = run(train_gan.train(train_gan.GANConfig(**{**checkpoint["config"], "max_steps": 3}), resume=checkpoint, judge=None))
    assert [e.step for e in resumed] == [3]


def test_hinge_scores_are_raw():
    cfg = train_gan.GANConfig(arch="seed", loss="hinge", max_steps=1, batch_size=8, device="cpu")
    losses = run(train_gan.train(cfg, judge=None))[0].losses
    assert set(losses) == {"d_loss", "g_loss", "d_real", "d_fake"}
