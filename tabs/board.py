"""The Class tab: a teacher opens a class and reads its board; a student joins with the class's code
and a nickname, and from then on each run they finish on the Train tab reaches the board
(classroom/hook.py, called by runs/jobs.py). The storage is classroom/board.py; the board's table
and chart tabs/board_view.py. Every word comes from locales/ (`board.*`).

API (documented with the app's others): /class_open -> (code, teacher key, words); /class_join(code,
nickname) -> words (the caller's session is the student from then on); /class_board(code,
teacher_key="") -> the board as JSON; /class_close(code, teacher_key) -> words.

The teacher key is never put in a link's query: the teacher link carries it after `#`, which the
browser keeps to itself, and this page reads it there."""
import html
import tempfile
import time
from pathlib import Path

import gradio as gr

import locales
from classroom import board, hook
from classroom import link as page_link
from locales import text, ui
from runs import jobs
from tabs import board_view
from tabs import link as links
from visitors import limits

SORTS = ("figure", "nickname", "finished", "seconds")
REFRESH_SECONDS = 1.0  # a finished run is on the teacher's board within this and one request
CSV_DIR = Path(tempfile.gettempdir()) / "digit-lab-class-csv"
# The teacher link's key, from after the `#` where the page keeps it.
KEY_FROM_FRAGMENT = "() => new URLSearchParams(location.hash.slice(1)).get('key') || ''"


def _refused(error: board.BoardError, lang: str) -> gr.Error:
    return gr.Error(error.say(lang), title=text("common.error", lang), print_exception=False)


def open_class(about, students_see, request: gr.Request):
    """/class_open: a new class; (its code, the teacher key, the words with both links)."""
    lang = locales.language(request)
    about = about if about in page_link.CONTROL_KEYS else ""
    try:
        code, key = board.open_class(about, bool(students_see))
    except board.BoardError as error:
        raise _refused(error, lang) from None
    expires = time.strftime("%Y-%m-%d", time.gmtime(board.board(code, key)["expires"]))
    words = text("board.opened", lang, code=code, expires=expires, student_link=f"[?tab=class&class={code}](?tab=class&class={code})",
                 teacher_link=f"[?tab=class&class={code}#key=…](?tab=class&class={code}#key={key})")
    return code, key, words


def join_class(code, nickname, request: gr.Request):
    """/class_join: this session joins as `nickname`; (words, what the page keeps to rejoin)."""
    lang = locales.language(request)
    try:
        token = board.join(code, nickname, address=limits.address(request))
    except board.BoardError as error:
        raise _refused(error, lang) from None
    hook.attach(jobs.owner(request), token)
    found = board.student(token)
    return text("board.joined", lang, code=found["code"], nickname=links.plain(found["nickname"])), dict(found, token=token)


def attach(kept, request: gr.Request) -> dict | None:
    """This page is the student whose token it keeps, if they are in an open class."""
    found = board.student((kept or {}).get("token"))
    if found is not None:
        hook.attach(jobs.owner(request), kept["token"])
    return found


def attach_page(kept, request: gr.Request) -> None:
    attach(kept, request)


def resume(kept, request: gr.Request):
    """Soon after the page opens (the browser's storage is read after the load events start): a
    student who joined before is still in the class. Once."""
    found = attach(kept, request)
    if found is None:
        return gr.skip(), gr.skip(), gr.Timer(active=False)
    words = text("board.joined", locales.language(request), code=found["code"], nickname=links.plain(found["nickname"]))
    return words, gr.Timer(active=True), gr.Timer(active=False)


def leave_class(request: gr.Request):
    hook.detach(jobs.owner(request))
    return text("board.left", locales.language(request)), None, gr.Timer(active=False)


def board_json(code, teacher_key, request: gr.Request):
    """/class_board: the board as JSON (runs with nickname, settings and figures)."""
    try:
        return board.board(code, teacher_key or "", address=limits.address(request))
    except board.BoardError as error:
        raise _refused(error, locales.language(request)) from None


def close(code, teacher_key, request: gr.Request):
    """/class_close: no more joining or runs; the teacher keeps the board until it expires."""
    lang = locales.language(request)
    try:
        board.close_class(code, teacher_key)
    except board.BoardError as error:
        raise _refused(error, lang) from None
    return text("board.closed", lang)


def view(code, teacher_key, kept, sort, group, colour, request: gr.Request):
    """The board as this page may see it: (summary, chart, table, teacher tools shown, timer)."""
    lang = locales.language(request)
    code = code or (kept or {}).get("code")
    if not code:
        return gr.skip(), gr.skip(), gr.skip(), gr.skip(), gr.Timer(active=False)
    try:
        data = board.board(code, teacher_key or "", address=limits.address(request))
    except board.BoardError as error:
        return html.escape(error.say(lang)), "", "", gr.Column(visible=False), gr.Timer(active=False)
    colour = colour or data["about"]
    return (board_view.summary(data, lang), board_view.chart(data, lang, colour) if data["shown"] else "",
            board_view.table(data, lang, sort or "figure", group or "") if data["shown"] else "",
            gr.Column(visible=data["teacher"]), gr.Timer(active=True))


def teacher_view(code, teacher_key, kept, sort, group, colour, request: gr.Request):
    """The board once a teacher link's code and key are both in the page, whichever came last. A
    code being typed without a key is not looked up: each unfinished code would count as a wrong one."""
    if not teacher_key:
        return gr.skip(), gr.skip(), gr.skip(), gr.skip(), gr.skip()
    return view(code, teacher_key, kept, sort, group, colour, request)


def knob_choices(code, teacher_key, kept, request: gr.Request):
    """The sort, group and colour choices: the columns and every knob the class's runs set."""
    lang = locales.language(request)
    try:
        data = board.board(code or (kept or {}).get("code"), teacher_key or "")
    except board.BoardError:
        return [gr.skip()] * 3
    knobs = [(board_view.knob_label(name, lang), name) for name in board_view.knob_names(data)]
    return (gr.Dropdown(choices=[(text(f"board.column.{c}", lang), c) for c in SORTS] + knobs),
            gr.Dropdown(choices=[("–", ""), *knobs]), gr.Dropdown(choices=[("–", ""), *knobs]))


def remove(code, teacher_key, entry, request: gr.Request):
    lang = locales.language(request)
    try:
        board.remove_run(code, teacher_key, int(entry or 0))
    except board.BoardError as error:
        raise _refused(error, lang) from None
    return text("board.removed", lang, entry=int(entry or 0))


def students_see(code, teacher_key, see):
    if code and teacher_key and board.is_teacher(code, teacher_key):
        board.set_students_see(code, teacher_key, bool(see))


def download(code, teacher_key, request: gr.Request):
    try:
        csv = board.csv_text(code, teacher_key)
    except board.BoardError as error:
        raise _refused(error, locales.language(request)) from None
    CSV_DIR.mkdir(parents=True, exist_ok=True)
    path = Path(tempfile.mkdtemp(dir=CSV_DIR)) / f"class-{board.clean_code(code)}.csv"
    path.write_text(csv, encoding="utf-8")
    return gr.File(str(path), visible=True)


def build() -> None:
    knob_labels = [(ui(links.LABELS[k.name]), k.name) for k in page_link.keys_of("train") if k.name in links.LABELS]
    gr.Markdown(ui("board.intro"))
    kept = links.PARTS["class_kept"]
    with gr.Row(equal_height=False):
        with gr.Column(min_width=280):
            gr.Markdown(ui("board.student"))
            code = gr.Textbox(label=ui("board.code"), max_lines=1, max_length=16, elem_id="class-code")
            nickname = gr.Textbox(label=ui("board.nickname"), max_lines=1, max_length=board.MAX_NICKNAME, elem_id="class-nickname")
            with gr.Row():
                join = gr.Button(ui("board.join"), variant="primary", elem_id="class-join")
                leave = gr.Button(ui("board.leave"), size="sm", elem_id="class-leave")
            joined = gr.Markdown(elem_id="class-joined")
        with gr.Column(min_width=280):
            gr.Markdown(ui("board.teacher"))
            about = gr.Dropdown(knob_labels, value="activation", label=ui("board.about"), info=ui("board.about.info"), elem_id="class-about")
            see = gr.Checkbox(False, label=ui("board.students_see"), elem_id="class-students-see")
            start = gr.Button(ui("board.open"), elem_id="class-open")
            key = gr.Textbox(label=ui("board.key"), type="password", max_lines=1, elem_id="class-key")
            opened = gr.Markdown(elem_id="class-opened")
    summary = gr.Markdown(elem_id="class-summary")
    with gr.Row():  # one a line on a phone, where two side by side cut the sort's words
        sort = gr.Dropdown([(ui(f"board.column.{c}"), c) for c in SORTS], value="figure", label=ui("board.sort"), min_width=240,
                           elem_id="class-sort")
        group = gr.Dropdown([("–", "")], value="", label=ui("board.group"), min_width=240, elem_id="class-group")
        colour = gr.Dropdown([("–", "")], value="", label=ui("board.colour"), min_width=240, elem_id="class-colour")
    plot = gr.HTML(elem_id="class-chart")
    runs = gr.HTML(elem_id="class-table")
    with gr.Column(visible=False) as tools:
        with gr.Row():
            # No minimum: the box starts empty, which Gradio shows as 0, and a minimum would mark it as wrong.
            entry = gr.Number(None, precision=0, label=ui("board.column.entry"), elem_id="class-entry")
            remove_button = gr.Button(ui("board.remove"), elem_id="class-remove")
            close_button = gr.Button(ui("board.close"), variant="stop", elem_id="class-close")
            csv_button = gr.Button(ui("board.csv"), elem_id="class-csv")
        csv_file = gr.File(visible=False, interactive=False, elem_id="class-csv-file")
        said = gr.Markdown(elem_id="class-said")
    timer = gr.Timer(REFRESH_SECONDS, active=False)
    api_board = gr.JSON(visible=False)
    links.register("class", **{"class": code})

    quiet = dict(show_progress="hidden", api_visibility="private", queue=False)
    shown = [summary, plot, runs, tools, timer]
    looked = dict(fn=view, inputs=[code, key, kept, sort, group, colour], outputs=shown, **quiet)
    start.click(open_class, [about, see], [code, key, opened], api_name="class_open").then(**looked)
    join.click(join_class, [code, nickname], [joined, kept], api_name="class_join").then(**looked)
    once = links.PARTS["class_resume"]
    once.tick(resume, [kept], [joined, timer, once], **quiet)
    # A run's page is its student from Start on (whatever the page's load knew), for the run's end.
    links.CONTROLS["train"]["start_button"].click(attach_page, [kept], None, **quiet)
    gr.on(None, None, None, key, js=KEY_FROM_FRAGMENT)
    key.change(**looked)
    code.change(teacher_view, looked["inputs"], shown, **quiet)
    leave.click(leave_class, None, [joined, kept, timer], **quiet)
    timer.tick(**looked)
    gr.on([sort.change, group.change, colour.change], **looked)
    runs.change(knob_choices, [code, key, kept], [sort, group, colour], **quiet)
    see.change(students_see, [code, key, see], None, **quiet)
    remove_button.click(remove, [code, key, entry], said, api_visibility="private").then(**looked)
    close_button.click(close, [code, key], said, api_name="class_close").then(**looked)
    csv_button.click(download, [code, key], csv_file, api_visibility="private")
    # /class_board for API callers, on hidden components (the page has its own view above).
    with gr.Row(visible=False):
        api_code, api_key = gr.Textbox(label="code"), gr.Textbox("", label="teacher_key")
        api_button = gr.Button("board")
    api_button.click(board_json, [api_code, api_key], api_board, api_name="class_board")
