"""The class board through the app's API (gradio_client against a launched app.py with small
limits): a class opened and joined, a student's finished run on the board, the limits, bad codes,
a wrong teacher key and a hostile nickname said in words, and the board surviving a restart of the
app on the same folder."""
import time

import pytest
from gradio_client import Client
from gradio_client.exceptions import AppError

from tests.conftest import launch_app, stop_app

LIMITS = {"DIGIT_LAB_CLASS_STUDENTS": "4", "DIGIT_LAB_CLASS_TRIES": "4", "DIGIT_LAB_CLASS_RUNS": "2"}


class App:
    def __init__(self, folder, runs):
        self.env = {"DIGIT_LAB_CLASS_DIR": str(folder), "DIGIT_LAB_RUNS_DIR": str(runs), "DIGIT_LAB_TRAIN_THREADS": "1",
                    "DIGIT_LAB_TRAIN_UPDATE_SECONDS": "0.5", "DIGIT_LAB_TRAIN_MAX_SECONDS": "120", **LIMITS}
        self.process, self.url = launch_app(self.env, timeout=600)

    def restart(self):
        stop_app(self.process)
        self.process, self.url = launch_app(self.env, timeout=600)

    def client(self, language: str | None = None) -> Client:
        """A new visitor (a session of its own)."""
        return Client(self.url, verbose=False, headers={"Accept-Language": language} if language else None)


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    served = App(tmp_path_factory.mktemp("class"), tmp_path_factory.mktemp("runs"))
    yield served
    stop_app(served.process)


def open_class(app, **settings):
    code, key, words = app.client().predict(api_name="/class_open", **settings)
    assert code in words and len(key) >= 16
    return code, key


def test_a_class_is_opened_joined_and_read_with_its_code(app):
    code, key = open_class(app)
    student = app.client()
    said = student.predict(code.lower(), "Ann", api_name="/class_join")[0]
    assert code in said and "Ann" in said
    teacher_view = app.client().predict(code, key, api_name="/class_board")
    assert teacher_view["students"] == ["Ann"] and teacher_view["shown"] and teacher_view["about"] == "activation"
    student_view = student.predict(code, api_name="/class_board")
    assert student_view["students"] == ["Ann"] and not student_view["shown"] and student_view["runs"] == []
    assert key not in str(student_view) and key not in said


def test_a_wrong_teacher_key_is_refused_in_the_callers_language(app):
    code, key = open_class(app)
    with pytest.raises(AppError, match="That is not this class's teacher key"):
        app.client().predict(code, key[:-2], api_name="/class_close")
    with pytest.raises(AppError, match="这不是这个班级的老师密钥"):
        app.client("zh-CN").predict(code, "nope", api_name="/class_board")
    assert app.client().predict(code, key, api_name="/class_board")["open"]


def test_a_hostile_nickname_is_kept_as_text_and_bounded(app):
    code, key = open_class(app)
    said = app.client().predict(code, "<img src=x onerror=f()>", api_name="/class_join")[0]
    assert "<img" not in said and "&lt;img" in said
    assert app.client().predict(code, key, api_name="/class_board")["students"] == ["<img src=x onerror=f()>"]
    with pytest.raises(AppError, match="at most 24 characters"):
        app.client().predict(code, "x" * 200, api_name="/class_join")
    with pytest.raises(AppError, match="one line of text"):
        app.client().predict(code, "a\nb", api_name="/class_join")


def test_the_students_limit_is_said_when_reached(app):
    code, _ = open_class(app)
    for name in ("a", "b", "c", "d"):
        app.client().predict(code, name, api_name="/class_join")
    with pytest.raises(AppError, match="This class has 4 students, the most a class may have"):
        app.client().predict(code, "e", api_name="/class_join")


@pytest.mark.slow
def test_a_students_finished_run_reaches_the_board_and_outlives_a_restart(app):
    code, key = open_class(app, about="activation", students_see=True)
    student = app.client()
    student.predict(code, "Bo", api_name="/class_join")
    teacher = app.client()
    student.predict(kind="cnn", epochs=1, batch_size=256, train_digits=100, activation="sigmoid", api_name="/train")
    finished = time.monotonic()
    while not (runs := teacher.predict(code, key, api_name="/class_board")["runs"]) and time.monotonic() - finished < 10:
        time.sleep(0.2)
    waited = time.monotonic() - finished
    assert runs, "the run is not on the board"
    print(f"on the board {waited:.2f} s after /train returned")
    assert waited < 2
    run = runs[0]
    assert run["nickname"] == "Bo" and run["kind"] == "cnn" and run["figure_name"] == "held_out_accuracy"
    assert run["settings"]["activation"] == "sigmoid" and run["settings"]["digits"] == 100 and run["settings"]["epochs"] == 1
    assert 0 <= run["figure"] <= 1 and run["curves"]["held_out_accuracy"] and run["seconds"] > 0
    assert student.predict(code, api_name="/class_board")["runs"][0]["nickname"] == "Bo"  # the teacher lets students see

    app.restart()
    after = app.client().predict(code, key, api_name="/class_board")
    assert after["runs"] == runs and after["students"] == ["Bo"]
    assert app.client().predict(code, key, api_name="/class_close") and not app.client().predict(code, key, api_name="/class_board")["open"]
    with pytest.raises(AppError, match="no open class with that code"):
        app.client().predict(code, "Cy", api_name="/class_join")


def test_wrong_codes_cannot_be_walked(app):
    """Last in the file: it uses up this address's tries (a join of a closed class above was one)."""
    code, _ = open_class(app)
    said = []
    for guess in ("AAAAAA", "BBBBBB", "CCCCCC", "DDDDDD", "EEEEEE"):
        with pytest.raises(AppError) as error:
            app.client().predict(guess, "Eve", api_name="/class_join")
        said.append(str(error.value))
    assert "no open class with that code" in said[0] and "Too many wrong class codes from here" in said[-1]
    with pytest.raises(AppError, match="Too many wrong class codes from here"):
        app.client().predict(code, "Eve", api_name="/class_join")  # the right code too, now
    with pytest.raises(AppError, match="Too many wrong class codes"):
        app.client().predict(code, api_name="/class_board")
