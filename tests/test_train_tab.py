"""The Train tab's plain functions (charts, status, refusals, the runs side by side) and its knobs:
a control for each setting training/knob_list.py offers, each starting at the kind's or the
architecture's own, without a server."""
import html
from pathlib import Path

import numpy as np
import pytest

from runs import jobs
from tabs.train import tab
from training.settings import TrainSettings

# -- the plain functions ---------------------------------------------------------------------


def test_chart_series_pick_their_keys_in_legend_order_and_speak_the_language():
    points = [(1, "loss", 2.0), (1, "accuracy", 0.1), (70, "held_out_loss", 1.5), (70, "held_out_accuracy", 0.6),
              (70, "train_accuracy", 0.7), (80, "g_loss", 0.3), (80, "d_real", 0.8), (80, "d_fake", 0.3),
              (90, "label_fidelity", 0.5)]
    loss = tab.chart_series(points, "loss", "en")
    assert [s["name"] for s in loss] == ["train loss", "held-out loss", "generator loss"]
    score = tab.chart_series(points, "score", "en")
    assert [s["name"] for s in score] == ["batch accuracy (augmented)", "train accuracy", "held-out accuracy", "label fidelity"]
    assert score[2]["points"] == [(70, 0.6)] and score[0]["dashed"] and not score[1]["dashed"]
    game = tab.chart_series(points, "game", "zh-CN")
    assert [s["name"] for s in game] == ["判别器对真实数字的评分", "判别器对生成数字的评分"]


def test_a_short_series_is_drawn_as_points_and_the_chart_names_itself():
    """A one-epoch run's held-out figure is one point, which a line alone does not draw."""
    one = [{"name": "held-out accuracy", "colour": "#ff7f0e", "points": [(37, 0.91)]}]
    svg = tab.train_plots.line_chart(one, "Accuracy", "step", "share", "nothing yet", y_lim=(0, 1))
    assert svg.count("<circle") == 1 and 'role="img"' in svg and "held-out accuracy: 0.91" in svg
    dense = [{"name": "train loss", "colour": "#1f77b4", "points": [(i, 1 / i) for i in range(1, 201)]}]
    assert "<circle" not in tab.train_plots.line_chart(dense, "Loss", "step", "loss", "nothing yet")
    empty = tab.chart([], "loss", "zh-CN")
    assert "还没有数据" in empty and "损失函数" in empty


def test_sample_grid_puts_a_digit_on_each_row_and_scores_under_each():
    samples = np.zeros((100, 28, 28), np.float32)
    samples[30:40] = 1.0  # the ten samples of digit 3
    grid = tab.train_plots.sample_grid(samples, scale=1, gap=2)
    assert grid.shape == (10 * 30 - 2, 10 * 30 - 2) and grid.dtype == np.uint8
    assert (grid[3 * 30 : 3 * 30 + 28, :28] == 255).all() and (grid[2 * 30 : 2 * 30 + 28, :28] == 0).all()
    scored = tab.train_plots.sample_grid(samples, np.full(100, 0.25), scale=3, gap=6)
    side, cell = 84, 84 + 16 + 6
    assert scored.shape == (10 * cell - 6, 10 * 90 - 6)
    caption = scored[side : side + 16, :side]  # under the first sample: its score, written in light grey
    assert (caption > 150).any() and (scored[:side, :side] == 0).all()


def test_class_counts_show_what_the_cnn_reads():
    from training import data

    held_out = data.load("mnist-5k")[1]
    picks = np.concatenate([np.flatnonzero(held_out.labels.numpy() == d)[:10] for d in range(10)])
    real = held_out.images.numpy()[picks, 0]  # ten real digits of each class: nearly ten bars of ten
    counts = tab.class_counts(real)
    assert counts.sum() == 100 and counts.min() >= 7
    assert tab.class_counts(np.repeat(real[:1], 100, axis=0)).max() == 100  # one zero a hundred times
    bars = html.unescape(tab.histogram(counts, "en", is_conditional=False))
    assert "the digits the primer's GAN drew" in bars and bars.count("<rect") == 10


def view(**changes) -> jobs.RunView:
    base = jobs.RunView("r", "cnn", "training", 50, 200, 1, 3, 10.0, [], 10.0, {"held_out_accuracy": 0.9},
                        None, 0, None, None, None, None)
    return jobs.RunView(**{**base.__dict__, **changes})


def test_status_says_steps_rate_and_time_left_and_never_a_server_path():
    caps = TrainSettings(max_seconds=100)
    text = tab.status_text(view(), caps)
    assert "step 50 of 200" in text and "10.0 steps/s" in text and "about 15 s left" in text and "90.0%" in text
    assert "about 5 s left" in tab.status_text(view(elapsed=95.0), caps)  # the time cap comes first
    stopped = view(state="finished", metrics={}, stop_reason=jobs.STOPPED_BY_VISITOR, model_path="/srv/app/runs/r/cnn.onnx",
                   card_path="/srv/app/runs/r/run.json", exported_metrics={"held_out_accuracy": 0.5})
    text = tab.status_text(stopped, caps, "en", number=2)  # stopped mid-epoch: the figures are the export's
    assert "stopped (stopped by the visitor)" in text and "held-out accuracy 50.0%" in text and "run 2" in text
    assert "/srv" not in text and "runs/" not in text and ".onnx" not in text
    chinese = tab.status_text(stopped, caps, "zh-CN", number=2)
    assert "由访客停止" in chinese and "留出集准确率 50.0%" in chinese and "手写" in chinese
    failed = view(state="failed", error="ExportError: parity failed")
    assert "parity failed" in tab.status_text(failed, caps) and "stays in use" in tab.status_text(failed, caps)


def test_refusals_and_messages_are_said_in_the_visitors_language():
    full = jobs.RunBusy("train.busy.full", "The queue is full", waiting=10, seconds=40)
    assert tab.say(full, "zh-CN") == "训练队列已满（10 个在等待）。大约 40 秒后会空出一个位置，请到时再试。"
    with pytest.raises(jobs.InvalidSettings) as caught:
        jobs.validate("cnn", "mnist-5k", 99, "own", 64, 0, TrainSettings(max_epochs=5))
    assert tab.say(caught.value, "zh-CN") == "本服务器上训练轮数必须在 1 到 5 之间，而不是 99"
    assert tab.say(caught.value, "en") == "epochs must be from 1 to 5 on this server, not 99"
    unknown = jobs.InvalidSettings("knobs.error.not_in_locales_yet", "an English reason")
    assert tab.say(unknown, "zh-CN") == "an English reason"  # a key without words yet: English, not a crash


def finished(number_of_steps=37, kind="cnn", folder=None, **knobs) -> jobs.RunView:
    request = jobs.validate(kind, "mnist-5k", 2, "own", 64, 0, TrainSettings(), **knobs)
    model = str(folder / f"{kind}.onnx") if folder else None
    metric = "held_out_accuracy" if kind == "cnn" else "label_fidelity"
    return view(kind=kind, state="finished", step=number_of_steps, total_steps=number_of_steps, model_path=model,
                exported_metrics={metric: 0.8, **({"frechet_ratio": 2.5} if kind == "gan" else {})},
                epoch_log=[(1, 18, 5.0, {metric: 0.6}), (2, 37, 10.0, {metric: 0.8})], request=request)


def test_runs_side_by_side_table_overlay_choices_and_files(tmp_path):
    from tabs.train import my_runs as train_runs

    (tmp_path / "cnn.onnx").write_text("onnx")
    (tmp_path / "cnn.layers.onnx").write_text("onnx")
    (tmp_path / "run.json").write_text("{}")
    runs = train_runs.remember([], finished(folder=tmp_path))
    runs = train_runs.remember(runs, finished(arch="seed", activation="sigmoid", train_digits=100, augment=False))
    runs = train_runs.remember(runs, finished(kind="gan", arch="seed", loss="bce"))
    assert [r["number"] for r in runs] == [1, 2, 3] and runs[0]["curve"] == [(1, 0.6), (2, 0.8)]
    table = train_runs.table(runs, "en")
    # Only the knobs set to other than the architecture's own are named (BCE is the primer's own)
    assert "| 3 | GAN · the primer's · epochs: 3 | label fidelity 80.0%, Frechet ratio 2.50 |" in table
    assert "| 2 | CNN · the primer's · Sigmoid · 100 digits · epochs: 3 | held-out accuracy 80.0% |" in table
    overlay = html.unescape(train_runs.compare_chart(runs, "cnn", "en"))  # the CNN runs only, each point marked
    assert overlay.count('class="mark-line"') == 2 and overlay.count("<circle") == 4
    assert "1: CNN · Digit Lab's" in overlay and "2: CNN · the primer's" in overlay
    assert "讲义的" in train_runs.table(runs, "zh-CN")
    assert [value for _, value in train_runs.choices(runs, "en")] == [r["id"] for r in reversed(runs)]
    files = train_runs.downloads(runs[0])
    assert [Path(f).name for f in files] == ["cnn.onnx", "cnn.layers.onnx", "run.json"]
    note = train_runs.note(runs, runs[0]["model_path"], None, "en")
    assert note == "This session's CNN: yours, run 1 (cnn.onnx). GAN: the shipped one." and str(tmp_path) not in note
    assert len(train_runs.remember(runs * 4, finished())) == train_runs.KEEP >= 5


# -- the knobs ---------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def controls():
    import gradio as gr

    from tabs.train import knobs as train_knobs

    with gr.Blocks():
        return train_knobs.build(TrainSettings(max_epochs=5, batch_max=128))


def test_every_setting_the_tab_offers_has_a_control_worded_by_its_keys(controls):
    import inspect

    import locales
    from training import knob_list

    offered = {knob.name for knob in knob_list.KNOBS if knob.tab}
    assert offered <= set(controls) and set(controls) - offered == {"kind", "use_corrections"}
    for name in offered:
        label = controls[name].label
        assert getattr(label, "key", label) == knob_list.BY_NAME[name].words, name
        assert knob_list.BY_NAME[name].words in locales.STRINGS["zh-CN"]
    assert offered <= set(inspect.signature(tab.train_run).parameters)  # /train's parameters


def test_the_controls_start_at_words_not_numbers(controls):
    starts = {name: controls[name].value for name in ("epochs", "batch_size", "lr", "dropout", "train_digits")}
    assert starts == {"epochs": "own", "batch_size": "own", "lr": "own", "dropout": "own", "train_digits": "all"}
    epochs = [value for _, value in controls["epochs"].choices]
    assert epochs == ["own", "1", "2", "3", "5"]  # the suggestions within this server's caps
    assert [value for _, value in controls["batch_size"].choices][-1] == "128"


def test_a_change_of_model_says_what_own_is_for_its_kind_and_architecture():
    from tabs.train import knobs as train_knobs

    def shown(kind, arch, lang="en"):
        view = dict(zip(train_knobs.VIEW, train_knobs.knob_view(kind, arch)))
        return {name: (view[name].get("value"), view[name]["choices"][0][0]) for name in ("epochs", "batch_size", "lr")}, view
    gan, view = shown("gan", "lab")
    assert gan == {"epochs": ("own", "the model's own (8)"), "batch_size": ("own", "the architecture's own (32)"),
                   "lr": ("own", "the architecture's own (0.0002)")}
    assert view["dropout"]["visible"] is False and view["d_steps"]["visible"] is True
    primer, _ = shown("gan", "seed")
    assert primer["batch_size"] == ("own", "the architecture's own (64)") and primer["epochs"][1] == "the model's own (8)"
    cnn, view = shown("cnn", "seed")
    assert cnn["lr"][1] == "the architecture's own (0.001)" and view["dropout"]["choices"][0] == ("the architecture's own (0.5)", "own")
    assert view["loss"]["value"] == "ce" and view["augment"]["value"] == "off"


def _as_the_browser_shows(label: str, lang: str) -> str:
    """Page text as gr.I18n shows it: the marker's key in `lang`, the text around it kept."""
    import json
    import re

    import locales

    return re.sub(r"__i18n__(\{[^}]*\})", lambda m: locales.STRINGS[lang][json.loads(m.group(1))["key"]], str(label))


@pytest.mark.parametrize("lang", ["en", "zh-CN"])
def test_the_first_render_says_what_own_is_for_the_model_selected_at_load(controls, lang):
    """Before any change of model the page already says the value of "own", as a change to the
    same model and architecture would."""
    from tabs.train import knobs as train_knobs

    assert (controls["kind"].value, controls["arch"].value) == ("cnn", "lab")
    view = dict(zip(train_knobs.VIEW, train_knobs.knob_view("cnn", "lab", _Request(lang))))
    for name in ("epochs", "batch_size", "lr", "dropout"):
        label, value = controls[name].choices[0]
        assert value == "own" and _as_the_browser_shows(label, lang) == view[name]["choices"][0][0], name
    if lang == "en":
        assert _as_the_browser_shows(controls["lr"].choices[0][0], lang) == "the architecture's own (0.01)"
        assert _as_the_browser_shows(controls["epochs"].choices[0][0], lang) == "the model's own (3)"
    else:
        assert _as_the_browser_shows(controls["dropout"].choices[0][0], lang) == "该架构自己的值 (0.2)"


class _Request:
    """What locales.language reads from a request: its Accept-Language."""

    def __init__(self, lang: str):
        self.headers = {"accept-language": lang}
