"""inference/classifier.py: probabilities, the Reading, the measured not-sure rule, occlusion
saliency in one onnxruntime run, and the overlay on the visitor's strokes."""
import numpy as np
import pytest

import inference.classifier as classifier
from inference.classifier import THRESHOLDS, judge, occlusion_batch, probabilities, read, saliency_on_strokes
from inference.preprocess import prepare
from inference.sessions import ModelUnavailable
from tests.draw_digits import drawn_digit, junk, junk_set


@pytest.fixture(scope="module")
def seven():
    return prepare(drawn_digit(7, np.random.default_rng(1), canvas=224))


def test_probabilities_take_either_layout_and_sum_to_one():
    images = np.random.default_rng(0).random((3, 28, 28)).astype(np.float32)
    flat, channelled = probabilities(images), probabilities(images[:, None])
    assert flat.shape == (3, 10) and flat.dtype == np.float32
    np.testing.assert_allclose(flat, channelled, atol=1e-6)
    np.testing.assert_allclose(flat.sum(axis=1), 1.0, atol=1e-5)


def test_a_drawn_seven_is_read_as_a_sure_seven(seven):
    reading, heat = read(seven)
    assert reading.digit == 7 and not reading.not_sure and reading.reason is None
    assert reading.confidence == pytest.approx(float(reading.probabilities.max()))
    label = reading.label()
    assert set(label) == {str(d) for d in range(10)} and sum(label.values()) == pytest.approx(1.0, abs=1e-5)


def test_blank_is_not_sure_and_skips_the_model(monkeypatch):
    monkeypatch.setattr(classifier, "logits", lambda *a, **k: pytest.fail("the model ran on a blank canvas"))
    reading, heat = read(prepare(junk("blank", np.random.default_rng(0))))
    assert reading.not_sure and reading.digit is None and reading.reason == "blank"
    assert reading.label() == {} and not heat.any()


@pytest.mark.parametrize("kind, code", [("dot", "too_small"), ("two digits", "more_than_one"), ("full", "blob")])
def test_the_rule_says_why_it_is_not_sure(kind, code):
    rng = np.random.default_rng(3)
    reasons = [read(prepare(junk(kind, rng)), saliency=False)[0].reason for _ in range(5)]
    assert reasons == [code] * 5, reasons


def test_every_reason_has_words_in_every_language():
    """The rule returns codes; the Draw tab says them through locales/ (draw.reason.<code>)."""
    import locales

    for strings in locales.STRINGS.values():
        assert all(f"draw.reason.{code}" in strings for code in classifier.REASONS)


def test_low_confidence_is_not_sure(seven):
    flat = np.full(10, 0.1)
    not_sure, reason, values = judge(seven, flat)
    assert not_sure and reason == "low_confidence" and values == {"confidence": pytest.approx(0.1)}
    assert judge(seven, np.eye(10)[7]) == (False, None, {})


def test_the_measured_rule_still_separates_digits_from_junk():
    """A smaller, differently seeded sample than tests/draw_calibrate.py (which measured
    THRESHOLDS): the rule must keep passing real digits and flagging junk."""
    digits = [(drawn_digit(d, rng, canvas=224), d) for rng in [np.random.default_rng(11)] for d in range(10) for _ in range(6)]
    flagged_digits = np.mean([read(prepare(v), saliency=False)[0].not_sure for v, _ in digits])
    junk_items = [item for item in junk_set(6, seed=11) if item[1] != "scribble"]
    flagged_junk = np.mean([read(prepare(v), saliency=False)[0].not_sure for v, _ in junk_items])
    print(f"\nnot-sure rule: flags {flagged_digits:.1%} of drawn digits, {flagged_junk:.1%} of junk (no scribbles)")
    assert flagged_digits <= 0.1  # documented: 1.5% of 1,000; 6 of 60 would be an outlier
    assert flagged_junk >= 0.9


def test_occlusion_only_erases_where_there_is_ink(seven):
    batch, corners = occlusion_batch(seven.image)
    assert 0 < len(batch) <= classifier.MAX_PATCHES
    for image, (r, c) in zip(batch, corners):
        changed = np.argwhere(image != seven.image)
        assert changed.size and (changed.min(0) >= (r, c)).all() and (changed.max(0) < (r + classifier.PATCH, c + classifier.PATCH)).all()
    empty, none = occlusion_batch(np.zeros((28, 28), np.float32))
    assert len(empty) == 0 and none == []


def test_saliency_comes_from_one_batched_run(seven, monkeypatch):
    runs = []
    real = classifier.logits

    def counting(images, model_path=None):
        runs.append(len(images))
        return real(images, model_path)

    monkeypatch.setattr(classifier, "logits", counting)
    reading, heat = read(seven)
    assert len(runs) == 1 and runs[0] == 1 + len(occlusion_batch(seven.image)[0])
    assert heat.shape == (28, 28) and np.abs(heat).max() == pytest.approx(1.0)
    inked_patch_area = np.zeros((28, 28), bool)
    for r, c in occlusion_batch(seven.image)[1]:
        inked_patch_area[r : r + classifier.PATCH, c : c + classifier.PATCH] = True
    assert not heat[~inked_patch_area].any()  # no evidence claimed where nothing was erased


def test_the_overlay_colours_the_visitors_own_strokes(seven):
    reading, heat = read(seven)
    overlay = saliency_on_strokes(seven, heat)
    assert overlay.dtype == np.uint8 and overlay.ndim == 3 and overlay.shape[2] == 3
    assert max(overlay.shape[:2]) == 224
    assert (overlay == 255).all(axis=2).mean() > 0.3  # paper stays white
    red, blue = overlay[..., 0].astype(int), overlay[..., 2].astype(int)
    assert ((red - blue) > 80).any()  # some strokes glow orange: the evidence for the 7
    blank = saliency_on_strokes(prepare(None), np.zeros((28, 28), np.float32))
    assert (blank == 255).all()


def test_a_visitor_model_path_is_used_and_a_missing_one_says_how_to_fix_it(seven, tmp_path):
    from inference.sessions import shipped

    copy = tmp_path / "mine.onnx"
    copy.write_bytes(shipped("cnn").read_bytes())
    np.testing.assert_allclose(read(seven, str(copy))[0].probabilities, read(seven)[0].probabilities, atol=1e-6)
    with pytest.raises(ModelUnavailable, match="missing"):
        read(seven, str(tmp_path / "gone.onnx"))


def test_thresholds_are_the_documented_ones():
    doc = classifier.__doc__
    assert "draw_calibrate" in doc
    for name in THRESHOLDS:
        assert name in doc or name in open(classifier.__file__).read()
