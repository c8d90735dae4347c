"""The class board's storage: classes, their students and their finished runs, in SQLite (Python's
sqlite3), behind this one module. Torch-free and Gradio-free.

Where: `DIGIT_LAB_CLASS_DIR` names the folder of `board.sqlite3`. Unset, it is /data/digit-lab-class
where a Space has persistent storage (/data exists and is writable), else digit-lab-class in the
system's temporary folder, as the app's other temporary files, which a restart of a Space loses.

Limits, from the environment, each said in words (`BoardError`, `board.error.*`) when reached:

    DIGIT_LAB_CLASS_DAYS        (default 30)   a class, its students and runs go this long after it opened
    DIGIT_LAB_CLASSES_OPEN      (default 50)   classes open at once
    DIGIT_LAB_CLASS_STUDENTS    (default 200)  students a class
    DIGIT_LAB_CLASS_RUNS        (default 30)   runs a student
    DIGIT_LAB_CLASS_TRIES       (default 10)   unknown codes one address may try in TRIES_WINDOW seconds

Safety: a class is reached only with its code (6 characters from 31: 887 million codes, and an
address that tries TRIES unknown ones waits TRIES_WINDOW, so they cannot be walked through); a
teacher's actions need the teacher key (128 random bits; only its SHA-256 is stored, compared with
hmac.compare_digest); a student is known by a token only their page holds (stored hashed too).
Nicknames are kept as given, bounded and on one line; whatever shows them escapes them.

Another database: each call opens its own connection (so any thread may call), every statement is
plain SQL with `?` parameters, and one function, `_connect`, makes the connection. Where several
copies of the app serve one school, `DIGIT_LAB_CLASS_CONNECT=module:function` names a function that
returns a DB-API connection to a database server instead (a driver with the qmark paramstyle, or
wrapped to it; `SCHEMA`'s auto-numbered keys are the one dialect difference to adapt), and SQLite's
own settings (WAL) are then skipped.
"""
import csv
import hashlib
import hmac
import importlib
import io
import json
import math
import os
import secrets
import sqlite3
import tempfile
import time
import unicodedata
from contextlib import contextmanager
from pathlib import Path

import locales

CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I/L: read aloud or off a projector
CODE_LENGTH = 6
MAX_NICKNAME = 24
TRIES_WINDOW = 600.0
MAX_SETTINGS_BYTES = 4000
MAX_SERIES, MAX_POINTS = 12, 200  # a run's curves, each thinned to this many points
DAY = 86400.0
# Characters that would break a nickname's line or reorder the text around it where it is shown.
REFUSED_CATEGORIES = {"Cc", "Zl", "Zp", "Cs", "Co", "Cn"}
BIDI_CONTROLS = set("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c")

SCHEMA = (
    """CREATE TABLE IF NOT EXISTS classes (code TEXT PRIMARY KEY, key_hash TEXT NOT NULL, opened REAL NOT NULL,
       expires REAL NOT NULL, closed REAL, students_see INTEGER NOT NULL DEFAULT 0, about TEXT NOT NULL DEFAULT '')""",
    """CREATE TABLE IF NOT EXISTS students (id INTEGER PRIMARY KEY, code TEXT NOT NULL, nickname TEXT NOT NULL,
       folded TEXT NOT NULL, token_hash TEXT NOT NULL UNIQUE, joined REAL NOT NULL, UNIQUE (code, folded))""",
    """CREATE TABLE IF NOT EXISTS runs (id INTEGER PRIMARY KEY, code TEXT NOT NULL, student INTEGER NOT NULL,
       run_id TEXT NOT NULL, kind TEXT NOT NULL, settings TEXT NOT NULL, figure_name TEXT NOT NULL, figure REAL,
       curves TEXT NOT NULL, seconds REAL, finished REAL NOT NULL, UNIQUE (student, run_id))""",
    "CREATE TABLE IF NOT EXISTS misses (address TEXT NOT NULL, at REAL NOT NULL)",
    "CREATE INDEX IF NOT EXISTS misses_by_address ON misses (address, at)",
    "CREATE INDEX IF NOT EXISTS runs_by_class ON runs (code, finished)",
    "CREATE INDEX IF NOT EXISTS students_by_class ON students (code)",
)


class BoardError(locales.Explained, ValueError):
    """What the board refused, in words (`board.error.*`); nothing was changed."""


def _setting(name: str, default: int) -> int:
    try:
        return max(1, int(os.environ.get(name) or default))
    except ValueError:
        return default


def limits() -> dict:
    """The limits as the environment has them now."""
    return {"days": _setting("DIGIT_LAB_CLASS_DAYS", 30), "classes": _setting("DIGIT_LAB_CLASSES_OPEN", 50),
            "students": _setting("DIGIT_LAB_CLASS_STUDENTS", 200), "runs": _setting("DIGIT_LAB_CLASS_RUNS", 30),
            "tries": _setting("DIGIT_LAB_CLASS_TRIES", 10)}


def folder() -> Path:
    given = os.environ.get("DIGIT_LAB_CLASS_DIR")
    if given:
        return Path(given)
    if os.path.isdir("/data") and os.access("/data", os.W_OK):  # a Space's persistent storage
        return Path("/data") / "digit-lab-class"
    return Path(tempfile.gettempdir()) / "digit-lab-class"


def _connect():
    named = os.environ.get("DIGIT_LAB_CLASS_CONNECT")
    if named:
        module, _, function = named.partition(":")
        return getattr(importlib.import_module(module), function)()
    place = folder()
    place.mkdir(parents=True, exist_ok=True)
    connection = sqlite3.connect(place / "board.sqlite3", timeout=30, isolation_level=None)
    connection.execute("PRAGMA journal_mode=WAL")  # readers (the boards polled) never wait for a writer
    return connection


@contextmanager
def _db(write: bool = False):
    """A connection for one call; a writing call holds the write lock from its first read, so a
    limit counted is still true when the row is added."""
    connection = _connect()
    try:
        for statement in SCHEMA:
            connection.execute(statement)
        if isinstance(connection, sqlite3.Connection):  # a DB-API driver of a server begins by itself
            connection.execute("BEGIN IMMEDIATE" if write else "BEGIN")
        try:
            yield connection
        except BaseException:
            connection.rollback()
            raise
        connection.commit()
    finally:
        connection.close()


def _hash(secret: str) -> str:
    return hashlib.sha256(str(secret).encode("utf-8", "replace")).hexdigest()


def clean_code(code) -> str | None:
    """A class code as typed (any case, spaces or dashes between its characters), or None when it
    cannot be one."""
    if not isinstance(code, str) or len(code) > 40:
        return None
    text = "".join(ch for ch in code.upper() if ch not in " -\t")
    return text if len(text) == CODE_LENGTH and all(ch in CODE_ALPHABET for ch in text) else None


def clean_nickname(nickname) -> str:
    """The nickname as given, less the spaces around it; BoardError when it is empty, too long, or
    holds what would break the line it is shown on."""
    if not isinstance(nickname, str):
        raise BoardError("board.error.nickname_empty")
    name = nickname.strip()
    if not name:
        raise BoardError("board.error.nickname_empty")
    if len(name) > MAX_NICKNAME:
        raise BoardError("board.error.nickname_long", most=MAX_NICKNAME)
    if any(unicodedata.category(ch) in REFUSED_CATEGORIES or ch in BIDI_CONTROLS for ch in name):
        raise BoardError("board.error.nickname_characters")
    return name


def _folded(name: str) -> str:
    """Two nicknames that would look alike on the board are one."""
    return unicodedata.normalize("NFKC", name).casefold()


def purge(now: float | None = None) -> int:
    """Forget the classes past their days, with their students and runs; how many went."""
    now = time.time() if now is None else now
    with _db(write=True) as db:
        gone = [row[0] for row in db.execute("SELECT code FROM classes WHERE expires <= ?", (now,))]
        for code in gone:
            for table in ("runs", "students", "classes"):
                db.execute(f"DELETE FROM {table} WHERE code = ?", (code,))
        db.execute("DELETE FROM misses WHERE at <= ?", (now - TRIES_WINDOW,))
    return len(gone)


def open_class(about: str = "", students_see: bool = False, now: float | None = None) -> tuple[str, str]:
    """A new class: (its code, the teacher key). `about` is the knob the lesson is about (the
    board's chart colours the runs by it)."""
    now = time.time() if now is None else now
    purge(now)
    limit = limits()
    key = secrets.token_urlsafe(16)
    with _db(write=True) as db:
        (count,) = db.execute("SELECT COUNT(*) FROM classes WHERE closed IS NULL AND expires > ?", (now,)).fetchone()
        if count >= limit["classes"]:
            raise BoardError("board.error.classes_full", most=limit["classes"])
        for _ in range(8):
            code = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
            if db.execute("SELECT 1 FROM classes WHERE code = ?", (code,)).fetchone() is None:
                break
        db.execute("INSERT INTO classes (code, key_hash, opened, expires, students_see, about) VALUES (?, ?, ?, ?, ?, ?)",
                   (code, _hash(key), now, now + limit["days"] * DAY, int(bool(students_see)), str(about or "")[:40]))
    return code, key


def _tries_left(db, address: str, now: float) -> None:
    (missed,) = db.execute("SELECT COUNT(*) FROM misses WHERE address = ? AND at > ?", (address, now - TRIES_WINDOW)).fetchone()
    if missed >= limits()["tries"]:
        raise BoardError("board.error.too_many_tries", minutes=round(TRIES_WINDOW / 60))


def _open_class(db, code, address: str, now: float, open_only: bool = True):
    """The class row for `code`, checking the address's tries first; an unknown code counts as a
    miss (kept even though the call fails: it is written in a transaction of its own)."""
    _tries_left(db, address, now)
    found = clean_code(code)
    row = db.execute("SELECT code, key_hash, opened, expires, closed, students_see, about FROM classes WHERE code = ?",
                     (found or "",)).fetchone()
    if row is None or row[3] <= now or (open_only and row[4] is not None):
        raise _Miss()
    return row


class _Miss(Exception):
    pass


def _missed(address: str, now: float) -> BoardError:
    with _db(write=True) as db:
        db.execute("INSERT INTO misses (address, at) VALUES (?, ?)", (address, now))
    return BoardError("board.error.no_class")


def join(code, nickname, address: str = "", now: float | None = None) -> str:
    """Join the class with `code` as `nickname`: the student's token, which their page keeps and
    hands with each finished run. Nothing else about the student is asked or kept."""
    now = time.time() if now is None else now
    name = clean_nickname(nickname)
    limit = limits()
    token = secrets.token_urlsafe(16)
    try:
        with _db(write=True) as db:
            row = _open_class(db, code, address, now)
            (count,) = db.execute("SELECT COUNT(*) FROM students WHERE code = ?", (row[0],)).fetchone()
            if count >= limit["students"]:
                raise BoardError("board.error.students_full", most=limit["students"])
            if db.execute("SELECT 1 FROM students WHERE code = ? AND folded = ?", (row[0], _folded(name))).fetchone():
                raise BoardError("board.error.nickname_taken", nickname=name)
            db.execute("INSERT INTO students (code, nickname, folded, token_hash, joined) VALUES (?, ?, ?, ?, ?)",
                       (row[0], name, _folded(name), _hash(token), now))
    except _Miss:
        raise _missed(address, now) from None
    return token


def student(token) -> dict | None:
    """{"code", "nickname"} of the student with this token in a class still open, or None."""
    if not isinstance(token, str) or not token:
        return None
    with _db() as db:
        row = db.execute("SELECT s.code, s.nickname FROM students s JOIN classes c ON c.code = s.code"
                         " WHERE s.token_hash = ? AND c.closed IS NULL AND c.expires > ?", (_hash(token), time.time())).fetchone()
    return {"code": row[0], "nickname": row[1]} if row else None


def _finite(value):
    try:
        value = float(value)
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None


def _curves(curves) -> dict:
    """At most MAX_SERIES series of at most MAX_POINTS (step, value) points, evenly thinned."""
    kept = {}
    for name, points in list((curves or {}).items())[:MAX_SERIES]:
        points = [(int(p[0]), v) for p in points or () if len(p) == 2 and (v := _finite(p[1])) is not None and _finite(p[0]) is not None]
        if len(points) > MAX_POINTS:
            points = [points[round(i * (len(points) - 1) / (MAX_POINTS - 1))] for i in range(MAX_POINTS)]
        kept[str(name)[:40]] = points
    return kept


def add_run(token, run: dict, now: float | None = None) -> int | None:
    """Put a student's finished run on their class's board: `run` has `run_id`, `kind`,
    `settings` (a dict of knobs), `figure_name` and `figure` (held-out accuracy, or the GAN's
    fidelity), `curves` ({series: [(step, value), ...]}) and `seconds`. The entry's id; None when
    the token is no student of an open class. The same run_id twice is one entry."""
    now = time.time() if now is None else now
    settings = json.dumps(run.get("settings") or {}, sort_keys=True, default=str)
    if len(settings) > MAX_SETTINGS_BYTES:
        raise BoardError("board.error.settings_long")
    limit = limits()
    with _db(write=True) as db:
        row = db.execute("SELECT s.id, s.code FROM students s JOIN classes c ON c.code = s.code"
                         " WHERE s.token_hash = ? AND c.closed IS NULL AND c.expires > ?", (_hash(token), now)).fetchone()
        if row is None:
            return None
        run_id = str(run.get("run_id") or secrets.token_hex(6))[:80]
        same = db.execute("SELECT id FROM runs WHERE student = ? AND run_id = ?", (row[0], run_id)).fetchone()
        if same:
            return same[0]
        (count,) = db.execute("SELECT COUNT(*) FROM runs WHERE student = ?", (row[0],)).fetchone()
        if count >= limit["runs"]:
            raise BoardError("board.error.runs_full", most=limit["runs"])
        cursor = db.execute(
            "INSERT INTO runs (code, student, run_id, kind, settings, figure_name, figure, curves, seconds, finished)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (row[1], row[0], run_id, str(run.get("kind") or "")[:8], settings, str(run.get("figure_name") or "")[:40],
             _finite(run.get("figure")), json.dumps(_curves(run.get("curves"))), _finite(run.get("seconds")), now))
        return cursor.lastrowid


def _teacher(db, code, teacher_key, now: float):
    found = clean_code(code)
    row = db.execute("SELECT code, key_hash, opened, expires, closed, students_see, about FROM classes WHERE code = ?",
                     (found or "",)).fetchone()
    # The key is hashed and compared whether or not the class exists, so the answer takes as long either way.
    right = hmac.compare_digest(_hash(teacher_key or ""), row[1] if row else _hash(secrets.token_hex(16)))
    if row is None or row[3] <= now or not right:
        raise BoardError("board.error.wrong_key")
    return row


def is_teacher(code, teacher_key) -> bool:
    try:
        with _db() as db:
            _teacher(db, code, teacher_key, time.time())
        return True
    except BoardError:
        return False


def board(code, teacher_key: str = "", address: str = "", now: float | None = None) -> dict:
    """The board as plain data (JSON): the class, its students' nicknames and its runs, newest last.
    Runs are left out (`shown` False) for a caller without the teacher key unless the teacher lets
    students see the board. A wrong teacher key is refused; an unknown code counts as a miss."""
    now = time.time() if now is None else now
    try:
        with _db() as db:
            row = _teacher(db, code, teacher_key, now) if teacher_key else _open_class(db, code, address, now, open_only=False)
            shown = bool(teacher_key) or bool(row[5])
            names = [r[0] for r in db.execute("SELECT nickname FROM students WHERE code = ? ORDER BY joined, id", (row[0],))]
            runs = [] if not shown else [
                {"id": r[0], "nickname": r[1], "kind": r[2], "settings": json.loads(r[3]), "figure_name": r[4], "figure": r[5],
                 "curves": json.loads(r[6]), "seconds": r[7], "finished": r[8]}
                for r in db.execute("SELECT r.id, s.nickname, r.kind, r.settings, r.figure_name, r.figure, r.curves, r.seconds,"
                                    " r.finished FROM runs r JOIN students s ON s.id = r.student WHERE r.code = ?"
                                    " ORDER BY r.finished, r.id", (row[0],))]
    except _Miss:
        raise _missed(address, now) from None
    return {"code": row[0], "open": row[4] is None, "students_see": bool(row[5]), "about": row[6], "opened": row[2],
            "expires": row[3], "teacher": bool(teacher_key), "shown": shown, "students": names, "runs": runs}


def remove_run(code, teacher_key, entry: int) -> bool:
    """Take one entry off the board; whether there was one."""
    with _db(write=True) as db:
        row = _teacher(db, code, teacher_key, time.time())
        return db.execute("DELETE FROM runs WHERE code = ? AND id = ?", (row[0], int(entry))).rowcount > 0


def close_class(code, teacher_key, now: float | None = None) -> None:
    """No more joins or runs; the teacher can still read and download the board until it expires."""
    now = time.time() if now is None else now
    with _db(write=True) as db:
        row = _teacher(db, code, teacher_key, now)
        db.execute("UPDATE classes SET closed = ? WHERE code = ? AND closed IS NULL", (now, row[0]))


def set_students_see(code, teacher_key, see: bool) -> None:
    with _db(write=True) as db:
        row = _teacher(db, code, teacher_key, time.time())
        db.execute("UPDATE classes SET students_see = ? WHERE code = ?", (int(bool(see)), row[0]))


def set_about(code, teacher_key, about: str) -> None:
    with _db(write=True) as db:
        row = _teacher(db, code, teacher_key, time.time())
        db.execute("UPDATE classes SET about = ? WHERE code = ?", (str(about or "")[:40], row[0]))


def _cell(value) -> str:
    """A spreadsheet opens a text cell that starts with = + - @ as a formula: such text is quoted."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return "" if value is None else value


def csv_text(code, teacher_key) -> str:
    """The board as CSV (the teacher's): a row a run, its settings in columns of their own."""
    if not teacher_key:
        raise BoardError("board.error.wrong_key")
    runs = board(code, teacher_key)["runs"]
    knobs = sorted({name for run in runs for name in run["settings"]})
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["nickname", "kind", "figure_name", "figure", "seconds", "finished", *knobs])
    for run in runs:
        finished = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(run["finished"]))
        writer.writerow([_cell(run["nickname"]), run["kind"], run["figure_name"], _cell(run["figure"]), _cell(run["seconds"]),
                         finished, *[_cell(run["settings"].get(name)) for name in knobs]])
    return out.getvalue()
