"""What a visitor made outlives other visitors and a reload of the page: their corrections, their
own digit set, their runs and the models swapped into their Draw and Generate tabs.

The page holds one thing, in its browser (gr.BrowserState, Gradio's encrypted localStorage): a
random key the server made ({"key", "store"}). At page load the server binds the page's session
to that key and gives back what the vault (visitors/vault.py) keeps under it; from then on each
write of those gr.State values is kept there too, and a session Gradio pushed out is refilled from
it (visitors/kept.py). The browser never sends a path or a picture: a model is kept as a run's id
and kind, mapped here to `<runs folder>/<run id>/<kind>.onnx` only when that id has a run's form
and the file is there; everything read back from the vault is checked again (shapes, ranges,
counts). What is gone (its age, a server that restarted with an empty disk) is said in words at
the top of the page, with the models the page now uses. Words: locales `keep.*`.
"""
import logging
import re
from pathlib import Path

import gradio as gr
import numpy as np

import locales
from inference.my_digits import MAX_DIGITS
from runs import jobs
from tabs.train import my_runs as train_runs
from tabs.draw.tab import MAX_CORRECTIONS
from training import settings
from visitors import limits
from visitors import folders
from visitors import vault as vaults
from visitors.kept import KEPT, install

log = logging.getLogger(__name__)

STORAGE_KEY = "digit-lab-visitor"
# Gradio encrypts a BrowserState in localStorage with this. It is no secret from the visitor (their
# own key) and is fixed, so a restarted server still reads an earlier key and can say what is gone.
SECRET = "digit-lab-visitor-v1"
RUN_ID = re.compile(r"\d{8}-\d{6}-(cnn|gan)-[0-9a-f]{6}")
KINDS = ("cnn", "gan")
RECORD_KEYS = {"number", "id", "kind", "arch", "knobs", "dataset", "epochs", "metric", "curve", "final", "seconds", "stopped"}
TABS = {"cnn": "app.tab.draw", "gan": "app.tab.generate"}
NAMES = ("cnn_path", "gan_path", "corrections", "mine", "runs")  # the restore's outputs, in order
RUNS: Path = Path(settings.load().runs_dir).resolve()


# -- what the vault keeps of each State, and how it is read back ---------------------------------
def model_ref(path) -> dict | None:
    """A model as the vault keeps it: its run's id and kind, for a run's model under the runs folder
    only (anything else, the shipped ones included, is kept as None)."""
    if not path:
        return None
    try:
        resolved = Path(str(path)).resolve()
    except (OSError, ValueError, RuntimeError):
        return None
    kind = resolved.stem
    if kind in KINDS and resolved.suffix == ".onnx" and resolved.parent.parent == RUNS and RUN_ID.fullmatch(resolved.parent.name):
        return {"run": resolved.parent.name, "kind": kind}
    return None


def model_path(ref) -> tuple[str | None, dict | None]:
    """(the model's path, None), or (None, the ref) where its files are gone; (None, None) for
    none or a ref not of a run's form."""
    if not isinstance(ref, dict):
        return None, None
    run, kind = ref.get("run"), ref.get("kind")
    if not (isinstance(run, str) and RUN_ID.fullmatch(run) and kind in KINDS):
        return None, None
    path = RUNS / run / f"{kind}.onnx"
    if path.is_file():
        folders.touch(path.parent)  # in use: the runs' pruning counts age from here
        return str(path), None
    return None, {"run": run, "kind": kind}


def pairs_out(pairs) -> dict | None:
    pairs = list(pairs or [])
    if not pairs:
        return None
    return {"images": np.stack([np.asarray(image, np.float32).reshape(28, 28) for image, _ in pairs]),
            "digits": np.array([int(digit) for _, digit in pairs], np.int64)}


def pairs_in(kept, most: int) -> tuple[list, None]:
    """The (28x28 float32 image in [0,1], digit 0-9) pairs, at most `most`; ValueError otherwise."""
    images, digits = (kept.get(k) if isinstance(kept, dict) else None for k in ("images", "digits"))
    if not (isinstance(images, np.ndarray) and isinstance(digits, np.ndarray)):
        raise ValueError("not pairs")
    if images.dtype != np.float32 or images.ndim != 3 or images.shape[1:] != (28, 28) or len(images) > most:
        raise ValueError("not 28x28 float32 images, or too many")
    if digits.shape != (len(images),) or digits.dtype.kind not in "iu" or (len(digits) and (digits.min() < 0 or digits.max() > 9)):
        raise ValueError("digits not 0-9")
    if len(images) and (not np.isfinite(images).all() or images.min() < 0 or images.max() > 1):
        raise ValueError("images not in [0, 1]")
    return [(images[i].copy(), int(digits[i])) for i in range(len(images))], None


def runs_out(runs) -> list | None:
    kept = [{**{k: v for k, v in run.items() if k not in ("model_path", "files")}, "model": model_ref(run.get("model_path"))}
            for run in runs or []]
    return kept or None


def runs_in(kept) -> tuple[list, list[int]]:
    """The runs' records (their files found again), and the numbers of those whose model is gone."""
    if not isinstance(kept, list):
        raise ValueError("not a list of runs")
    runs, gone = [], []
    for record in kept[-train_runs.KEEP:]:
        if not (isinstance(record, dict) and RECORD_KEYS <= set(record) and isinstance(record["number"], int)
                and isinstance(record["id"], str) and RUN_ID.fullmatch(record["id"]) and record["kind"] in KINDS):
            continue
        ref = record.get("model")
        path, lost = model_path(ref) if isinstance(ref, dict) and ref.get("run") == record["id"] else (None, None)
        if lost:
            gone.append(record["number"])
        runs.append({**{k: v for k, v in record.items() if k != "model"}, "model_path": path, "files": jobs.run_files(path),
                     "curve": [tuple(point) for point in record["curve"]]})
    return runs, gone


# -- the page --------------------------------------------------------------------------------------
def _run_number(runs, ref: dict) -> str:
    return next((str(r["number"]) for r in runs or [] if r["id"] == ref["run"]), "?")


def restore(visitor, request: gr.Request):
    """At page load: bind this session to the browser's key (a new one where it holds none, or one
    this server does not know) and give the page what is kept under it, saying what is gone.
    -> (the browser's value, the notice, then each of NAMES: its value or gr.skip())."""
    lang = locales.language(request)
    say = locales.words(lang)
    vault = KEPT.vault
    held = visitor if isinstance(visitor, dict) else {}
    key, lines = held.get("key"), []
    days = round(vault.max_age / folders.DAY)
    if visitor not in (None, "", {}) and not vaults.is_key(key):
        lines.append(say("keep.refused"))
        key = None
    elif key and held.get("store") != vault.id:  # a key from an earlier store: nothing under it can be here
        lines.append(say("keep.gone.restart"))
        key = None
    elif key and (why := vault.gone_why(key)):
        lines.append(say(f"keep.gone.{why}", days=days, mb=round(vault.address_bytes / 2**20) if vault.address_bytes else 0))
    key = key or vaults.new_key()
    vault.claim(key, limits.address(request))  # what this page keeps counts against its address's share
    loaded = KEPT.load(key)
    values = {name: value for name, (value, _) in loaded.items()}
    gone = {name: lost for name, (_, lost) in loaded.items() if lost}
    session = getattr(request, "session_hash", None)
    if session:  # what is gone is written back as gone, so it is said once
        KEPT.bind(session, key, {n: v for n, v in values.items() if n not in gone}, working=bool(loaded))
    what = [say(word, count=len(values[name])) for name, word in
            (("corrections", "keep.corrections"), ("mine", "keep.mine"), ("runs", "keep.runs")) if values.get(name)]
    if what:
        lines.insert(0, say("keep.back", what=say("keep.and").join(what)))
    runs_days = round(folders.runs_bounds()[1] / folders.DAY)
    for name in ("cnn_path", "gan_path"):
        if name in gone:
            ref = gone[name]
            lines.append(say("keep.gone.model", model=ref["kind"].upper(), number=_run_number(values.get("runs"), ref),
                             days=runs_days, tab=say(TABS[ref["kind"]])))
    if gone.get("runs"):
        lines.append(say("keep.gone.runs", numbers=say("keep.and").join(map(str, gone["runs"]))))
    if not vault.room():
        lines.append(say("keep.full"))
    if lines:
        lines.append(say("keep.now", note=train_runs.note(values.get("runs"), values.get("cnn_path"), values.get("gan_path"), lang)))
    notice = gr.update(value="\n\n".join(lines), visible=bool(lines))
    return {"key": key, "store": vault.id}, notice, *[values[name] if name in values else gr.skip() for name in NAMES]


def train_view(runs, cnn_path, gan_path, request: gr.Request):
    """The Train tab's note, comparison, table and choice of runs for what this session holds (after
    a restore, and when the tab is opened); nothing to change for a session with nothing of its own."""
    if not runs and not cnn_path and not gan_path:
        return [gr.skip()] * 4
    lang = locales.language(request)
    kind = runs[-1]["kind"] if runs else "cnn"
    return (train_runs.note(runs, cnn_path, gan_path, lang), train_runs.compare_chart(runs, kind, lang),
            train_runs.table(runs, lang), gr.update(choices=train_runs.choices(runs, lang)))


def build():
    """The browser's key and the notice (hidden until there is something to say): at the top of
    the page, before the tabs."""
    visitor = gr.BrowserState(None, storage_key=STORAGE_KEY, secret=SECRET)
    notice = gr.Markdown("", visible=False, elem_id="keep-news")
    return visitor, notice


def wire(demo: gr.Blocks, visitor, notice, states: dict, train_tab=None, train_views=None) -> None:
    """Keep `states` (NAMES -> gr.State) for the visitor, and restore them at page load."""
    if KEPT.vault is None:
        KEPT.vault = vaults.from_environment(RUNS)
        install()
    for name, encode, decode in (("cnn_path", model_ref, model_path), ("gan_path", model_ref, model_path),
                                 ("corrections", pairs_out, lambda kept: pairs_in(kept, MAX_CORRECTIONS)),
                                 ("mine", pairs_out, lambda kept: pairs_in(kept, MAX_DIGITS)),
                                 ("runs", runs_out, runs_in)):
        KEPT.keep(states[name], name, encode, decode)
    quiet = dict(show_progress="hidden", queue=False)
    restored = demo.load(restore, visitor, [visitor, notice, *[states[name] for name in NAMES]],
                     api_name="keep_restore", api_visibility="undocumented", **quiet)
    if train_views:
        shown = [states["runs"], states["cnn_path"], states["gan_path"]]
        restored.then(train_view, shown, train_views, api_visibility="private", **quiet)
        if train_tab is not None:
            train_tab.select(train_view, shown, train_views, api_visibility="private", **quiet)
