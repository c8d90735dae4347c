"""The class board's storage (classroom/board.py), without a server: classes, joining, runs, the
teacher's actions, the limits said in words, the safety rules, and the board outliving its
connection and a reload of the module on the same folder."""
import csv
import importlib
import io
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import pytest

import locales
from classroom import board

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def class_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("DIGIT_LAB_CLASS_DIR", str(tmp_path / "class"))
    for name in ("DIGIT_LAB_CLASSES_OPEN", "DIGIT_LAB_CLASS_STUDENTS", "DIGIT_LAB_CLASS_RUNS", "DIGIT_LAB_CLASS_TRIES",
                 "DIGIT_LAB_CLASS_DAYS", "DIGIT_LAB_CLASS_CONNECT"):
        monkeypatch.delenv(name, raising=False)
    return tmp_path / "class"


def a_run(number=1, activation="relu", accuracy=0.9):
    return {"run_id": f"run-{number}", "kind": "cnn", "settings": {"activation": activation, "epochs": 3},
            "figure_name": "held_out_accuracy", "figure": accuracy, "seconds": 30.5,
            "curves": {"held_out_accuracy": [(100, accuracy - 0.1), (200, accuracy)], "loss": [(i, 1 / (i + 1)) for i in range(500)]}}


def refused(key, call, *args, **kwargs):
    with pytest.raises(board.BoardError) as error:
        call(*args, **kwargs)
    assert error.value.key == key
    for lang in locales.LANGUAGES:
        assert error.value.say(lang) and "{" not in error.value.say(lang)
    return error.value


def test_a_class_from_opening_to_its_csv():
    code, key = board.open_class(about="activation")
    assert len(code) == board.CODE_LENGTH and set(code) <= set(board.CODE_ALPHABET)
    assert len(key) >= 16 and board.is_teacher(code, key) and not board.is_teacher(code, key + "x")
    ann, bo = board.join(code, "Ann"), board.join(code.lower(), " Bo ")
    assert board.student(ann) == {"code": code, "nickname": "Ann"} and board.student(bo)["nickname"] == "Bo"
    first = board.add_run(ann, a_run(1, "sigmoid", 0.8))
    board.add_run(bo, a_run(1, "relu", 0.95))
    assert board.add_run(ann, a_run(1, "sigmoid", 0.8)) == first  # the same run twice is one entry
    seen = board.board(code, key)
    assert seen["about"] == "activation" and seen["students"] == ["Ann", "Bo"] and seen["open"]
    assert [(r["nickname"], r["settings"]["activation"], r["figure"]) for r in seen["runs"]] == [("Ann", "sigmoid", 0.8), ("Bo", "relu", 0.95)]
    assert len(seen["runs"][0]["curves"]["loss"]) == board.MAX_POINTS  # thinned, ends kept
    assert seen["runs"][0]["curves"]["loss"][-1][0] == 499
    rows = list(csv.DictReader(io.StringIO(board.csv_text(code, key))))
    assert [(r["nickname"], r["activation"], r["figure"]) for r in rows] == [("Ann", "sigmoid", "0.8"), ("Bo", "relu", "0.95")]


def test_students_see_the_board_only_when_the_teacher_lets_them():
    code, key = board.open_class()
    board.add_run(board.join(code, "Ann"), a_run())
    hidden = board.board(code)
    assert not hidden["shown"] and hidden["runs"] == [] and hidden["students"] == ["Ann"]
    board.set_students_see(code, key, True)
    assert len(board.board(code)["runs"]) == 1 and not board.board(code)["teacher"]


def test_the_teachers_actions_need_the_teacher_key():
    code, key = board.open_class()
    entry = board.add_run(board.join(code, "Ann"), a_run())
    other_code, other_key = board.open_class()
    for wrong in ("", "nope", other_key, key[:-1], key + " "):
        refused("board.error.wrong_key", board.close_class, code, wrong)
        refused("board.error.wrong_key", board.remove_run, code, wrong, entry)
        refused("board.error.wrong_key", board.csv_text, code, wrong)
        refused("board.error.wrong_key", board.set_students_see, code, wrong, True)
    refused("board.error.wrong_key", board.board, code, "not the key")
    assert board.remove_run(code, key, entry) and not board.remove_run(code, key, entry)
    assert board.board(code, key)["runs"] == []


def test_closing_ends_joining_and_runs_but_keeps_the_board_for_the_teacher():
    code, key = board.open_class()
    ann = board.join(code, "Ann")
    board.add_run(ann, a_run(1))
    board.close_class(code, key)
    refused("board.error.no_class", board.join, code, "Bo")
    assert board.add_run(ann, a_run(2)) is None and board.student(ann) is None
    seen = board.board(code, key)
    assert not seen["open"] and len(seen["runs"]) == 1 and "Ann" in board.csv_text(code, key)


def test_a_class_expires_with_its_students_and_runs():
    code, key = board.open_class(now=1000.0)
    board.add_run(board.join(code, "Ann", now=1000.0), a_run(), now=1000.0)
    later = 1000.0 + board.limits()["days"] * board.DAY + 1
    refused("board.error.no_class", board.board, code, now=later)
    assert board.purge(later) == 1
    with sqlite3.connect(board.folder() / "board.sqlite3") as db:
        assert [db.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0] for t in ("classes", "students", "runs")] == [0, 0, 0]


@pytest.mark.parametrize("variable, key", [("DIGIT_LAB_CLASSES_OPEN", "board.error.classes_full"),
                                           ("DIGIT_LAB_CLASS_STUDENTS", "board.error.students_full"),
                                           ("DIGIT_LAB_CLASS_RUNS", "board.error.runs_full")])
def test_each_limit_is_said_in_words_when_reached(monkeypatch, variable, key):
    monkeypatch.setenv(variable, "2")
    code, _ = board.open_class()
    if key == "board.error.classes_full":
        board.open_class()
        error = refused(key, board.open_class)
    elif key == "board.error.students_full":
        board.join(code, "Ann"), board.join(code, "Bo")
        error = refused(key, board.join, code, "Cy")
    else:
        ann = board.join(code, "Ann")
        board.add_run(ann, a_run(1)), board.add_run(ann, a_run(2))
        error = refused(key, board.add_run, ann, a_run(3))
    assert "2" in error.say("en") and "2" in error.say("zh-CN")


def test_a_closed_class_frees_its_place():
    import os

    os.environ["DIGIT_LAB_CLASSES_OPEN"] = "1"
    try:
        code, key = board.open_class()
        refused("board.error.classes_full", board.open_class)
        board.close_class(code, key)
        board.open_class()
    finally:
        del os.environ["DIGIT_LAB_CLASSES_OPEN"]


def test_wrong_codes_are_rate_limited_so_codes_cannot_be_walked(monkeypatch):
    monkeypatch.setenv("DIGIT_LAB_CLASS_TRIES", "3")
    code, _ = board.open_class()
    for guess in ("AAAAAA", "AAAAAB", "not a code"):
        refused("board.error.no_class", board.join, guess, "Eve", address="10.0.0.9")
    refused("board.error.too_many_tries", board.join, code, "Eve", address="10.0.0.9")  # even the right code, now
    refused("board.error.too_many_tries", board.board, code, address="10.0.0.9")
    assert board.join(code, "Ann", address="10.0.0.1")  # another address is not held up
    later = board.time.time() + board.TRIES_WINDOW + 1
    assert board.join(code, "Eve", address="10.0.0.9", now=later)


@pytest.mark.parametrize("nickname, key", [("", "board.error.nickname_empty"), ("   ", "board.error.nickname_empty"),
                                           (None, "board.error.nickname_empty"), ("x" * 25, "board.error.nickname_long"),
                                           ("Ann\nBo", "board.error.nickname_characters"), ("a\x00b", "board.error.nickname_characters"),
                                           ("abc\u202edef", "board.error.nickname_characters")])
def test_a_nickname_is_one_bounded_line(nickname, key):
    code, _ = board.open_class()
    refused(key, board.join, code, nickname)


def test_a_hostile_nickname_is_stored_as_given_and_kept_out_of_formulas():
    code, key = board.open_class()
    hostile = ["<img src=x onerror=f()>", "=HYPERLINK(\"x\")", "x'); DROP TABLE runs;--", "李雷 🚀"]
    tokens = [board.join(code, name) for name in hostile]
    for token in tokens:
        board.add_run(token, a_run())
    assert board.board(code, key)["students"] == hostile  # escaping is the page's, where it shows them
    rows = list(csv.reader(io.StringIO(board.csv_text(code, key))))[1:]
    assert [row[0] for row in rows] == ["<img src=x onerror=f()>", "'=HYPERLINK(\"x\")", "x'); DROP TABLE runs;--", "李雷 🚀"]
    refused("board.error.nickname_taken", board.join, code, "李雷 🚀")
    refused("board.error.nickname_taken", board.join, code, "X'); drop table RUNS;--")  # case does not make another


def test_a_token_is_no_student_of_any_other_class():
    code, _ = board.open_class()
    assert board.student("made-up") is None and board.student("") is None and board.student(None) is None
    assert board.add_run("made-up", a_run()) is None


def test_the_board_outlives_its_connection_and_a_reload_of_the_module(class_dir):
    code, key = board.open_class(about="activation")
    token = board.join(code, "Ann")
    board.add_run(token, a_run())
    reloaded = importlib.reload(board)
    assert reloaded.board(code, key)["runs"][0]["nickname"] == "Ann" and reloaded.student(token)["code"] == code
    code_in_child = (f"import os; os.environ['DIGIT_LAB_CLASS_DIR'] = {str(class_dir)!r}; from classroom import board;"
                     f" print(len(board.board({code!r}, {key!r})['runs']))")
    done = subprocess.run([sys.executable, "-c", code_in_child], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.stdout.strip() == "1", done.stderr


def test_threads_joining_at_once_keep_the_limit(monkeypatch):
    monkeypatch.setenv("DIGIT_LAB_CLASS_STUDENTS", "10")
    code, key = board.open_class()
    errors = []

    def join(number):
        try:
            board.add_run(board.join(code, f"s{number}"), a_run(number))
        except board.BoardError as error:
            errors.append(error.key)

    threads = [threading.Thread(target=join, args=(n,)) for n in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    seen = board.board(code, key)
    assert len(seen["students"]) == 10 == len(seen["runs"]) and errors == ["board.error.students_full"] * 6


def test_another_database_by_configuration(monkeypatch, tmp_path):
    """DIGIT_LAB_CLASS_CONNECT names the function that connects: here one to a file of our own."""
    monkeypatch.setenv("DIGIT_LAB_CLASS_CONNECT", "tests.test_class_board:elsewhere")
    monkeypatch.setenv("ELSEWHERE", str(tmp_path / "elsewhere.sqlite3"))
    code, key = board.open_class()
    assert board.board(code, key)["code"] == code and (tmp_path / "elsewhere.sqlite3").exists()
    assert not (board.folder() / "board.sqlite3").exists()


def elsewhere():
    import os

    return sqlite3.connect(os.environ["ELSEWHERE"], isolation_level=None)


def test_the_storage_is_in_the_folder_the_environment_names(class_dir, monkeypatch):
    board.open_class()
    assert (class_dir / "board.sqlite3").exists()
    monkeypatch.delenv("DIGIT_LAB_CLASS_DIR")
    assert board.folder().name == "digit-lab-class"


def test_the_board_needs_no_torch_nor_gradio():
    code = "import sys, classroom.board; print('torch' in sys.modules or 'gradio' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.stdout.strip() == "False", done.stderr
