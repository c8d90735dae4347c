"""What a visitor made outlives other visitors and a reload (tabs/keep.py, visitors/vault.py,
visitors/kept.py): the vault's bounds by bytes and age, what it refuses to read back, the runs'
folders pruned by age and bytes, and through the launched app a visitor A whose two corrections and
swapped-in model survive more strangers than Gradio keeps sessions for, come back to a fresh client holding A's key (a reload),
and are not given to a forged key."""
import json
import os
import re
import time
import uuid

import numpy as np
import pytest

from visitors import vault as vaults
from visitors.folders import prune_folders


def small_vault(tmp_path, max_bytes=200_000, max_age=3600.0, entry_bytes=100_000):
    return vaults.Vault(tmp_path / "vault", max_bytes, max_age, entry_bytes)


def test_the_vault_keeps_arrays_and_json_under_a_key_it_never_writes_down(tmp_path):
    vault = small_vault(tmp_path)
    key = vaults.new_key()
    images = np.random.default_rng(0).random((3, 28, 28), dtype=np.float32)
    vault.save(key, "corrections", {"images": images, "digits": np.array([1, 2, 3])})
    vault.save(key, "runs", [{"number": 1}])
    kept = vault.load(key)
    np.testing.assert_array_equal(kept["corrections"]["images"], images)
    assert kept["runs"] == [{"number": 1}]
    on_disk = "".join(str(p) + p.read_bytes().decode("latin-1") for p in (tmp_path / "vault").rglob("*") if p.is_file())
    assert key not in on_disk
    assert vault.load(vaults.new_key()) == {} and not vault.has("../../etc/passwd") and not vault.has(None)
    vault.save(key, "runs", None)  # None forgets it
    assert "runs" not in vault.load(key)


def test_the_vault_refuses_what_passes_its_bytes_rather_than_pushing_anyone_out(tmp_path):
    vault = small_vault(tmp_path, max_bytes=120_000, entry_bytes=70_000)
    first, second, third = (vaults.new_key() for _ in range(3))
    blob = {"images": np.zeros((20, 28, 28), np.float32)}  # 62.7 kB
    vault.save(first, "corrections", blob)
    with pytest.raises(vaults.Full):
        vault.save(first, "mine", blob)  # one entry's bound
    vault.save(second, "corrections", {"images": np.zeros((10, 28, 28), np.float32)})
    with pytest.raises(vaults.Full):
        vault.save(third, "corrections", blob)  # the store's bound
    assert "corrections" in vault.load(first) and "corrections" in vault.load(second) and not vault.has(third)
    assert not vault.room()


def test_work_unused_past_its_age_is_swept(tmp_path):
    vault = small_vault(tmp_path, max_age=60)
    old, fresh = vaults.new_key(), vaults.new_key()
    vault.save(old, "runs", [1])
    vault.save(fresh, "runs", [2])
    hour_ago = time.time() - 3600
    os.utime(vault._entry(old), (hour_ago, hour_ago))
    vault.sweep(force=True)
    assert not vault.has(old) and vault.load(fresh) == {"runs": [2]}
    assert small_vault(tmp_path).id == vault.id  # the same store after a restart that kept the disk


def test_a_file_that_does_not_read_back_as_written_is_left_out(tmp_path):
    vault = small_vault(tmp_path)
    key = vaults.new_key()
    vault.save(key, "runs", [1])
    entry = vault._entry(key)
    (entry / "mine.npz").write_bytes(b"not an npz")
    (entry / "corrections.json").write_text("{")
    np.save(entry / "evil.npy", np.array([object()], dtype=object), allow_pickle=True)
    assert vault.load(key) == {"runs": [1]}


def test_run_folders_are_pruned_by_age_and_bytes_never_by_count(tmp_path):
    runs = tmp_path / "runs"
    now = time.time()
    for i in range(150):  # far more than the old count (100), all recent and small: all stay
        folder = runs / f"20250101-{i:06d}-cnn-{i:06x}"
        folder.mkdir(parents=True)
        (folder / "cnn.onnx").write_bytes(b"x" * 1000)
    (runs / "visitors").mkdir()  # not a run: never pruned
    pattern = re.compile(r"\d{8}-\d{6}-[a-z]+-[0-9a-f]{6}")
    assert prune_folders(runs, 10**6, 3600, only=pattern) == []
    folders = sorted(p for p in runs.iterdir() if p.name != "visitors")
    os.utime(folders[0], (now - 7200, now - 7200))  # unused for two hours
    for age, folder in enumerate(folders[1:11]):
        os.utime(folder, (now - 1000 + age, now - 1000 + age))  # the least recently used next
    deleted = prune_folders(runs, 140 * 1000, 3600, keep=(folders[1],), only=pattern)
    assert folders[0] in deleted and folders[1] not in deleted  # too old; in use by the new run
    assert set(deleted) == {folders[0], *folders[2:11]} and (runs / "visitors").is_dir()


def test_what_the_vault_gives_back_is_checked_again(monkeypatch, tmp_path):
    from tabs import keep

    monkeypatch.setattr(keep, "RUNS", tmp_path)
    pairs, _ = keep.pairs_in({"images": np.full((2, 28, 28), 0.5, np.float32), "digits": np.array([3, 9])}, 5)
    assert [d for _, d in pairs] == [3, 9] and pairs[0][0].shape == (28, 28)
    bad = [
        {"images": np.full((2, 28, 28), np.nan, np.float32), "digits": np.array([3, 9])},
        {"images": np.full((2, 28, 28), 2.0, np.float32), "digits": np.array([3, 9])},
        {"images": np.zeros((2, 28, 28), np.float64), "digits": np.array([3, 9])},
        {"images": np.zeros((2, 14, 14), np.float32), "digits": np.array([3, 9])},
        {"images": np.zeros((2, 28, 28), np.float32), "digits": np.array([3, 10])},
        {"images": np.zeros((6, 28, 28), np.float32), "digits": np.zeros(6, int)},  # over the count
        {"images": "x", "digits": None}, [1, 2],
    ]
    for kept in bad:
        with pytest.raises(ValueError):
            keep.pairs_in(kept, 5)
    run = tmp_path / "20250101-120000-cnn-abcdef"
    run.mkdir()
    (run / "cnn.onnx").write_bytes(b"onnx")
    ref = keep.model_ref(str(run / "cnn.onnx"))
    assert ref == {"run": run.name, "kind": "cnn"} and keep.model_path(ref) == (str(run / "cnn.onnx"), None)
    (tmp_path / "elsewhere.onnx").write_bytes(b"onnx")
    for forged in ("/etc/passwd", str(tmp_path / "elsewhere.onnx"), str(run / "cnn.pt"), str(run / ".." / ".." / "x.onnx")):
        assert keep.model_ref(forged) is None, forged
    for forged in ({"run": "../../etc", "kind": "cnn"}, {"run": run.name, "kind": "../cnn"}, {"run": run.name + "/..", "kind": "cnn"},
                   "/etc/passwd", [run.name], None):
        assert keep.model_path(forged) == (None, None), forged
    assert keep.model_path({"run": "20250101-120000-cnn-000000", "kind": "cnn"}) == (None, {"run": "20250101-120000-cnn-000000", "kind": "cnn"})


# -- through the launched app ---------------------------------------------------------------------
@pytest.fixture(scope="module")
def keep_app(tmp_path_factory):
    from tests.conftest import launch_app, stop_app

    runs = tmp_path_factory.mktemp("keep-runs")
    process, url = launch_app({"DIGIT_LAB_RUNS_DIR": str(runs), "DIGIT_LAB_TRAIN_MAX_STEPS": "3", "DIGIT_LAB_TRAIN_THREADS": "1",
                               "DIGIT_LAB_TRAIN_UPDATE_SECONDS": "0.5",
                               "DIGIT_LAB_SESSIONS": str(SESSIONS)}, timeout=300)
    yield url, runs
    stop_app(process)


SESSIONS = 10  # Gradio's table of sessions, made small here so a few strangers fill it (200 on a Space)


def words(notice) -> str:
    """The notice's text (the restore sends it as an update, with its visibility)."""
    return (notice.get("value") or "") if isinstance(notice, dict) else (notice or "")


def reading(client, strokes) -> dict:
    label = client.predict(strokes, api_name="/classify_strokes")[0]
    return {c["label"]: c["confidence"] for c in label["confidences"]}


@pytest.mark.slow
def test_a_visitors_work_outlives_more_strangers_than_the_server_keeps_and_a_reload(keep_app):
    from gradio_client import Client

    from tests.draw_digits import page_digit

    url, runs = keep_app
    strokes = page_digit(4, np.random.default_rng(7), 0.6)
    moving = json.dumps({**json.loads(strokes), "up": False})  # a reading while the pen moves: both CNNs, no saliency
    a = Client(url, verbose=False)
    browser, notice = a.predict(None, api_name="/keep_restore")  # the page's load: a new key
    assert vaults.is_key(browser["key"]) and not words(notice), notice
    shipped = reading(a, strokes)
    assert "1 correction " in a.predict("8", api_name="/correct")
    reading(a, page_digit(3, np.random.default_rng(8), 0.6))
    assert "2 corrections" in a.predict("3", api_name="/correct")
    outputs = a.predict(kind="cnn", epochs=1, train_digits=100, api_name="/train")
    assert "CNN run finished" in json.dumps(outputs[0], ensure_ascii=False), outputs[0]
    own = reading(a, strokes)
    assert max(abs(own.get(d, 0) - shipped.get(d, 0)) for d in {*own, *shipped}) > 0.02, (own, shipped)  # three steps: not the shipped

    others = Client(url, verbose=False)
    for _ in range(SESSIONS + 10):  # each a session of its own, as a new page would be: A's is pushed out of Gradio's table
        others.session_hash = str(uuid.uuid4())
        others.predict(moving, api_name="/classify_strokes")
    assert reading(others, strokes) == pytest.approx(shipped, abs=1e-6)  # a stranger: the shipped model

    assert reading(a, strokes) == pytest.approx(own, abs=1e-6)  # A's model, still in use
    assert "3 corrections" in a.predict("5", api_name="/correct")

    reloaded = Client(url, verbose=False)  # the same browser, after a reload: a new session, A's key
    again, notice = reloaded.predict(browser, api_name="/keep_restore")
    said = words(notice)
    assert again["key"] == browser["key"] and "3 correction(s)" in said and "1 training run(s)" in said and "run 1" in said, said
    assert reading(reloaded, strokes) == pytest.approx(own, abs=1e-6)
    assert "4 corrections" in reloaded.predict("6", api_name="/correct")

    for forged in ({"key": "A" * 43, "store": browser["store"]}, {"key": browser["key"][:-1] + "!"}, str(runs / "x" / "cnn.onnx"),
                   {"key": str(runs)}, {"key": "../" * 20}, [browser["key"]]):
        others.session_hash = str(uuid.uuid4())  # a stranger's new page: a session of its own
        stranger = others
        given, notice = stranger.predict(forged, api_name="/keep_restore")
        said = words(notice)
        assert given["key"] != browser["key"] and "correction" not in said, (forged, said)
        assert reading(stranger, strokes) == pytest.approx(shipped, abs=1e-6)
        reading(stranger, page_digit(1, np.random.default_rng(9), 0.6))
        assert "1 correction " in stranger.predict("1", api_name="/correct")
