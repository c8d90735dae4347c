"""The page's state as a link (classroom/link.py), without a server: each tab's state goes into a
query and comes back the same; a link that is stale, hostile or broken opens the page at the
defaults with a note in words, never an error."""
import subprocess
import sys
from pathlib import Path

import pytest

import locales
from classroom import link
from tabs import generate
from tabs.draw import canvas
from tabs.train import tab as train
from training import knobs, settings

ROOT = Path(__file__).resolve().parent.parent
CAPS = settings.TrainSettings()


def parse(query):
    return link.parse(query, CAPS)


def test_the_issues_examples_read_as_written():
    state, notes = parse("?tab=generate&digit=3&seed=7&slant=1.5")
    assert notes == [] and (state["tab"], state["digit"], state["seed"], state["slant"]) == ("generate", 3, 7, 1.5)
    state, notes = parse("?tab=train&kind=cnn&activation=sigmoid&digits=500")
    assert notes == [] and (state["kind"], state["activation"], state["digits"]) == ("cnn", "sigmoid", 500)


def test_an_empty_link_is_every_default_and_the_tabs_own():
    state, notes = parse("")
    assert notes == [] and state["tab"] == "draw"
    assert (state["pen"], state["cnn"]) == (canvas.PEN, "lab")
    assert (state["digit"], state["seed"], state["truncation"]) == (generate.DEFAULT_DIGIT, generate.DEFAULT_SEED, 1.0)
    own = knobs.defaults("cnn", "lab")
    assert (state["kind"], state["arch"], state["activation"], state["loss"], state["dropout"]) == ("cnn", "lab", "relu", "ce", own["dropout"])
    assert (state["epochs"], state["batch"], state["augment"], state["corrections"]) == (settings.DEFAULT_EPOCHS["cnn"], own["batch_size"], "on", True)
    assert link.link(state, caps=CAPS) == "tab=draw"


def test_a_knobs_default_is_its_architectures_own():
    state, _ = parse("tab=train&kind=gan&arch=seed")
    own = knobs.defaults("gan", "seed")
    assert (state["loss"], state["batch"], state["augment"], state["epochs"]) == (own["loss"], own["batch_size"], "off", settings.DEFAULT_EPOCHS["gan"])
    assert link.link(state, "train", CAPS) == "tab=train&kind=gan&arch=seed"


@pytest.mark.parametrize("tab, state", [
    ("draw", {"tab": "draw", "pen": canvas.PENS[2], "cnn": "seed"}),
    ("generate", {"tab": "generate", "digit": 0, "seed": 123456789, "truncation": 0.55, "slant": -2.5, "thickness": 3.0, "style4": 0.1}),
    ("train", {"tab": "train", "kind": "cnn", "arch": "seed", "activation": "tanh", "loss": "mse", "dropout": 0.0, "digits": 100,
               "augment": "on", "gan_digits": 1500, "epochs": 7, "corrections": False, "dataset": "fashion-mnist", "lr": 0.002,
               "batch": 16, "train_seed": 99}),
    ("train", {"tab": "train", "kind": "gan", "activation": "sigmoid", "loss": "bce", "augment": "off", "d_steps": 5, "epochs": 2}),
])
def test_each_tabs_state_comes_back_from_its_link(tab, state):
    query = link.link(state, tab, CAPS)
    back, notes = parse(query)
    assert notes == []
    assert {k: back[k] for k in state} == state, query


def test_the_page_controls_values_are_written_as_words():
    """As a page hands them: a float seed, the pen's width, a checkbox's bool, the knob left unset."""
    query = link.link({"tab": "train", "kind": "cnn", "digits": 500, "corrections": False, "dropout": "own", "activation": None,
                       "d_steps": 4}, "train", CAPS)
    assert query == "tab=train&kind=cnn&digits=500&corrections=off"
    assert link.link({"tab": "generate", "seed": 7.0, "digit": 3}, "generate", CAPS) == "tab=generate&digit=3&seed=7"
    assert link.link({"tab": "draw", "pen": canvas.PENS[0]}, "draw", CAPS) == "tab=draw&pen=thin"


def test_a_tabs_link_carries_only_that_tab():
    state = {"tab": "generate", "digit": 2, "pen": canvas.PENS[0], "activation": "sigmoid"}
    assert link.link(state, "generate", CAPS) == "tab=generate&digit=2"
    assert link.link(state, caps=CAPS) == "tab=generate&pen=thin&digit=2&kind=cnn&activation=sigmoid"


@pytest.mark.parametrize("query, key, words", [
    ("tab=generate&digit=12", "digit", "digit=12 is not a whole number from 0 to 9"),
    ("tab=generate&digit=3.5", "digit", "digit=3.5 is not a whole number"),
    ("tab=generate&seed=-1", "seed", "seed=-1 is not a whole number"),
    ("tab=generate&slant=nan", "slant", "slant=nan is not a number from -3 to 3"),
    ("tab=generate&slant=inf", "slant", "slant=inf"),
    ("tab=generate&truncation=9", "truncation", "truncation=9 is not a number from 0 to 1.5"),
    ("tab=train&epochs=1000", "epochs", "epochs=1000 is not a whole number from 1 to 30"),
    ("tab=train&gan_digits=700", "gan_digits", "gan_digits=700 is not a multiple of 500"),
    ("tab=train&lr=0.9", "lr", "lr=0.9 is not 0 (the model's own) or a number from 1e-05 to 0.05"),
    ("tab=train&activation=swish", "activation", "activation=swish is not one of relu, sigmoid, tanh"),
    ("tab=train&kind=gan&loss=mse", "loss", "loss=mse is not one of hinge, bce"),
    ("tab=train&kind=gan&dropout=0.3", "dropout", "dropout is not a setting of the GAN"),
    ("tab=settings", "tab", "tab=settings is not one of draw, generate, train, class"),
    ("class=HELLO", "class", "class=HELLO is not a class code"),
])
def test_a_bad_value_is_its_default_with_a_note_saying_which(query, key, words):
    state, notes = parse(query)
    defaults, _ = parse("tab=train&kind=gan" if "kind=gan" in query else "")
    assert state[key] == defaults[key]
    assert len(notes) == 1 and words in link.say_notes(notes), link.say_notes(notes)


def test_unknown_repeated_and_hostile_keys_are_noted_not_raised():
    state, notes = parse("tab=generate&digit=4&digit=5&<script>=1&colour=red")
    assert state["digit"] == 4
    said = link.say_notes(notes)
    assert "digit is given more than once" in said and "“<script>” is not something" in said and "colour" in said
    assert "\n" not in said


@pytest.mark.parametrize("query", [
    "tab=" + "x" * 5000, "&&&===&&", "%zz%%=%", "tab=%ff%fe", "?" * 50, "#tab=train", "a" + "&a=1" * 500,
    "tab=generate&seed=1e400", "tab=generate&seed=99999999999999999999999", "digit=\x00",
])
def test_a_malformed_link_opens_the_page(query):
    state, notes = parse(query)
    assert state["tab"] in link.TABS and isinstance(link.say_notes(notes), str)
    assert state["seed"] == generate.DEFAULT_SEED


def test_mappings_read_as_query_strings():
    """gr.Request.query_params is Starlette's QueryParams: repeated keys arrive as a multi-dict."""
    from starlette.datastructures import QueryParams

    state, notes = parse(QueryParams("tab=train&kind=gan&d_steps=3&d_steps=4"))
    assert (state["kind"], state["d_steps"]) == ("gan", 3) and len(notes) == 1
    assert parse({"tab": "generate", "digit": 2})[0]["digit"] == 2
    assert parse(42)[1][0].key == "link.note.malformed"


def test_a_lesson_fixes_hides_and_carries_a_task():
    state, notes = parse("tab=train&activation=sigmoid&fix=activation,digits&hide=arch,epochs,bogus&task=sigmoid")
    assert state["fix"] == ("activation", "digits") and state["hide"] == ("arch", "epochs")
    assert len(notes) == 1 and "“bogus” in hide= is not a control" in link.say_notes(notes)
    assert link.task_words(state["task"], "en") == locales.text("lesson.task.sigmoid", "en")
    assert link.task_words(state["task"], "zh-CN") == locales.text("lesson.task.sigmoid", "zh-CN")
    again = link.link(state, "train", CAPS)
    assert parse(again)[0]["fix"] == ("activation", "digits") and "hide=arch,epochs" in again


def test_a_teachers_own_task_is_one_line_as_written_and_bounded():
    state, notes = parse("task=" + "Compare%20%3Cb%3Ethe%3C%2Fb%3E%0Atwo%20runs")
    assert notes == [] and state["task"] == "Compare <b>the</b> two runs"
    assert link.task_words(state["task"], "zh-CN") == "Compare <b>the</b> two runs"  # shown escaped, by the page
    state, notes = parse("task=" + "a" * 400)
    assert len(state["task"]) == link.MAX_TASK and "was cut" in link.say_notes(notes)


def test_a_class_code_is_read_in_any_case_and_never_a_teacher_key():
    state, notes = parse("tab=class&class=ab-cd-ef")
    assert notes == [] and state["class"] == "ABCDEF"
    assert "key" not in link.KEYS and link.link({"tab": "class", "class": "abcdef", "key": "secret"}, "class", CAPS) == "tab=class&class=ABCDEF"


def test_slider_keys_name_what_a_direction_does():
    assert [link.slider_key(m, n) for m, n in (("slant", None), ("ink", None), ("x", 2), (None, 3))] == ["slant", "thickness", "shift_x2", "style3"]
    assert set(link.SLIDER_KEYS) <= set(link.KEYS) and len(set(link.SLIDER_KEYS)) == len(link.SLIDER_KEYS)


def test_the_train_tabs_choices_are_the_links():
    """The link declares the Train tab's radio of training digits and each knob it names."""
    assert {value for _, value in link.KEYS["digits"].choices} == {"all", 100, 500}
    for kind, names in knobs.VISITOR_KNOBS.items():
        controls = {key.control for key in link.keys_of("train")}
        assert set(names) <= controls | {"train_digits"}, kind
    assert train.CAPS.max_epochs >= 1  # the tab reads the caps the link bounds epochs by


def test_the_train_keys_are_the_knob_lists_settings_with_its_bounds():
    """classroom/link.py keeps no list of its own: each setting the Train tab offers is a key, with
    the bounds, choices and defaults training/knob_list.py declares (a server's caps where it names
    them; the Train tab's radio or slider where it offers less), so a new knob needs no edit there."""
    from training import knob_list

    controls = [key.control for key in link.keys_of("train")]
    assert [c for c in controls if c not in ("kind", "use_corrections")] == [k.name for k in knob_list.KNOBS if k.tab]
    dropout, d_steps, seed = (knob_list.BY_NAME[name] for name in ("dropout", "d_steps", "seed"))
    assert (link.KEYS["dropout"].low, link.KEYS["dropout"].high, link.KEYS["dropout"].only) == (dropout.low, dropout.high, "cnn")
    assert (link.KEYS["d_steps"].low, link.KEYS["d_steps"].high) == (d_steps.low, d_steps.high)
    assert link.KEYS["train_seed"].high == seed.high and link.KEYS["loss"].type == "choice"
    assert (link.KEYS["gan_digits"].high, link.KEYS["gan_digits"].step) == knob_list.BY_NAME["gan_digits"].tab_range[1:]
    tight = settings.TrainSettings(max_epochs=4, batch_min=16, batch_max=32)
    state, notes = link.parse("tab=train&epochs=5&batch=8", tight)
    assert (state["epochs"], state["batch"]) == (settings.DEFAULT_EPOCHS["cnn"], 64) and len(notes) == 2
    new = link._train_key(knob_list.Knob("ratio", int, {"gan": {"lab": 3, "seed": 2}}, kinds=("gan",), low=1, high=9, tab=("gan",)))
    assert (new.name, new.control, new.type, new.low, new.high, new.only) == ("ratio", "ratio", "whole", 1, 9, "gan")
    assert new.default({"kind": "gan", "arch": "seed"}, CAPS) == 2 and new.default({"kind": "cnn", "arch": "lab"}, CAPS) is None


def test_every_note_and_expectation_has_words_in_every_language():
    keys = [k for k in locales.STRINGS["en"] if k.startswith(("link.", "lesson."))]
    assert {"link.notes", "link.note.bad", "link.copy", "lesson.panel"} <= set(keys)
    for lang in locales.LANGUAGES:
        assert all(k in locales.STRINGS[lang] for k in keys), lang


def test_the_link_module_needs_no_torch():
    code = "import sys, classroom.link as l; l.parse('tab=train&activation=sigmoid'); print('torch' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.stdout.strip() == "False", done.stderr
