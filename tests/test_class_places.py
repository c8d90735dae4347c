"""A class's students from one address training in turn (visitors/limits.py's PLACES,
tabs/train/tab.py's `_seat`, classroom/): a school behind one router is one address to the app,
which gives an address two training places. A teacher opens a class, its students join and press
Start at the same moment, all from 127.0.0.1: every run is taken (the class's places are the
class's, not the address's), the queue trains them one after the other and each ends with a model;
visitors from the same address who are not in the class still hold only the address's two places,
and the third is told why and when to try again. The class itself never holds more places than it
may have students, however many pages a student opens (the one way to pass it, checked without a
server: the API gives a session one run)."""
import json
import uuid
from pathlib import Path
from types import SimpleNamespace

import pytest
from gradio_client.exceptions import AppError

from tests.conftest import launch_app, stop_app
from tests.test_class_api import open_class
from tests.test_limits_api import first_answer
from tests.train_client import OUT, value

SIZE = 3  # the class's size (DIGIT_LAB_CLASS_STUDENTS)
PLACES = 2  # an address's places, the app's own default (the suite's apps allow 50)
# Tiny runs: 100 digits, two steps; most of a run is torch starting and the ONNX export.
RUN = dict(kind="cnn", epochs=1, batch_size=64, train_digits=100, api_name="/train")


class School:
    """The launched app with the real per-address places; every visitor a Client from 127.0.0.1."""

    def __init__(self, folder: Path, runs: Path):
        self.runs = runs
        self.process, self.url = launch_app({
            "DIGIT_LAB_PLACES_PER_ADDRESS": str(PLACES), "DIGIT_LAB_CLASS_STUDENTS": str(SIZE),
            "DIGIT_LAB_CLASS_DIR": str(folder), "DIGIT_LAB_RUNS_DIR": str(runs), "DIGIT_LAB_TRAIN_THREADS": "1",
            "DIGIT_LAB_TRAIN_UPDATE_SECONDS": "0.25", "DIGIT_LAB_TRAIN_MAX_STEPS": "2",
            "DIGIT_LAB_TRAIN_MAX_SECONDS": "60"}, timeout=600)

    def client(self):
        """A new visitor; patient, as test_limits_api's: Starts at once meet a server importing torch."""
        from gradio_client import Client

        return Client(self.url, verbose=False, httpx_kwargs={"timeout": 120})


@pytest.fixture(scope="module")
def school(tmp_path_factory):
    served = School(tmp_path_factory.mktemp("class"), tmp_path_factory.mktemp("runs"))
    yield served
    stop_app(served.process)


def held(card: Path) -> tuple[float, float]:
    """When a run held the server's one training place, by the server's clock: from leaving the
    queue (its card's wall time counts from there) to its card, written last, once exported."""
    ended = card.stat().st_mtime
    return ended - json.loads(card.read_text())["wall_seconds"], ended


@pytest.mark.slow
def test_a_class_behind_one_address_trains_in_turn_and_others_there_keep_their_two_places(school):
    code, _ = open_class(school)
    students = [school.client() for _ in range(SIZE)]
    for number, student in enumerate(students):
        assert code in student.predict(code, f"Student {number}", api_name="/class_join")[0]
    with pytest.raises(AppError, match=f"This class has {SIZE} students"):
        school.client().predict(code, "One too many", api_name="/class_join")

    jobs = [student.submit(**RUN) for student in students]  # Start, all at the same moment
    answers = [first_answer(job) for job in jobs]
    # all taken, though more than the address's places: none refused for the address
    assert [what for what, _ in answers] == ["started"] * SIZE, answers
    assert sum("waiting its turn" in said for _, said in answers) == SIZE - 1, answers  # one at a time

    # The same address's visitors outside the class: the address's own two places, no more
    outsiders = [school.client() for _ in range(PLACES + 1)]
    tries = [outsider.submit(**RUN) for outsider in outsiders]
    told = [first_answer(job) for job in tries]
    taken = [outsider for outsider, (what, _) in zip(outsiders, told) if what == "started"]
    refused = [said for what, said in told if what == "refused"]
    for outsider in taken:  # out of the queue at once: the students' runs are what this test waits for
        outsider.predict(api_name="/stop_training")
    assert len(taken) == PLACES and len(refused) == 1, told
    assert f"Your address already holds {PLACES} of the {PLACES} training places" in refused[0], refused
    assert "Try again" in refused[0], refused

    for job in jobs:  # each student's run ends with a model of their own
        outputs = job.result(timeout=240)
        status, files = value(outputs[OUT["status"]]), {Path(f).name for f in value(outputs[OUT["files"]])}
        assert "CNN run finished" in status and "cnn.onnx" in files, (status, files)
    cards = list(school.runs.glob("*-cnn-*/run.json"))
    assert len(cards) == SIZE, cards  # the outsiders' runs left the queue before training
    timeline = sorted(held(card) for card in cards)
    start = timeline[0][0]
    print("the class's runs held the place (s):", [(round(a - start, 1), round(b - start, 1)) for a, b in timeline])
    for (_, ended), (began, _) in zip(timeline, timeline[1:]):
        assert began > ended - 0.2, timeline  # in turn: each began once the one before had ended (0.1 s: rounding)


def test_a_class_holds_no_more_places_than_it_may_have_students(monkeypatch, tmp_path):
    """One student's pages (a reload, a second tab: each attached to the student at Start) share
    the class's places with the rest of the class: at most the class's size in all, and the refusal
    says so in words."""
    import gradio as gr

    from classroom import board, hook
    from tabs.train import tab
    from visitors import limits

    monkeypatch.setenv("DIGIT_LAB_CLASS_DIR", str(tmp_path))
    monkeypatch.setenv("DIGIT_LAB_CLASS_STUDENTS", str(SIZE))
    monkeypatch.setenv(limits.PLACES_ENV, str(PLACES))
    code, _ = board.open_class()
    token = board.join(code, "Ann", address="127.0.0.1")
    pages = [SimpleNamespace(session_hash=uuid.uuid4().hex, client=SimpleNamespace(host="127.0.0.1"), headers={})
             for _ in range(SIZE + 1)]
    seats = []
    try:
        for page in pages:
            hook.attach(page.session_hash, token)
        seats = [tab._seat(page, "en") for page in pages[:SIZE]]
        assert {seat.key for seat in seats} == {f"class:{code}"} and limits.PLACES.held(f"class:{code}") == SIZE
        with pytest.raises(gr.Error, match=f"Your class already holds {SIZE} of the {SIZE} training places") as refused:
            tab._seat(pages[SIZE], "en")
        assert "Try again when one of the class's runs has ended" in str(refused.value)
        with pytest.raises(gr.Error, match="你的班级已占用"):
            tab._seat(pages[SIZE], "zh-CN")
        # ... while the same address keeps its own places for its visitors outside the class
        outside = SimpleNamespace(session_hash=uuid.uuid4().hex, client=SimpleNamespace(host="127.0.0.1"), headers={})
        seats.append(tab._seat(outside, "en"))
        assert seats[-1].key == "127.0.0.1"
    finally:
        for seat in seats:
            seat.release()
        for page in pages:
            hook.detach(page.session_hash)
