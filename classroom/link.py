"""The page's state as a URL query, declared once: the tab, and for each tab's controls the key that
names it in a link, its type, its bounds and its default.

    ?tab=generate&digit=3&seed=7&slant=1.5
    ?tab=train&kind=cnn&activation=sigmoid&digits=500&fix=activation,digits&hide=arch&task=sigmoid

`parse(query)` never raises: a key it does not know, a value out of range or of the wrong type, or a
query it cannot read leaves that value at its default and adds a note (`LinkNote`, a locales key
`link.note.*` with its values), so a link handed out at the start of a term still opens the page.
`link(state)` writes the query back, leaving out what is at its default, so links stay short.

A lesson link also fixes controls (`fix=`: shown, not changeable), hides them (`hide=`) and carries a
task (`task=`): the id of a task the locales word (`lesson.task.<id>`, in the visitor's language), or
a teacher's own sentence, shown as written. `class=` is a class code (classroom/board.py) that a
student's link may carry; a teacher's key never goes into a link's query.

The Train tab's keys are made from training/knob_list.py (each setting the tab offers, with its
declared bounds, choices and defaults), so a new knob needs no edit here.

The Generate tab's sliders are the visitor's generator's principal directions, so their keys name
what a direction does (`slant`, `thickness`, `style3`): `slider_key` says which key a direction
answers to, and the tab maps the keys onto its slots for the generator it serves.
"""
import functools
import math
import re
from dataclasses import dataclass
from urllib.parse import parse_qsl, quote, urlencode

import locales
from classroom.board import CODE_LENGTH, clean_code
from inference.generator import DEFAULT_TRUNCATION, MAX_SLIDERS, MEASURES, SLIDER_LIMIT, TRUNCATION_RANGE
from training import knob_list, knobs, settings

TABS = ("draw", "generate", "train", "class")
PAGE = ""  # the tab of the keys that are the page's own (tab, fix, hide, task)
MAX_QUERY = 2000  # characters; browsers and servers keep far longer, but no state of ours needs more
MAX_FIELDS = 100
MAX_TASK = 280  # a task is a line at the top of the page, not a worksheet
MAX_SEED = 2**53 - 1  # the page's number boxes hold JavaScript numbers, exact up to here
NOTES_SHOWN = 4
# Slider keys are the English words a visitor sees on the slider, where the measure's own code
# would read as nothing (`x=1`).
SLIDER_WORDS = {"ink": "thickness", "x": "shift_x", "y": "shift_y"}
ON_OFF = (("on", True), ("off", False))
TRUE_WORDS = {"on": "on", "true": "on", "yes": "on", "1": "on", "off": "off", "false": "off", "no": "off", "0": "off"}


@dataclass(frozen=True)
class LinkNote:
    """A note about a link, in words: `key` in locales/ and its values. A value that is itself a
    LinkNote (what a key expects) is worded in the same language."""

    key: str
    values: tuple = ()

    def say(self, lang: str | None = locales.DEFAULT) -> str:
        return locales.text(self.key, lang, **{k: v.say(lang) if isinstance(v, LinkNote) else v for k, v in self.values})

    def __str__(self) -> str:
        return self.say()


def note(which: str, **values) -> LinkNote:
    return LinkNote(f"link.{which}", tuple(values.items()))


def say_notes(notes: list, lang: str | None = locales.DEFAULT) -> str:
    """The notes as the one line the page shows, or "" when there are none."""
    if not notes:
        return ""
    said = [n.say(lang) for n in notes[:NOTES_SHOWN]]
    if len(notes) > NOTES_SHOWN:
        said.append(locales.text("link.note.more", lang, count=len(notes) - NOTES_SHOWN))
    return locales.text("link.notes", lang, notes=locales.text("link.note.separator", lang).join(said))


@dataclass(frozen=True)
class Key:
    """One thing a link can set. `default`, `low`, `high` and `choices` are values or functions of
    (the state read so far, the server's caps): a Train knob's default is its architecture's own."""

    name: str  # in the URL
    tab: str  # whose control it sets (PAGE: the page's own)
    control: str  # the control's name in its tab
    type: str  # whole, number, choice, keys, text, code
    default: object = None
    low: object = None
    high: object = None
    choices: object = ()  # (word in the URL, the control's value) pairs, or plain words
    step: int = 1  # a whole number must be a multiple of this
    zero: bool = False  # 0 is also accepted, below `low` (the model's own learning rate)
    only: str | None = None  # a knob of this kind of model only
    always: bool = False  # written in every link of its tab, even at its default


class _Refused(ValueError):
    def __init__(self, expected: LinkNote):
        super().__init__(expected.key)
        self.expected = expected


def _value(x, state: dict, caps):
    return x(state, caps) if callable(x) else x


def _pairs(choices) -> tuple:
    return tuple(c if isinstance(c, tuple) else (c, c) for c in choices)


def _same(a, b) -> bool:
    """Equal, where True is not 1 (a checkbox's True is not the training digits' 1)."""
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b
    return type(a) is type(b) and a == b or (isinstance(a, (int, float)) and isinstance(b, (int, float)) and a == b)


def _number_text(x) -> str:
    return str(int(x)) if float(x).is_integer() else f"{x:.6g}"


@functools.cache
def _page_defaults() -> dict:
    """What the tabs themselves declare (read lazily: they import Gradio, which the board's and
    the link's unit tests and the command line need not load)."""
    from tabs import generate
    from tabs.draw import canvas

    return {"pens": tuple(zip(("thin", "medium", "bold"), canvas.PENS)), "pen": canvas.PEN,
            "digit": generate.DEFAULT_DIGIT, "seed": generate.DEFAULT_SEED}


# -- the Train tab's keys, made from training/knob_list.py -------------------------------------------
# Every knob is keyed by its name, but for the three whose name would clash with another tab's key
# (the Generate tab's seed) or read long in a URL (knob_list.SHORT_NAMES).
ZERO_IS_OWN = ("lr",)  # 0 is also the model's own, below the bounds (as /train's older callers sent it)
MOST_WHOLE = 2**31 - 1  # a whole number's bound where the list declares none (as /train's)


def _control_value(knob: knob_list.Knob, value):
    """A knob's value as its Train tab control holds it: a word where the control holds words (a
    named value of a yes/no radio, or of a radio of a few values: augmentation's "on", the training
    digits' "all")."""
    if knob.named and (knob.type is bool or knob.offered):
        return next((word for word, named in knob.named if _same(named, value)), value)
    return value


def _own(knob: knob_list.Knob):
    """A Train knob's default: the kind's or its architecture's own, as the Train tab starts it
    (training/knob_list.py); None where the kind has none."""
    def default(state: dict, caps):
        try:
            return _control_value(knob, knob.own(state["kind"], state.get("arch", "lab"), served=True))
        except KeyError:
            return None
    return default


def _choices(knob: knob_list.Knob):
    if knob.offered:
        return tuple((str(word), word) for word in (_control_value(knob, value) for value in knob.offered))
    if knob.type is bool:
        return tuple(word for word, _ in knob.named) if knob.named else ON_OFF
    if isinstance(knob.choices, dict):
        every = tuple(dict.fromkeys(value for values in knob.choices.values() for value in values))
        return lambda state, caps: knob.choices_of(state.get("kind")) or every
    return knob.choices


def _bounds(knob: knob_list.Knob) -> tuple:
    """(low, high, step): the declared bounds (a server's caps where the knob names them), within the
    Train tab's slider where it offers less."""
    def bound(which: int, caps):
        declared = knob.bounds(caps)[which]
        if not knob.tab_range:
            return declared
        return (max, min)[which](x for x in (declared, knob.tab_range[which]) if x is not None)

    step = knob.tab_range[2] if knob.tab_range else knob.step or 1
    if any(knob.caps):
        return (lambda state, caps: bound(0, caps)), (lambda state, caps: bound(1, caps)), step
    return bound(0, None), bound(1, None), step


def _train_key(knob: knob_list.Knob) -> Key:
    """The link's key for a setting the Train tab offers: its type, default, bounds and choices as
    training/knob_list.py declares them."""
    name = knob_list.SHORT_NAMES.get(knob.name, knob.name)
    only = knob.tab[0] if len(knob.tab) == 1 else None
    if knob.type in (str, bool) or knob.offered:
        return Key(name, "train", knob.name, "choice", _own(knob), choices=_choices(knob), only=only)
    low, high, step = _bounds(knob)
    if knob.type is int:
        return Key(name, "train", knob.name, "whole", _own(knob), 0 if low is None else low,
                   MOST_WHOLE if high is None else high, step=int(step), only=only)
    zero = knob.name in ZERO_IS_OWN
    return Key(name, "train", knob.name, "number", 0.0 if zero else _own(knob), 0.0 if low is None else low,
               math.inf if high is None else high, zero=zero, only=only)


def _train_keys() -> list[Key]:
    """The model's kind, then each setting the Train tab offers, in the tab's order, with the tab's
    own checkbox (the visitor's corrections, under the epochs)."""
    keys = [Key("kind", "train", "kind", "choice", "cnn", choices=knob_list.KINDS, always=True)]
    for knob in knob_list.KNOBS:
        if knob.tab:
            keys.append(_train_key(knob))
        if knob.name == "epochs":
            keys.append(Key("corrections", "train", "use_corrections", "choice", True, choices=ON_OFF, only="cnn"))
    return keys


def slider_key(measure: str | None, number: int | None) -> str:
    """The key of a generator's direction: the measure it moves (`slant`, `slant2` for a second
    one), or `style3` for a mix of measures."""
    if measure is None:
        return f"style{number or 1}"
    return SLIDER_WORDS.get(measure, measure) + (str(number) if number and number > 1 else "")


SLIDER_KEYS = tuple(
    [slider_key(m, n) for m in MEASURES for n in range(1, MAX_SLIDERS + 1)] + [slider_key(None, n) for n in range(1, MAX_SLIDERS + 1)]
)


def _declare() -> dict[str, Key]:
    keys = [
        Key("tab", PAGE, "tabs", "choice", "draw", choices=TABS),
        Key("pen", "draw", "pen", "choice", lambda s, c: _page_defaults()["pen"], choices=lambda s, c: _page_defaults()["pens"]),
        Key("cnn", "draw", "which", "choice", "lab", choices=knobs.ARCHS),
        Key("digit", "generate", "digit", "whole", lambda s, c: _page_defaults()["digit"], 0, 9),
        Key("seed", "generate", "seed", "whole", lambda s, c: _page_defaults()["seed"], 0, MAX_SEED),
        Key("truncation", "generate", "truncation", "number", DEFAULT_TRUNCATION, *TRUNCATION_RANGE),
        *[Key(name, "generate", f"slider:{name}", "number", 0.0, -SLIDER_LIMIT, SLIDER_LIMIT) for name in SLIDER_KEYS],
        *_train_keys(),
        Key("fix", PAGE, "fix", "keys", ()),
        Key("hide", PAGE, "hide", "keys", ()),
        Key("task", PAGE, "task", "text", ""),
        Key("class", "class", "class", "code", ""),
    ]
    return {key.name: key for key in keys}


KEYS = _declare()
CONTROL_KEYS = tuple(name for name, key in KEYS.items() if key.tab != PAGE)  # what fix= and hide= may name


def keys_of(tab: str) -> tuple[Key, ...]:
    return tuple(key for key in KEYS.values() if key.tab == tab)


# -- reading a value ----------------------------------------------------------------------------
def _whole(key: Key, text: str, state: dict, caps) -> int:
    low, high = _value(key.low, state, caps), _value(key.high, state, caps)
    expected = note("expect.step", step=key.step, low=low, high=high) if key.step > 1 else note("expect.whole", low=low, high=high)
    try:
        number = float(text)
    except ValueError:
        raise _Refused(expected) from None
    if not math.isfinite(number) or not number.is_integer() or not low <= number <= high or (number - low) % key.step:
        raise _Refused(expected)
    return int(number)


def _number(key: Key, text: str, state: dict, caps) -> float:
    low, high = _value(key.low, state, caps), _value(key.high, state, caps)
    shown = dict(low=_number_text(low), high=_number_text(high))
    expected = note("expect.rate", **shown) if key.zero else note("expect.number", **shown)
    try:
        number = float(text)
    except ValueError:
        raise _Refused(expected) from None
    if not math.isfinite(number) or not (low <= number <= high or (key.zero and number == 0)):
        raise _Refused(expected)
    return number + 0.0  # -0.0 reads as 0


def _choice(key: Key, text: str, state: dict, caps):
    pairs = _pairs(_value(key.choices, state, caps))
    wanted = text.strip().lower()
    if pairs == _pairs(ON_OFF):
        wanted = TRUE_WORDS.get(wanted, wanted)
    for word, value in pairs:
        if wanted in (str(word).lower(), str(value).lower()):
            return value
    raise _Refused(note("expect.choice", choices=", ".join(str(word) for word, _ in pairs)))


def _names(key: Key, text: str, state: dict, caps, notes: list) -> tuple[str, ...]:
    kept = []
    for name in filter(None, (part.strip().lower() for part in text.split(","))):
        if name not in CONTROL_KEYS:
            notes.append(note("note.not_a_control", name=_shown(name), list=key.name))
        elif name not in kept:
            kept.append(name)
    return tuple(kept)


def _text(key: Key, text: str, notes: list) -> str:
    # One line: control characters (a newline in a task would break the line it is shown in) go.
    line = " ".join("".join(ch if ch.isprintable() else " " for ch in text).split())
    if len(line) > MAX_TASK:
        notes.append(note("note.task_cut", most=MAX_TASK))
        line = line[:MAX_TASK].rstrip()
    return line


def _read(key: Key, text: str, state: dict, caps, notes: list):
    if key.type == "whole":
        return _whole(key, text, state, caps)
    if key.type == "number":
        return _number(key, text, state, caps)
    if key.type == "choice":
        return _choice(key, text, state, caps)
    if key.type == "keys":
        return _names(key, text, state, caps, notes)
    if key.type == "code":
        code = clean_code(text)
        if code is None:
            raise _Refused(note("expect.code", length=CODE_LENGTH))
        return code
    return _text(key, text, notes)


def _shown(text: str, most: int = 24) -> str:
    """A visitor's text as a note quotes it: one line, cut short (escaped where it is shown)."""
    text = "".join(ch if ch.isprintable() else "?" for ch in str(text))
    return text if len(text) <= most else text[: most - 1] + "…"


# -- the query ----------------------------------------------------------------------------------
def _query_pairs(query, notes: list) -> list[tuple[str, str]]:
    """(key, value) text pairs from a query string (with or without its `?`, or a whole URL) or a
    mapping (a dict, Starlette's QueryParams); [] with a note when it cannot be read."""
    if query is None:
        return []
    if isinstance(query, str):
        text = query.split("#", 1)[0]
        text = text.split("?", 1)[1] if "?" in text else text
        if len(text) > MAX_QUERY:
            notes.append(note("note.too_long", length=len(text), most=MAX_QUERY))
            return []
        try:
            return parse_qsl(text, keep_blank_values=True, max_num_fields=MAX_FIELDS)
        except ValueError:
            notes.append(note("note.malformed"))
            return []
    try:
        items = list(query.multi_items()) if hasattr(query, "multi_items") else list(query.items())
    except (AttributeError, TypeError):
        notes.append(note("note.malformed"))
        return []
    pairs = [(str(k), str(v)) for k, values in items for v in (values if isinstance(values, (list, tuple)) else [values])]
    if len(pairs) > MAX_FIELDS or sum(len(k) + len(v) + 2 for k, v in pairs) > MAX_QUERY:
        notes.append(note("note.too_long", length=sum(len(k) + len(v) + 2 for k, v in pairs), most=MAX_QUERY))
        return []
    return pairs


def _state(pairs: list[tuple[str, str]], caps, notes: list) -> tuple[dict, dict]:
    """(the state, each key's default given the state) from text pairs; what cannot be used is noted."""
    given = {}
    for name, text in pairs:
        name = name.strip().lower()
        if name not in KEYS:
            notes.append(note("note.unknown", name=_shown(name)))
        elif name in given:
            notes.append(note("note.repeated", name=name))
        else:
            given[name] = text
    state, defaults = {}, {}
    for key in KEYS.values():  # in declaration order: kind and arch before the knobs whose defaults they set
        defaults[key.name] = state[key.name] = _value(key.default, state, caps)
        if key.name not in given:
            continue
        if key.only and state.get("kind") != key.only:
            notes.append(note("note.other_kind", name=key.name, kind=str(state.get("kind")).upper()))
            continue
        try:
            state[key.name] = _read(key, given[key.name], state, caps, notes)
        except _Refused as refused:
            notes.append(note("note.bad", name=key.name, value=_shown(given[key.name]), expected=refused.expected))
    return state, defaults


def parse(query, caps: settings.TrainSettings | None = None) -> tuple[dict, list[LinkNote]]:
    """(the page's state: every key with its value, the default where the link does not set it or
    cannot; the notes on what could not be used). Never raises."""
    notes: list[LinkNote] = []
    state, _ = _state(_query_pairs(query, notes), caps or settings.load(), notes)
    return state, notes


def _to_text(key: Key, value, state: dict, caps) -> str | None:
    """A control's value as the link writes it; None for an empty one (its default then)."""
    if value is None or value == "" or value == ():
        return None
    if key.type == "choice":
        for word, choice in _pairs(_value(key.choices, state, caps)):
            if _same(choice, value) or (isinstance(value, str) and value.lower() == str(word).lower()):
                return str(word)
        return str(value)
    if key.type == "keys":
        return ",".join(value) if isinstance(value, (list, tuple)) else str(value)
    if key.type in ("whole", "number") and isinstance(value, (int, float)) and not isinstance(value, bool):
        return _number_text(value) if math.isfinite(value) else str(value)
    return str(value)


def link(state: dict, tabs=None, caps: settings.TrainSettings | None = None) -> str:
    """The query (without its `?`) for `state` (key -> a control's value, as `parse` returns it or
    as the page's controls hold it), with the keys of `tabs` (None: every tab) that differ from
    their defaults and the page's own. A value a link could not carry is left out (its default)."""
    caps = caps or settings.load()
    tabs = TABS if tabs is None else tuple([tabs] if isinstance(tabs, str) else tabs)
    # Each value is read back as `parse` reads a link, so what a link could not carry is left out.
    texts = [(key.name, text) for key in KEYS.values() if (text := _to_text(key, state.get(key.name), state, caps)) is not None]
    clean, defaults = _state(texts, caps, [])
    written = []
    for key in KEYS.values():
        if (key.tab != PAGE and key.tab not in tabs) or (key.only and clean.get("kind") != key.only):
            continue
        if key.name == "tab" or key.always or not _same(clean[key.name], defaults[key.name]):
            text = _to_text(key, clean[key.name], clean, caps)
            if text is not None:
                written.append((key, text))
    # A key written always (the model's kind) is written where its tab is the link's, or where a
    # setting it governs is.
    used_tabs = {key.tab for key, _ in written if not key.always} | {clean["tab"]}
    return urlencode([(key.name, text) for key, text in written if not key.always or key.tab in used_tabs], quote_via=quote, safe=",")


def task_words(task: str, lang: str | None = locales.DEFAULT) -> str:
    """A link's task as the page shows it: a task the locales word (`lesson.task.<id>`) in the
    visitor's language, else as the teacher wrote it (escape it where it is shown)."""
    if re.fullmatch(r"[a-z0-9_]{1,40}", task or "") and f"lesson.task.{task}" in locales.STRINGS[locales.DEFAULT]:
        return locales.text(f"lesson.task.{task}", lang)
    return task or ""
