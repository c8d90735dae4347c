"""The page's state in its link (the keys: classroom/link.py): restored through the tabs' own
controls when the page opens, a "Copy link" button on each tab, and a lesson's fixed and hidden
controls and its task at the top of the page. A tab registers its controls (`register`) as it
builds; app.py places the task (`top`) and the buttons (`copy_button`), then calls `wire`.

The link lives in the page's URL, never on the server: a lesson link handed out at the start of a
term still opens the same exercise after the Space has restarted many times."""
import html
import inspect
import re
from urllib.parse import parse_qsl

import gradio as gr

import locales
from classroom import link
from inference import generator as gen
from inference.sessions import ModelUnavailable
from locales import ui
from training.knob_list import BY_NAME

CONTROLS: dict[str, dict] = {}  # tab -> the control's name (classroom.link.Key.control) -> component
PARTS: dict = {}  # what wire() needs besides: the top's Markdown and State, each tab's button and box
# The link is copied in the page: the server only writes the query, which the page puts after its
# own address (the one the visitor sees, a Space's own domain included) and in the address bar.
COPY = """(query) => {
  const url = location.origin + location.pathname + (query ? '?' + query : '');
  history.replaceState(null, '', url);
  navigator.clipboard?.writeText(url).catch(() => {});
  return url;
}"""


def plain(words: str) -> str:
    """A visitor's text inside Markdown, shown as written: no HTML, no link, no emphasis."""
    return re.sub(r"([\\`*_{}\[\]()#+\-.!|~>])", r"\\\1", html.escape(words))


def register(tab: str, **controls) -> None:
    """A tab's controls, by the names classroom/link.py gives them (`sliders`: the Generate tab's
    slots, in order; `show`, `previews`: its events' arguments, to render what a link set)."""
    CONTROLS.setdefault(tab, {}).update(controls)


def top() -> None:
    """The line under the title: the lesson's task, and what a link could not set."""
    PARTS["task"] = gr.Markdown(visible=False, elem_id="lesson-task")
    PARTS["notes"] = gr.Markdown(visible=False, elem_id="link-notes")
    # The lesson a link set: fixed and hidden keys, the task, the Train values the knobs' own
    # defaults must not overwrite (see after_knobs), and whether they are still to be applied.
    PARTS["lesson"] = gr.State({})
    # This browser's place in a class ({"code", "nickname", "token"}, tabs/board.py), out here
    # because a component in a tab not yet opened is not in the page, and is not read at load.
    # The secret is fixed so that a restarted server still reads it (the board outlives restarts).
    PARTS["class_kept"] = gr.BrowserState(None, storage_key="digit-lab-class", secret="digit-lab-class-v1")
    # Soon after the page opens, whichever tab it opens on, the student it keeps is this page again
    # (a timer in a tab not yet opened would not tick).
    PARTS["class_resume"] = gr.Timer(1.5)


def copy_button(tab: str) -> None:
    with gr.Row():
        PARTS[f"copy:{tab}"] = gr.Button(ui("link.copy"), size="sm", scale=0, min_width=140, elem_id=f"link-copy-{tab}")
        PARTS[f"box:{tab}"] = gr.Textbox(show_label=False, interactive=False, visible=False, scale=4, elem_id=f"link-{tab}",
                                         buttons=["copy"])


# -- what the controls hold, as the link's state -------------------------------------------------
def _slider_keys(gan_path) -> list[str]:
    """The link's key of each of this visitor's generator's slider slots, in order."""
    try:
        return [link.slider_key(d.measure, d.number) for d in gen.load(gan_path).directions]
    except ModelUnavailable:
        return []


def _inputs(tab: str) -> list:
    """The components whose values make up `tab`'s state, in a fixed order."""
    controls = CONTROLS.get(tab, {})
    named = [controls[key.control] for key in link.keys_of(tab) if key.control in controls]
    return named + list(controls.get("sliders", ())) + ([controls["gan_path"]] if "gan_path" in controls else [])


def _state(tab: str, values: list) -> dict:
    controls = CONTROLS.get(tab, {})
    keys = [key for key in link.keys_of(tab) if key.control in controls]
    state = {key.name: value for key, value in zip(keys, values)}
    if tab == "generate":
        sliders = values[len(keys):len(keys) + len(controls.get("sliders", ()))]
        state.update(zip(_slider_keys(values[-1]), sliders))
    return state


def query(tab: str, lesson: dict, values: list, lesson_too: bool = True) -> str:
    state = {**_state(tab, values), "tab": tab}
    if lesson_too and lesson:
        state.update({k: lesson.get(k) for k in ("fix", "hide", "task")})
    return link.link(state, tab)


# -- opening a link ----------------------------------------------------------------------------
def _given(state: dict) -> set[str]:
    """The keys whose values the page must set: those that differ from their defaults."""
    return {name for name, _ in parse_qsl(link.link(state))}


def _update(key: link.Key, state: dict, given: set, lesson: dict, values: bool = True):
    changes = {}
    if values and key.name in given | set(lesson.get("fix", ())):
        changes["value"] = state[key.name]
    if key.name in lesson.get("fix", ()):
        changes["interactive"] = False
    if key.name in lesson.get("hide", ()):
        changes["visible"] = False
    return gr.update(**changes) if changes else gr.skip()


def _outputs() -> list:
    parts = [PARTS["tabs"], PARTS["task"], PARTS["notes"], PARTS["lesson"]]
    for tab in link.TABS:
        controls = CONTROLS.get(tab, {})
        parts += [controls[key.control] for key in link.keys_of(tab) if key.control in controls]
        parts += list(controls.get("sliders", ()))
    return parts


def restore(gan_path, request: gr.Request):
    """On page load: the link's state into the tabs' controls, its lesson, and a note on what it
    could not set. A page opened with no query changes nothing."""
    query_params = getattr(request, "query_params", None)
    if not query_params:
        return [gr.skip()] * len(_outputs())
    lang = locales.language(request)
    state, notes = link.parse(query_params)
    given = _given(state)
    fixed = set(state["fix"])
    lesson = {"fix": list(state["fix"]), "hide": list(state["hide"]), "task": state["task"], "pending": True,
              "kind": state["kind"], "arch": state["arch"], "generate": any(k.tab == "generate" for k in map(link.KEYS.get, given)),
              "train": {key.control: state[key.name] for key in link.keys_of("train") if key.name in given | fixed}}
    updates = []
    for tab in link.TABS:
        controls = CONTROLS.get(tab, {})
        updates += [_update(key, state, given, lesson) for key in link.keys_of(tab) if key.control in controls]
        if "sliders" in controls:
            slots = _slider_keys(gan_path)
            notes += [link.note("note.no_slider", name=name) for name in sorted(given & set(link.SLIDER_KEYS) - set(slots))]
            updates += [_update(link.KEYS[slots[k]], state, given, lesson) if k < len(slots) else gr.skip()
                        for k in range(len(controls["sliders"]))]
    task = link.task_words(state["task"], lang)
    said = link.say_notes(notes, lang)
    return [gr.Tabs(selected=state["tab"]),
            gr.Markdown(locales.text("lesson.heading", lang, task=plain(task)), visible=True) if task else gr.skip(),
            gr.Markdown(plain(said), visible=True) if said else gr.skip(),
            lesson, *updates]


def after_knobs_outputs() -> list:
    controls = CONTROLS.get("train", {})
    return [PARTS["lesson"]] + [controls[key.control] for key in link.keys_of("train") if key.control in controls]


def after_knobs(lesson: dict, kind, arch):
    """After the Train tab has set a model's own knob values (a change of model or architecture):
    the lesson's hidden controls hidden again, and its values set again for the model it is about
    (the change the link made itself set them back to the model's own): its fixed values always,
    the others the first time only."""
    controls = CONTROLS.get("train", {})
    keys = [key for key in link.keys_of("train") if key.control in controls]
    if not lesson:
        return [gr.skip()] * (len(keys) + 1)
    values = lesson.get("train", {}) if (kind, arch) == (lesson.get("kind"), lesson.get("arch")) else {}
    updates = []
    for key in keys:
        changes = {}
        if key.control in values and key.name not in ("kind", "arch") and (lesson.get("pending") or key.name in lesson.get("fix", ())):
            changes["value"] = values[key.control]
        if key.name in lesson.get("hide", ()):
            changes["visible"] = False
        updates.append(gr.update(**changes) if changes else gr.skip())
    return [{**lesson, "pending": lesson.get("pending") and not values}, *updates]


def after_knobs_event() -> dict:
    """The Train tab's `.then(**...)` after its knob defaults."""
    return dict(fn=after_knobs, inputs=[PARTS["lesson"], CONTROLS["train"]["kind"], CONTROLS["train"]["arch"]],
                outputs=after_knobs_outputs(), api_visibility="private", show_progress="hidden", queue=False)


def _rendered_if_linked(event: dict):
    """Generate's show (or previews), run after a restore only when the link set something of it."""
    fn = event["fn"]
    wants_request = next(iter(inspect.signature(fn).parameters)) == "request"

    def render(lesson, *inputs, request: gr.Request = None):
        if not (lesson or {}).get("generate"):
            return [gr.skip()] * len(event["outputs"])
        return fn(request, *inputs) if wants_request else fn(*inputs)
    return render


def wire(tabs: gr.Tabs, gan_path: gr.State) -> None:
    """The restore at page load and each tab's Copy link."""
    PARTS["tabs"] = tabs
    quiet = dict(api_visibility="private", show_progress="hidden", queue=False)
    restored = gr.on(None, restore, [gan_path], _outputs(), **quiet)
    generate = CONTROLS.get("generate", {})
    if "show" in generate:  # sliders set by a link bring the server's image and verdicts, as a release does
        for event in (generate["show"], generate["previews"]):
            restored = restored.then(_rendered_if_linked(event), [PARTS["lesson"], *event["inputs"]], event["outputs"],
                                     preprocess=False, **quiet)
    for tab in link.TABS:
        if f"copy:{tab}" not in PARTS:
            continue
        box = PARTS[f"box:{tab}"]
        PARTS[f"copy:{tab}"].click(lambda lesson, *values, _tab=tab: gr.Textbox(query(_tab, lesson, list(values)), visible=True),
                                   [PARTS["lesson"], *_inputs(tab)], box, **quiet).then(None, box, box, js=COPY)
    wire_lesson()


# -- a teacher's lesson link ---------------------------------------------------------------------
TASKS = ("sigmoid", "digits", "dropout", "ratio", "slant")  # worded in locales/ (lesson.task.<id>)
# Each Train key's words: a knob's own (training/knob_list.py), or those of the tab's controls that are not knobs.
NOT_KNOBS = {"kind": "train.kind", "corrections": "train.corrections"}
LABELS = {key.name: BY_NAME[key.control].words if key.control in BY_NAME else NOT_KNOBS[key.name] for key in link.keys_of("train")}


def lesson_panel() -> None:
    """"Make a lesson link", closed: the Train tab's knobs as they are set now, what to fix and
    hide, and a task."""
    choices = [(ui(LABELS[key.name]), key.name) for key in link.keys_of("train")]
    with gr.Accordion(ui("lesson.panel"), open=False, elem_id="lesson-panel"):
        gr.Markdown(ui("lesson.intro"))
        fix = gr.CheckboxGroup(choices, label=ui("lesson.fix"), elem_id="lesson-fix")
        hide = gr.CheckboxGroup(choices, label=ui("lesson.hide"), elem_id="lesson-hide")
        task = gr.Dropdown([(ui("lesson.task.none"), ""), *[(ui(f"lesson.task.{t}"), t) for t in TASKS], (ui("lesson.task.own"), "own")],
                           value="", label=ui("lesson.task"), info=ui("lesson.task.info"), elem_id="lesson-task-choice")
        own = gr.Textbox(label=ui("lesson.task.own"), max_length=link.MAX_TASK, elem_id="lesson-own-task")
        make = gr.Button(ui("lesson.copy"), elem_id="lesson-copy")
        box = gr.Textbox(show_label=False, interactive=False, visible=False, elem_id="lesson-link", buttons=["copy"])
    PARTS["lesson_panel"] = (fix, hide, task, own, make, box)


def lesson_query(fix, hide, task, own, *values) -> str:
    state = {**_state("train", list(values)), "tab": "train", "fix": tuple(fix or ()), "hide": tuple(hide or ()),
             "task": own if task == "own" else task}
    return link.link(state, "train")


def wire_lesson() -> None:
    if "lesson_panel" not in PARTS:
        return
    fix, hide, task, own, make, box = PARTS["lesson_panel"]
    make.click(lambda *values: gr.Textbox(lesson_query(*values), visible=True), [fix, hide, task, own, *_inputs("train")], box,
               api_visibility="private", show_progress="hidden", queue=False).then(None, box, box, js=COPY)
