"""The GAN's game turn by turn: the D:G ratio knob, a run paused and stepped
(D, G or both for k steps) through runs/jobs.py, the API and the browser, and each sample's
pixel gradient of L_G drawn over the grid.

The runs are the primer's small GAN (or tinier) stopped after a few steps; the API and browser tests
share the session's launched app, one after the other (one run a server)."""
import re
import time

import numpy as np
import pytest
import torch

from tabs.train import game_plots
from tabs.train import game as train_game
from tabs.train import my_runs as train_runs
from training import knobs, train_gan, turns
from runs import control as game_control
from runs import jobs
from training.settings import TrainSettings


# -- plain functions ----------------------------------------------------------------------------
@pytest.mark.parametrize("loss", ["hinge", "bce"])
def test_pixel_gradients_are_autograds_dL_G_dx_of_each_generated_image(loss, one_torch_thread):
    from models import Discriminator, Generator

    torch.manual_seed(0)
    generator, discriminator = Generator(z_dim=4, width=8), Discriminator(width=4)
    z, labels = torch.randn(6, 4), torch.arange(6) % 10
    generator.eval()
    x = generator(z, labels)
    x.retain_grad()
    discriminator.eval()
    train_gan.generator_loss(loss, discriminator(x, labels)).backward()  # L_G, the mean over the batch
    expected = x.grad[:, 0] * len(x)  # each image's own L_G: D reads each image alone
    discriminator.train()
    scores, got = train_gan.pixel_gradients(discriminator, x.detach(), labels, loss)
    assert got.shape == (6, 28, 28) and torch.allclose(got, expected, atol=1e-6, rtol=1e-4)
    assert discriminator.training and all(p.requires_grad for p in discriminator.parameters())  # left as it was
    # Along -dL_G/dx, D finds the image more real: the generator's next update pushes that way.
    with torch.no_grad():
        nudged = discriminator.eval()(x.detach() - 1e-3 * got[:, None] / got.norm(), labels)
    assert (nudged > scores).all()


def test_the_push_is_drawn_orange_for_more_ink_blue_for_less_and_said_in_numbers():
    samples = np.zeros((20, 28, 28), np.float32)
    gradients = np.zeros((20, 28, 28), np.float32)
    gradients[0, 5, 5] = -2.0  # -dL/dx > 0: more ink
    gradients[13, 9, 9] = 3.0  # less ink
    grid = game_plots.push_grid(samples, gradients, columns=10, scale=1, gap=2)
    assert grid.shape == (2 * 30 - 2, 10 * 30 - 2, 3)
    more, less = grid[5, 5].astype(int), grid[30 + 9, 3 * 30 + 9].astype(int)
    assert more[0] > more[2] + 100 and less[2] > less[0] + 100 and grid[10, 10].max() == 0
    summary = game_plots.push_summary(gradients)
    assert summary["adds_ink_by_row"] == [1.0, 0.0] and [i for i, _ in summary["strongest"][:2]] == [14, 1]


def test_the_ratio_and_asked_turns():
    assert [turns.by_ratio(step, 3) for step in range(6)] == ["d", "d", "both", "d", "d", "both"]
    assert {turns.by_ratio(step, 1) for step in range(5)} == {"both"}
    game = turns.Turns()
    assert game.may_pull() and game.side(0, 2) == ("d", False)
    game.pause()
    assert not game.may_pull()
    assert game.ask("g", 2) == 2 and game.may_pull()
    assert [game.side(step, 1) for step in (5, 6)] == [("g", True), ("g", True)] and not game.may_pull()
    with pytest.raises(ValueError):
        game.ask("x", 1)
    for bad in (0, 51, 2.5, float("nan"), None, True):  # refused before any run is looked for
        assert game_control.step("nobody", "d", bad)[0].key == "train.turns.bad_count"
    assert game_control.step("nobody", "x", 1)[0].key == "train.turns.bad_side"


def test_the_ratio_knob_is_checked_and_recorded_like_the_others():
    caps = TrainSettings()
    assert jobs.validate("gan", "mnist-5k", 1, 0, 64, 0, caps, d_steps=3).knobs["d_steps"] == 3
    assert "d_steps" not in jobs.validate("cnn", "mnist-5k", 1, 0, 64, 0, caps, d_steps=3).knobs  # a GAN's knob
    for bad in (0, 11, 2.5):
        with pytest.raises(jobs.InvalidSettings) as refused:
            jobs.validate("gan", "mnist-5k", 1, 0, 64, 0, caps, d_steps=bad)
        assert "from 1 to 10" in str(refused.value) or "whole number" in str(refused.value)
    with pytest.raises(ValueError, match="d_steps .* from 1 to 10, not 0"):
        train_gan.GANConfig(d_steps=0)
    assert "D:G 3:1" in train_runs.settings_text({"kind": "gan", "arch": "lab", "knobs": {"arch": "lab", "d_steps": 3}, "epochs": 1}, "en")
    from training.export.onnx_export import training_command

    assert "--d-steps 3" in training_command("gan", knobs.resolve("gan", {"d_steps": 3}))


def test_on_zerogpu_stepping_is_refused_in_words_and_the_run_goes_on(monkeypatch, tmp_path):
    """A lent GPU's worker runs ahead in its own process: no pause there, said so; a CNN run neither."""
    from runs import executor
    from training.runtime import Progress

    def events(run):
        for step in range(1, 10_000):
            time.sleep(0.005)
            yield Progress(step, 9_999, 1, {"d_loss": 1.0}, 0.0, lambda: {})

    monkeypatch.setattr(executor, "on_zerogpu", lambda: True)
    monkeypatch.setattr(jobs, "_export", lambda run, last: None)
    caps = TrainSettings(runs_dir=tmp_path)
    run = jobs.start(jobs.validate("gan", "mnist-5k", 1, 0, 64, 0, caps), "lent", caps=caps, make_events=events)
    try:
        while run.view().step < 2:
            time.sleep(0.01)
        refused = game_control.pause("lent")
        assert refused.key == "train.turns.zerogpu" and "ZeroGPU" in refused.say("en") and "ZeroGPU" in refused.say("zh-CN")
        assert game_control.step("lent", "d", 1)[0].key == "train.turns.zerogpu"
        step = run.view().step
        time.sleep(0.1)
        assert run.view().step > step and not run.view().paused
    finally:
        jobs.stop("lent", wait=5)
    cnn = jobs.start(jobs.validate("cnn", "mnist-5k", 1, 0, 64, 0, caps), "reader", caps=caps, make_events=events)
    try:
        assert game_control.pause("reader").key == "train.turns.not_gan"
    finally:
        jobs.stop("reader", wait=5)
    assert run.done.wait(5) and cnn.done.wait(5)


# -- a real tiny run, paused and stepped ---------------------------------------------------------
def learned(name: str) -> bool:
    """A weight learned by gradient descent, not a statistic that follows the batches seen (batch
    norm's running mean and variance, spectral norm's power-iteration vectors)."""
    return not name.endswith(("running_mean", "running_var", "num_batches_tracked", "._u", "._v"))


@pytest.mark.slow
def test_a_tiny_run_is_paused_and_each_player_stepped_alone(monkeypatch, tmp_path, one_torch_thread):
    """The one loop, driven through runs/jobs.py as the Train tab drives it: paused, it takes no
    step; D for k steps moves D's weights and scores and leaves G's exactly; then G, the other way."""
    snapshots = []

    def tiny_loop(run):
        config = train_gan.GANConfig(batch_size=16, g_width=8, d_width=4, device="cpu", max_steps=60, d_steps=2)
        for event in train_gan.train(config, judge=None, turns=run.turns):
            snapshot = event.snapshot()  # the weights after each step (copied: a snapshot holds the live tensors)
            snapshots.append({side: {k: v.clone() for k, v in snapshot[side].items() if learned(k)}
                              for side in ("generator", "discriminator")})
            yield event

    monkeypatch.setattr(jobs, "_export", lambda run, last: None)
    caps = TrainSettings(runs_dir=tmp_path, threads=1)
    run = jobs.start(jobs.validate("gan", "mnist-5k", 1, 0, 16, 0, caps), "tiny", caps=caps,
                     make_events=lambda run: tiny_loop(run))
    run.steppable = True
    deadline = time.monotonic() + 30
    while run.view().step < 1 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert game_control.pause("tiny").key == "train.turns.paused"
    time.sleep(0.3)
    held = run.view().step
    time.sleep(0.3)
    assert run.view().step == held and run.view().paused  # paused: no step taken
    before = snapshots[-1]
    said, summary = game_control.step("tiny", "d", 3)
    after = snapshots[-1]
    assert said.key == "train.turns.stepped.d" and summary["steps"] == 3 and run.view().step == held + 3
    assert all(torch.equal(before["generator"][k], after["generator"][k]) for k in before["generator"])
    assert not all(torch.equal(before["discriminator"][k], after["discriminator"][k]) for k in before["discriminator"])
    assert summary["moved"]["generator"] == 0 and summary["moved"]["discriminator"] > 0
    assert summary["after"]["d_loss"] != summary["before"]["d_loss"] and summary["after"]["d_real"] != summary["before"]["d_real"]
    view = run.view()
    assert view.samples.shape == view.sample_gradients.shape == (100, 28, 28)
    said, summary = game_control.step("tiny", "g", 2)
    again = snapshots[-1]
    assert said.key == "train.turns.stepped.g" and summary["moved"]["discriminator"] == 0 < summary["moved"]["generator"]
    assert all(torch.equal(after["discriminator"][k], again["discriminator"][k]) for k in after["discriminator"])
    assert not all(torch.equal(after["generator"][k], again["generator"][k]) for k in after["generator"])
    assert summary["after"]["g_loss"] != summary["before"]["g_loss"]
    assert game_control.step("tiny", "both", 99)[0].key == "train.turns.bad_count"
    assert game_control.step("someone else", "d", 1)[0].key == "train.turns.none"
    assert game_control.resume("tiny").key == "train.turns.resumed"
    jobs.stop("tiny", wait=10)
    assert run.done.wait(10)


# -- through the API and in the browser (the session's app: one run after the other) --------------
def _status_step(status: str) -> int:
    found = re.search(r"step (\d+) of", status)
    return int(found.group(1)) if found else 0


def _first_step(job, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        outputs = job.outputs()
        if outputs and _status_step(outputs[-1][0]):
            return
        assert not job.done(), job.outputs()[-1][0] if job.outputs() else job.exception()
        time.sleep(0.05)
    raise AssertionError("the run took no step")


@pytest.mark.slow
def test_a_gan_run_is_paused_and_stepped_through_the_api(app_url):
    """/pause_training, /step_training (D, then G, for k steps), /resume_training, as a gradio_client
    user calls them; refusals in the visitor's language."""
    from gradio_client import Client

    client = Client(app_url, verbose=False)
    said, _, answer = client.predict("d", 2, api_name="/step_training")
    assert "no run going" in said and "message" in answer
    chinese = Client(app_url, verbose=False, headers={"Accept-Language": "zh-CN"})
    assert "没有正在进行的训练" in chinese.predict(api_name="/pause_training")
    job = client.submit(kind="gan", epochs=5, arch="seed", batch_size=32, d_steps=2, api_name="/train")
    try:
        _first_step(job)
        assert client.predict(api_name="/pause_training").startswith("Paused after step")
        said, picture, d_turn = client.predict("d", 3, api_name="/step_training")
        assert "D trained for 3 step(s)" in said and d_turn["steps"] == 3
        assert d_turn["moved"]["generator"] == 0 < d_turn["moved"]["discriminator"]
        assert d_turn["after"]["d_loss"] != d_turn["before"]["d_loss"] and d_turn["after"]["d_real"] != d_turn["before"]["d_real"]
        assert 'alt="The 100 fixed-latent samples' in picture and "data:image/png;base64," in picture
        said, _, g_turn = client.predict("g", 2, api_name="/step_training")
        assert g_turn["moved"]["discriminator"] == 0 < g_turn["moved"]["generator"] and g_turn["step"] == d_turn["step"] + 2
        assert g_turn["after"]["g_loss"] != g_turn["before"]["g_loss"]
        deadline = time.monotonic() + 5  # the stream sends the status about once a second
        while "paused" not in job.outputs()[-1][0] and time.monotonic() < deadline:
            time.sleep(0.1)
        assert "paused" in job.outputs()[-1][0], job.outputs()[-1][0]
        assert "Only a GAN run" not in said and "ZeroGPU" not in said
        assert client.predict(api_name="/resume_training").startswith("Resumed")
    finally:
        client.predict(api_name="/stop_training")
    assert "stopped" in job.result()[0]  # exported like any stopped run: the server is free for the next test


@pytest.mark.slow
@pytest.mark.browser
def test_the_game_is_paused_and_stepped_in_the_browser(browser, app_url):
    """The Train tab: a GAN run of the primer's, paused, D then G stepped by the page's buttons; the
    words, the status and the pushes (with their text alternative) follow; desktop and phone."""
    from conftest import ARTIFACTS

    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-US", device_scale_factor=1)
    page = context.new_page()
    errors = []
    page.on("console", lambda message: message.type == "error" and errors.append(message.text))
    page.on("pageerror", lambda error: errors.append(str(error)))

    def wait_for(locator, pattern: str, seconds: float = 60) -> str:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            shown = locator.inner_text()
            if re.search(pattern, shown):
                return shown
            page.wait_for_timeout(100)
        raise AssertionError(f"no {pattern!r}: {locator.inner_text()[-500:]}")

    try:
        page.goto(app_url)
        page.wait_for_selector("text=Digit Lab")
        page.get_by_role("tab", name="Train").click()
        panel = page.locator(".tabitem:visible").first
        assert not page.locator("#train-game").is_visible()  # a CNN's view: no game
        panel.get_by_label("GAN: draws digits", exact=True).check()
        panel.get_by_label("the primer's", exact=True).check()
        for shown in ("#train-d-steps", "#train-game"):  # shown by the server's replies to the radios: a round trip
            page.locator(shown).wait_for(state="visible", timeout=20_000)
        assert page.locator("#train-d-steps").is_visible() and page.locator("#train-game").is_visible()
        panel.get_by_role("button", name="Start", exact=True).click()
        wait_for(page.locator("#train-status"), r"step \d+ of")
        page.locator("#train-pause").click()
        wait_for(page.locator("#train-game-words"), "Paused after step")
        page.locator("#train-step-count input").fill("2")
        page.locator("#train-step").click()
        said = wait_for(page.locator("#train-game-words"), r"D trained for 2 step\(s\)")
        assert re.search(r"How far the weights moved .*: D [0-9.]+, G 0\.", said), said
        page.locator("#train-step-side").get_by_label("G, the generator").check()
        page.locator("#train-step").click()
        said = wait_for(page.locator("#train-game-words"), r"G trained for 2 step\(s\)")
        assert re.search(r"How far the weights moved .*: D 0, G [0-9.]+", said), said
        assert "paused" in wait_for(page.locator("#train-status"), "paused")
        alt = page.locator("#train-game-push img").get_attribute("alt")
        assert alt.startswith("The 100 fixed-latent samples") and "Pushed hardest: samples" in alt
        assert "−∂L_G/∂x" in page.locator("#train-game-push figcaption").inner_text()
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "train-game-desktop-en-US.png"), full_page=True)
        page.set_viewport_size({"width": 390, "height": 844})
        page.wait_for_timeout(800)
        page.screenshot(path=str(ARTIFACTS / "train-game-phone-en-US.png"), full_page=True)
        overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
        assert overflow <= 1, f"the game view is {overflow}px wider than a phone screen"
    finally:
        page.locator("#train-resume").click()
        panel.get_by_role("button", name="Stop", exact=True).click()
        page.wait_for_timeout(500)
        context.close()
    assert not errors, f"console errors: {errors}"


def test_the_ratio_from_the_command_line_trains_g_every_nth_step_and_is_kept(tmp_path, one_torch_thread):
    """`--d-steps 3` through the scripts' own command line (in this process): the checkpoint's config
    keeps it, so its card's command repeats it; G's Adam has taken one step of every three."""
    from training import cli, runtime

    argv = ["--arch", "seed", "--d-steps", "3", "--max-steps", "6", "--batch-size", "16", "--device", "cpu", "--out", str(tmp_path)]
    path = cli.run("gan", train_gan.GANConfig, lambda cfg, resume=None: train_gan.train(cfg, resume=resume, judge=None), argv)
    checkpoint = runtime.load_checkpoint(path, "gan")
    assert checkpoint["config"]["d_steps"] == 3 and checkpoint["step"] == 6
    adam_steps = lambda state: int(next(iter(state["state"].values()))["step"])  # noqa: E731
    assert adam_steps(checkpoint["optimizer_d"]) == 6 and adam_steps(checkpoint["optimizer_g"]) == 2
    from training.export.onnx_export import training_command

    assert "--d-steps 3" in training_command("gan", checkpoint["config"])
    with pytest.raises(SystemExit):
        cli.run("gan", train_gan.GANConfig, train_gan.train, ["--d-steps", "0"])
