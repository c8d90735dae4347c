"""My digits: under the Draw tab's canvas, a closed accordion where a visitor draws a set of their own
on purpose. It asks for a digit ("draw a 4"), keeps the drawing as the 28x28 the model sees, and
moves on to the digit with fewest drawings, with a count per digit. The "That's wrong" corrections
join the same set. The set lives in this visit's gr.State as plain data (inference/my_digits.py);
a download and an upload of one small .npz let it outlive the visit and move between machines.

API (each answer's first output is the set's summary as JSON; a refusal is a gr.Error in words,
in the caller's language, and the set stays as it was):
    /my_digits_add(strokes, digit)  the canvas's strokes JSON (as /classify_strokes) and 0-9
    /my_digits_upload(file)         a .npz as /my_digits_download writes it; joins the set
    /my_digits_download()           the set as a .npz file
"""
import hashlib
import logging
import tempfile
from pathlib import Path

import gradio as gr

import locales
from inference import my_digits
from inference.strokes import prepare_strokes
from locales import ui
from tabs.draw import canvas as pad
from tabs.draw.open_radio import OpenRadio
from visitors import limits

DIGITS = [str(d) for d in range(10)]
# Downloads are written once per distinct set, under a folder named by its content: asking twice
# writes nothing new, and Gradio serves its own copy from its cache.
DOWNLOADS = Path(tempfile.gettempdir()) / "digit-lab-my-digits"
FILE_NAME = "my-digits.npz"

log = logging.getLogger(__name__)


def summary(digits) -> dict:
    """What an API client and the page read about a set: how many, per digit, held out, what next."""
    held = len(my_digits.split(digits)[1])
    return {"count": len(digits or ()), "counts": my_digits.counts(digits), "held_out": held,
            "next": my_digits.next_digit(digits), "most": my_digits.MAX_DIGITS}


def counts_table(digits, lang: str | None) -> str:
    """Markdown: a row of digits over a row of counts, and the totals."""
    found = my_digits.counts(digits)
    say = locales.words(lang)
    table = "| " + " | ".join(DIGITS) + " |\n|" + "---|" * 10 + "\n| " + " | ".join(map(str, found)) + " |"
    about = summary(digits)
    return f"{table}\n\n{say('mine.total', count=about['count'], held_out=about['held_out'], most=my_digits.MAX_DIGITS)}"


def _page(digits, lang: str | None, status: str = ""):
    """The panel's outputs for a set: (state, summary JSON, prompt, the digit asked for, counts, status)."""
    ask = my_digits.next_digit(digits)
    prompt = locales.text("mine.prompt", lang, digit=ask)
    return digits, summary(digits), prompt, str(ask), counts_table(digits, lang), status


def view(digits, request: gr.Request = None):
    """The panel as the set now is, whatever changed it (an event here, or the set restored at page
    load from what was kept for this visitor): (summary, prompt, digit asked for, counts, download)."""
    _, about, prompt, ask, counts, _ = _page(digits, locales.language(request))
    return about, prompt, ask, counts, download(digits)


def _refuse(error: Exception, lang: str):
    """gr.Error in the caller's words: a refusal's own, or (anything unforeseen) that it failed."""
    if not isinstance(error, locales.Explained):
        log.error("my digits failed", exc_info=error)
        error = locales.Explained("mine.failed", error=type(error).__name__)
    raise gr.Error(error.say(lang), print_exception=False, title=locales.text("common.error", lang)) from None


def add(strokes, digit, digits, request: gr.Request = None):
    """/my_digits_add: the drawing (the canvas's strokes, prepared as every reading is) joins the set."""
    lang = locales.language(request)
    steps = prepare_strokes(strokes)
    try:
        if steps.reason not in (None, "serving.blank", "serving.no_image"):
            raise locales.Explained(steps.reason, **steps.reason_values)  # not strokes at all: their own words
        grown = my_digits.add(digits, steps.image, digit)  # a blank canvas is all zeros: refused as blank
    except Exception as error:
        _refuse(error, lang)
    kept = locales.text("mine.kept", lang, digit=int(digit), count=len(grown))
    return _page(grown, lang, kept)


def upload(file, digits, request: gr.Request = None):
    """/my_digits_upload: a .npz set joins this one (drawings it already holds are not doubled)."""
    lang = locales.language(request)
    limits.guard(request, "upload", lang)  # reading a file is the costly part: counted as every upload is
    path = file.get("path") if isinstance(file, dict) else file
    if not path:
        _refuse(my_digits.BadSet("mine.file.not_npz"), lang)
    try:
        joined = my_digits.join(digits, my_digits.from_npz(path))
    except Exception as error:
        _refuse(error, lang)
    added = len(joined) - len(digits or ())
    return _page(joined, lang, locales.text("mine.uploaded", lang, added=added, count=len(joined)))


def download(digits) -> str:
    """/my_digits_download: the set as a .npz file (an empty set is a valid, empty file)."""
    data = my_digits.to_npz(digits)
    folder = DOWNLOADS / hashlib.sha256(data).hexdigest()[:20]
    path = folder / FILE_NAME
    if not path.is_file():
        folder.mkdir(parents=True, exist_ok=True)
        partial = folder / (FILE_NAME + ".part")
        partial.write_bytes(data)
        partial.replace(path)  # whole or absent: two requests for one set never see half a file
    return str(path)


def clear(request: gr.Request = None):
    lang = locales.language(request)
    return _page([], lang, locales.text("mine.cleared", lang))


def take_corrections(corrections, digits, request: gr.Request = None):
    """The newest correction joins the set (each "That's wrong" adds one; taking only the newest
    keeps a set the visitor cleared from filling again with the older ones); a full set keeps what
    it has and says so."""
    lang = locales.language(request)
    try:
        joined = my_digits.join(digits, list(corrections or ())[-1:])
    except my_digits.BadSet as error:
        return (gr.skip(),) * 5 + (error.say(lang),)
    return _page(joined, lang)


# After a drawing is kept, the canvas is wiped for the next one (the page's own Clear, no server call).
WIPE = "() => { window.digitLabCanvas?.clear(); return []; }"


def build(canvas: gr.HTML, corrections: gr.State, mine: gr.State) -> None:
    """The accordion and its wiring, under the Draw tab's canvas. `mine` holds the set."""
    with gr.Accordion(ui("mine.open"), open=False, elem_id="mine-box"):
        gr.Markdown(ui("mine.intro"))
        prompt = gr.Markdown(ui("mine.prompt.first"), elem_id="mine-prompt")
        digit = OpenRadio(DIGITS, value="0", label=ui("mine.digit"), elem_id="mine-digit")
        keep = gr.Button(ui("mine.keep"), variant="primary", elem_id="mine-keep")
        status = gr.Markdown("", elem_id="mine-status")
        counts = gr.Markdown(ui("mine.empty"), elem_id="mine-counts")
        about = gr.JSON(summary([]), visible=False, elem_id="mine-summary")
        with gr.Row():
            save = gr.DownloadButton(ui("mine.download"), value=None, size="sm", elem_id="mine-download")
            load = gr.UploadButton(ui("mine.upload"), file_types=[".npz"], type="filepath", size="sm", elem_id="mine-upload")
            wipe = gr.Button(ui("mine.clear"), size="sm", variant="stop", elem_id="mine-clear")
        gr.Markdown(ui("mine.format"), elem_id="mine-format")
        ask = gr.Button(visible=False)  # /my_digits_download for API clients: the set as a file

    shown = [mine, about, prompt, digit, counts, status]
    keep.click(add, [canvas, digit, mine], shown, js=pad.with_strokes(0), api_name="my_digits_add").success(
        None, None, None, js=WIPE)
    load.upload(upload, [load, mine], shown, api_name="my_digits_upload")
    wipe.click(clear, None, shown, api_visibility="private")
    corrections.change(take_corrections, [corrections, mine], shown, api_visibility="private", show_progress="hidden")
    mine.change(view, mine, [about, prompt, digit, counts, save], api_visibility="private", show_progress="hidden", queue=False)
    ask.click(download, mine, gr.File(visible=False), api_name="my_digits_download")
