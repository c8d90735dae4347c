"""The words a visitor reads, in every language the app speaks: one JSON file a language beside
this module (`en.json`, `zh-CN.json`), the same keys in each, values with `{name}` placeholders.
Adding a language means adding one file. (`common.complete` fills a word Gradio's own zh-CN
strings lack: its frontend looks it up in the same table.)

Two ways in, one for each side of the page:
- `ui(key)`: static page text (labels, info, buttons, Markdown). Gradio's `gr.I18n` (the `I18N`
  below, passed to `launch`) translates it in the browser, by the browser's language.
- `text(key, lang, **values)`: what the server writes at run time (verdicts, statuses, errors),
  in the visitor's language, which `language(request)` reads once from the request's
  Accept-Language header (English when it names none we speak).
"""
import functools
import json
import re
from pathlib import Path

FOLDER = Path(__file__).resolve().parent
DEFAULT = "en"
STRINGS: dict[str, dict[str, str]] = {
    path.stem: json.loads(path.read_text(encoding="utf-8")) for path in sorted(FOLDER.glob("*.json"))
}
LANGUAGES = tuple(sorted(STRINGS, key=lambda lang: lang != DEFAULT))  # English first


def _browser_locales() -> dict[str, dict[str, str]]:
    """gr.I18n's translations: each language under its own tag and its bare language too (a
    browser set to plain `zh`, or `zh-SG`, falls back to `zh`)."""
    locales = {}
    for lang, strings in STRINGS.items():
        locales.setdefault(lang.split("-")[0], strings)
        locales[lang] = strings
    return locales


@functools.cache
def browser_i18n():
    """The gr.I18n that `launch(i18n=...)` takes. Gradio is imported here, not at the top, so
    that training code (the command line) can use `text` without it."""
    import gradio as gr

    return gr.I18n(**_browser_locales())


def ui(key: str):
    """Page text for `key`, translated by the browser (gr.I18n). Raises KeyError for an unknown
    key at build time, so a typo cannot reach a visitor as a raw key."""
    if key not in STRINGS[DEFAULT]:
        raise KeyError(f"no string {key!r} in locales/{DEFAULT}.json")
    return browser_i18n()(key)


def text(key: str, lang: str | None = DEFAULT, **values) -> str:
    """Server-written text for `key` in `lang` (English where that language lacks it)."""
    strings = STRINGS.get(lang or DEFAULT, STRINGS[DEFAULT])
    template = strings.get(key) or STRINGS[DEFAULT][key]
    return template.format(**values) if values else template


class Explained(Exception):
    """A sentence worded in these files, raised as an error or handed on as a message (a run's stop
    reason, Stop's reply): `key` names it and `values` fill it in; str() is the English sentence
    (for the log, a run card, the command line and the API), say(lang) the visitor's. `english` is
    said only for a key these files do not have yet. It pickles by key and values, so it can cross
    a process boundary."""

    def __init__(self, key: str, english: str | None = None, **values):
        self.key, self.english, self.values = key, english, values
        known = key in STRINGS[DEFAULT]
        super().__init__(text(key, DEFAULT, **values) if known or english is None else english)

    def say(self, lang: str | None) -> str:
        return text(self.key, lang, **self.values) if self.key in STRINGS[DEFAULT] else str(self)

    def __reduce__(self):
        return _explained, (type(self), self.key, self.english, self.values)


def _explained(cls, key, english, values):
    return cls(key, english, **values)


def words(lang: str | None = DEFAULT) -> "callable":
    """`text` with the language bound: `say = words(lang); say("draw.blank")`."""
    return lambda key, **values: text(key, lang, **values)


_TAG = re.compile(r"\s*([A-Za-z]{1,8}(?:-[A-Za-z0-9]{1,8})*|\*)\s*(?:;\s*q\s*=\s*([0-9.]+))?\s*")


def best_language(accept_language: str | None) -> str:
    """The language we speak that an Accept-Language header prefers most; DEFAULT if none."""
    ranked = []
    for order, part in enumerate((accept_language or "").split(",")):
        match = _TAG.fullmatch(part)
        if not match:
            continue
        tag, weight = match.group(1).lower(), match.group(2)
        try:
            quality = float(weight) if weight else 1.0
        except ValueError:
            continue
        ranked.append((-quality, order, tag))
    for _, _, tag in sorted(ranked):
        for lang in LANGUAGES:
            if tag == lang.lower() or tag.split("-")[0] == lang.lower().split("-")[0]:
                return lang
    return DEFAULT


def language(request) -> str:
    """The visitor's language, from the request's Accept-Language header (an API client that
    sends none gets English)."""
    headers = getattr(request, "headers", None)
    try:
        header = headers.get("accept-language") if headers is not None else None
    except Exception:
        header = None
    return best_language(header)
