"""The GAN's game turn by turn, in the Train tab: the D:G ratio knob for a whole run, and for a GAN
run going, Pause, Resume and "train D / G / both for k steps", with the two sides' scores and
losses before and after, and the fixed-latent grid with each sample's push (-dL_G/dx, where the
generator's next update moves its pixels) drawn over it (tabs/train/game_plots.py).

The run's thread does the waiting (runs/jobs.py, training/turns.py): these handlers only ask.
/pause_training, /resume_training and /step_training (side "d", "g" or "both", and steps) are the
same for API clients; the last output of /step_training is a JSON. On ZeroGPU the run trains in a
lent GPU's own process, which must not wait for a click: there stepping is refused in words, and
the panel says so. Every word comes from locales/ (`train.turns.*`).
"""
import gradio as gr

import locales
from locales import text, ui
from tabs.train import game_plots
from training import knob_list, turns
from runs import executor
from runs import control as game_control
from runs import jobs


def ratio_knob() -> gr.Number:
    """The D:G ratio: discriminator steps a generator step, for the whole run (GAN only)."""
    knob = knob_list.BY_NAME["d_steps"]
    return gr.Number(knob.own("gan"), label=ui(knob.words), info=ui("train.d_steps.info"), minimum=knob.low, maximum=knob.high,
                     step=1, precision=0, visible=False, elem_id="train-d-steps")


def _number(value) -> str:
    return "–" if value is None else f"{value:.3g}"


def pushes(view: jobs.RunView, lang: str) -> str:
    """The grid with each sample's push, with its text alternative and caption; "" before there is one."""
    if view.samples is None or view.sample_gradients is None:
        return ""
    found = game_plots.push_summary(view.sample_gradients)
    separator = text("train.list_separator", lang)
    rows = separator.join(f"{i}: {share:.0%}" for i, share in enumerate(found["adds_ink_by_row"]))
    strongest = separator.join(str(index) for index, _ in found["strongest"])
    alt = text("train.turns.push.alt", lang, count=len(view.samples), strongest=strongest, rows=rows)
    return game_plots.figure(view.samples, view.sample_gradients, alt, text("train.turns.push.caption", lang))


def streamed(view: jobs.RunView, first: bool, shown_samples: int, lang: str):
    """The /train stream's update of the pushes: new ones only with new samples (gr.skip otherwise)."""
    if view.kind != "gan":
        return "" if first else gr.skip()
    if first or view.samples_version != shown_samples:
        return pushes(view, lang)
    return gr.skip()


def step_words(said, summary: dict, lang: str) -> str:
    """The step's reply: what was trained, the scores and losses before -> after, how far each side moved."""
    lines = [f"**{said.say(lang)}**"]
    before, after = summary.get("before") or {}, summary.get("after") or {}
    if after:
        lines.append(text("train.turns.scores", lang, **{f"{key}_{when}": _number(losses.get(key))
                                                         for key in ("d_real", "d_fake", "d_loss", "g_loss")
                                                         for when, losses in (("before", before), ("after", after))}))
    if summary.get("steps"):
        moved = summary["moved"]
        lines.append(text("train.turns.moved", lang, d=_number(moved["discriminator"]), g=_number(moved["generator"])))
    return "\n\n".join(lines)


def pause_training(request: gr.Request = None) -> str:
    return game_control.pause(jobs.owner(request)).say(locales.language(request))


def resume_training(request: gr.Request = None) -> str:
    return game_control.resume(jobs.owner(request)).say(locales.language(request))


def step_training(side, steps, request: gr.Request = None):
    """/step_training: (words, the grid with its pushes, JSON: side, asked, steps taken, step, the
    losses and scores before and after, how far each network's weights moved)."""
    lang, owner = locales.language(request), jobs.owner(request)
    said, summary = game_control.step(owner, side, steps)
    run = jobs.run_of(owner)
    picture = pushes(run.view(), lang) if run is not None and summary.get("steps") else gr.skip()
    return step_words(said, summary, lang), picture, summary or {"message": said.say(lang)}


def build():
    """The panel under the GAN's charts; returns (the panel, the pushes HTML the /train stream updates)."""
    stepping = executor.steppable()
    with gr.Accordion(ui("train.turns.heading"), open=True, visible=False, elem_id="train-game") as panel:
        gr.Markdown(ui("train.turns.intro") if stepping else ui("train.turns.zerogpu"))
        with gr.Row(visible=stepping):
            pause = gr.Button(ui("train.turns.pause"), size="sm", elem_id="train-pause")
            resume = gr.Button(ui("train.turns.resume"), size="sm", elem_id="train-resume")
        with gr.Row(visible=stepping, equal_height=True):
            side = gr.Radio([(ui(f"train.turns.side.{s}"), s) for s in turns.SIDES], value="d",
                            label=ui("train.turns.side"), elem_id="train-step-side", scale=3)
            count = gr.Number(1, label=ui("train.turns.steps"), minimum=1, maximum=turns.MAX_ASKED, step=1, precision=0,
                              elem_id="train-step-count", scale=1, min_width=100)
            go = gr.Button(ui("train.turns.step"), variant="primary", elem_id="train-step", scale=1, min_width=100)
        said = gr.Markdown("", elem_id="train-game-words")
        picture = gr.HTML("", elem_id="train-game-push-plot")
        result = gr.JSON(visible=False)
    quick = dict(show_progress="hidden", concurrency_limit=None)  # each visitor asks of their own run
    pause.click(pause_training, None, said, api_name="pause_training", **quick)
    resume.click(resume_training, None, said, api_name="resume_training", **quick)
    go.click(step_training, [side, count], [said, picture, result], api_name="step_training", **quick)
    return panel, picture
