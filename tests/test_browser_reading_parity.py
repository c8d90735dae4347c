"""The page's own reading (static/draw_prepare.js, static/draw_reader.js) held to the server's
(inference/strokes.py, inference/preprocess.py, inference/classifier.py), in Chromium: one recipe,
two implementations.

290 drawings (tests/draw_digits.py's templates at 30-90% of the canvas, the thin and the bold pen,
the desktop's and the phone's box, and junk of every kind) are prepared and read by both CNNs in
one page.evaluate, and by Python. The rasteriser is plain IEEE double arithmetic done in the same
order on both sides (no sqrt, no trigonometry), so the ink maps are the same bit for bit (compared
by a weighted checksum of all 78,400 pixels), and so is every 28x28; the same digit and the same
verdict (not sure or not, and its reason) for every drawing, both CNNs. Asserted exactly.

Every step after the rasteriser is also checked on the server's own ink maps, and onnxruntime-web
against onnxruntime on the same 28x28.
"""
import base64

import gradio as gr
import numpy as np
import pytest

import locales
from inference import classifier, strokes
from inference.classifier import read
from inference.sessions import PRIMER_CNN, shipped
from tabs.draw.tab import reader_props, verdict_text
from tests.draw_digits import JUNK_KINDS, PAGE_PENS, page_digit, page_junk

pytestmark = pytest.mark.browser

STATIC = strokes.__file__.rsplit("/inference/", 1)[0] + "/static"
BOXES = (340, 300)  # the canvas's side on screen, CSS pixels: a desktop's and a phone's
HEIGHTS = (0.3, 0.45, 0.6, 0.75, 0.9)


def parity_set(seed: int = 0) -> list[str]:
    """260 digits (thin and bold pen, desktop and phone box) and 30 pieces of junk, as the page sends them."""
    rng = np.random.default_rng(seed)
    values = [page_digit(d, rng, HEIGHTS[k % 5], pen, box)
              for pen in (PAGE_PENS[0], PAGE_PENS[-1]) for box in BOXES for d in range(10) for k in range(6 + (d < 5))]
    return values + [page_junk(kind, rng, box=BOXES[k % 2]) for kind in JUNK_KINDS for k in range(5)]


# In the page: prepare every value, run each CNN once on the whole batch, judge each reading.
EVALUATE = r"""
async ([dir, values, models, inks, serverImage, words]) => {
  const base = `${location.origin}/gradio_api/file=${dir}`;
  const prep = await import(`${base}/draw_prepare.js`);
  const web = await import(`${base}/onnx_web.js`);
  const steps = values.map((v) => prep.prepareStrokes(v));
  const batch = new Float32Array(steps.length * 784);
  steps.forEach((s, i) => batch.set(s.image.data, i * 784));
  // each ink map's checksum: [inked pixels, sum of quarters, sum of quarters weighted by position]
  const checksums = steps.map((s) => {
    let inked = 0, total = 0, weighted = 0;
    s.ink.data.forEach((v, i) => {
      const quarters = v * 4;
      inked += quarters > 0;
      total += quarters;
      weighted += quarters * (1 + (i * 7919) % 1000003);
    });
    return [inked, total, weighted];
  });
  const out = {images: steps.map((s) => Array.from(s.image.data)), checksums, reads: {}, constants: {
    RASTER: prep.RASTER, SUPERSAMPLE: prep.SUPERSAMPLE, WIDTH_SHARE: prep.WIDTH_SHARE, MIN_WIDTH: prep.MIN_WIDTH,
    INK_FLOOR: prep.INK_FLOOR, FIELD: prep.FIELD, BOX: prep.BOX, THRESHOLDS: prep.THRESHOLDS}};
  const reader = await import(`${base}/draw_reader.js`);
  const say = Object.fromEntries(Object.entries(words).map(([lang, table]) => [lang, reader.sayer(table)]));
  for (const [name, path] of Object.entries(models)) {
    const logits = (await web.run(web.served(path), {image: ['float32', batch, [steps.length, 1, 28, 28]]})).logits.data;
    out.reads[name] = steps.map((s, i) => {
      const r = reader.reading(s, s.box === null ? null : logits.subarray(i * 10, i * 10 + 10));
      const verdicts = Object.fromEntries(Object.entries(say).map(([lang, said]) => [lang, reader.verdictText(r, said)]));
      return {probs: r.probs, notSure: r.notSure, reason: r.reason, label: reader.labelValue(r.probs), verdicts};
    });
  }
  out.languages = ['zh-CN', 'zh', 'zh-TW', 'en-GB', 'fr'].map((tag) => reader.language(words, [tag]));
  // onnxruntime-web on the server's own 28x28.
  out.onServerImage = (await reader.readOne(web.served(models.ours), {box: [0, 0, 1, 1], image: {data: Float32Array.from(serverImage)}})).probs;
  // The server's own ink maps (in quarters: each pixel is 0-4 fine pixels of 4, base64) through the rest of the recipe.
  out.fromInk = inks.map((b64) => {
    const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
    const s = prep.stepsFromInk({data: Float32Array.from(bytes, (v) => v / 4), h: 280, w: 280});
    return {image: Array.from(s.image.data), features: [s.boxFraction, s.aspect, s.fill, s.splitShare]};
  });
  return out;
}
"""


def quarters(ink: np.ndarray) -> np.ndarray:
    """An ink map as whole quarters (each pixel is 0-4 fine pixels of strokes.SUPERSAMPLE**2 = 4)."""
    assert strokes.SUPERSAMPLE == 2
    out = (ink * 4).astype(np.int64)
    assert np.array_equal(out / 4, ink)
    return out


def checksum(ink: np.ndarray) -> list[int]:
    """The page's checksum of an ink map: inked pixels, the sum of quarters, and their sum weighted
    by position (exact in a double: at most 78,400 * 4 * 1,000,003 < 2**53)."""
    q = quarters(ink).ravel()
    weights = 1 + (np.arange(q.size, dtype=np.int64) * 7919) % 1000003
    return [int((q > 0).sum()), int(q.sum()), int(q @ weights)]


@pytest.fixture(scope="module")
def compared(browser, app_url):
    values = parity_set()
    models = {"ours": str(shipped("cnn")), "primer": str(shipped(PRIMER_CNN))}
    python = [strokes.prepare_strokes(v) for v in values]
    inked = [s for s in python if not s.blank][:6]
    inks = [base64.b64encode(quarters(s.ink).astype(np.uint8).tobytes()).decode() for s in inked]
    context = browser.new_context()
    try:
        page = context.new_page()
        page.goto(f"{app_url}gradio_api/file={STATIC}/draw_prepare.js")  # any page of the app's origin
        words = reader_props()["words"]
        page_out = page.evaluate(EVALUATE, [STATIC, values, models, inks, python[0].image.ravel().tolist(), words])
    finally:
        context.close()
    return values, models, python, inked, page_out


def test_the_recipe_has_the_same_constants(compared):
    *_, out = compared
    c = out["constants"]
    assert (c["RASTER"], c["SUPERSAMPLE"], c["WIDTH_SHARE"], c["MIN_WIDTH"]) == (strokes.RASTER, strokes.SUPERSAMPLE, strokes.WIDTH_SHARE, strokes.MIN_WIDTH)
    from inference import preprocess

    assert (c["INK_FLOOR"], c["FIELD"], c["BOX"]) == (preprocess.INK_FLOOR, preprocess.FIELD, preprocess.BOX)
    assert c["THRESHOLDS"] == classifier.THRESHOLDS


def test_after_the_rasteriser_the_recipe_is_the_same_to_float32(compared):
    _, _, _, inked, out = compared
    for steps, page in zip(inked, out["fromInk"]):
        assert np.array_equal(np.asarray(page["image"], np.float32).reshape(28, 28), steps.image)
        assert np.allclose(page["features"], [steps.box_fraction, steps.aspect, steps.fill, steps.split_share], atol=1e-5)


def test_the_same_ink_bit_for_bit(compared):
    values, _, python, _, out = compared
    same = [checksum(s.ink) == page for s, page in zip(python, out["checksums"])]
    print(f"\nink maps over {len(values)}: the same for {np.mean(same):.1%}")
    assert all(same)


def test_the_same_28x28_reading_and_verdict_on_hundreds_of_digits(compared):
    values, models, python, _, out = compared
    diffs = np.stack([np.abs(np.asarray(img, np.float32).reshape(28, 28) - s.image) for img, s in zip(out["images"], python)])
    worst = diffs.max(axis=(1, 2))
    print(f"\n28x28 over {len(values)}: identical for {np.mean(worst == 0):.1%}, mean |diff| {diffs.mean():.2g}, worst {worst.max():.3f}")
    assert worst.max() == 0
    for name, path in models.items():
        same_digit = same_verdict = 0
        for steps, page in zip(python, out["reads"][name]):
            reading, _ = read(steps, path, saliency=False)
            if page["probs"] is None:
                assert reading.digit is None and page["notSure"] and page["reason"] == reading.reason
                same_digit += 1
                same_verdict += 1
                continue
            same_digit += int(np.argmax(page["probs"])) == reading.digit
            same_verdict += (page["notSure"], page["reason"]) == (reading.not_sure, reading.reason)
        print(f"{name}: the same digit for {same_digit / len(python):.1%}, the same verdict for {same_verdict / len(python):.1%}")
        assert same_digit == same_verdict == len(python)


def test_the_page_runtime_gives_the_servers_probabilities_on_the_same_image(compared):
    """onnxruntime-web and onnxruntime on one 28x28 (the server's): the same probabilities."""
    values, models, python, _, out = compared
    reading, _ = read(python[0], models["ours"], saliency=False)
    assert np.abs(np.asarray(out["onServerImage"]) - reading.probabilities).max() < 1e-4


def test_the_page_says_what_the_server_says(compared):
    """The label and the verdict's words, in both languages, as tabs/draw/tab.py writes them, for every
    drawing; and the language the page picks is the one locales.best_language picks."""
    values, models, python, _, out = compared
    label = gr.Label(num_top_classes=3)
    for steps, page in zip(python, out["reads"]["ours"]):
        reading, _ = read(steps, models["ours"], saliency=False)
        server_label = label.postprocess(reading.label())
        server_label = server_label if isinstance(server_label, dict) else server_label.model_dump()
        assert page["label"].keys() == server_label.keys() or page["label"] == server_label == {}
        if page["label"]:
            assert page["label"]["label"] == server_label["label"]
            assert [c["label"] for c in page["label"]["confidences"]] == [c["label"] for c in server_label["confidences"]]
        for lang in locales.LANGUAGES:
            assert page["verdicts"][lang] == verdict_text(reading, locales.words(lang)), lang
    assert out["languages"] == [locales.best_language(tag) for tag in ("zh-CN", "zh", "zh-TW", "en-GB", "fr")]
