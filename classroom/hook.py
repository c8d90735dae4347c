"""Where a finished run meets the class board: which page (a Gradio session, the runs' owner) is
which student, and `finished(run)`, the one call runs/jobs.py makes once a run is exported.
Torch-free; the board's own errors never reach the run."""
import logging
import threading
from collections import OrderedDict

from classroom import board
from training import knob_list, knobs

MAX_MEMBERS = 5000  # pages remembered at once; the oldest forgotten first (their page re-attaches on load)
FIGURES = {"cnn": "held_out_accuracy", "gan": "label_fidelity"}
CURVES = {"cnn": ("held_out_accuracy", "loss"), "gan": ("label_fidelity", "g_loss", "d_loss")}

log = logging.getLogger(__name__)
_members: "OrderedDict[str, str]" = OrderedDict()
_lock = threading.Lock()


def attach(owner: str, token: str) -> None:
    """From now on the runs of the page `owner` go to the board of the student with `token`."""
    with _lock:
        _members.pop(owner, None)
        _members[owner] = token
        while len(_members) > MAX_MEMBERS:
            _members.popitem(last=False)


def detach(owner: str) -> None:
    with _lock:
        _members.pop(owner, None)


def token_of(owner: str) -> str | None:
    with _lock:
        return _members.get(owner)


def settings_of(request) -> dict:
    """Every knob the run trained with, its architecture's own where the visitor left it unset, so
    a run left at ReLU is grouped with the runs set to ReLU."""
    own = knobs.defaults(request.kind, request.arch)
    chosen = {name: request.knobs.get(name, own.get(name)) for name in knobs.VISITOR_KNOBS[request.kind]}
    chosen.update(kind=request.kind, epochs=request.epochs, lr=request.lr or own.get("lr"), batch_size=request.batch_size,
                  dataset=request.dataset, seed=request.seed)
    return {knob_list.SHORT_NAMES.get(name, name): value  # as a link names them: "group by" and a lesson's keys agree
            for name, value in chosen.items()}


def entry(view) -> dict:
    """The board's entry for a finished run (a RunView)."""
    figure_name = FIGURES[view.kind]
    figures = {**view.metrics, **view.exported_metrics}
    curves = {key: [(step, value) for step, k, value in view.points if k == key] for key in CURVES[view.kind]}
    return {"run_id": view.id, "kind": view.kind, "settings": settings_of(view.request), "figure_name": figure_name,
            "figure": figures.get(figure_name), "curves": {k: v for k, v in curves.items() if v}, "seconds": view.elapsed}


def finished(run) -> None:
    """A run has ended and been exported: onto its student's board, if its page joined a class."""
    token = token_of(run.owner)
    if token is None:
        return
    try:
        view = run.view()
        if view.state == "finished" and view.model_path:
            board.add_run(token, entry(view))
    except board.BoardError as said:  # a limit reached: the page says it when it next looks
        log.info("class board: %s", said)
    except Exception:  # the board is an extra: a run is never failed by it
        log.exception("class board: the run was not added")
