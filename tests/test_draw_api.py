"""/classify, /classify_strokes, /classify_upload and /correct through gradio_client against the
launched app: a drawn digit is read right by both CNNs, a blank canvas gets a clear answer, bad
input (a dot, a canvas full of ink, noise, a 4000x4000 upload, a tiny image, RGB and grayscale
without alpha, strokes that are not strokes) never errors and leaves the server answering the next
request normally, and a client that asks for Chinese gets Chinese."""
import numpy as np
import pytest
from gradio_client import handle_file
from PIL import Image

from tests.draw_digits import drawn_digit, junk, page_digit, page_junk, sketchpad_value


def png(tmp_path, array, name):
    path = tmp_path / f"{name}.png"
    Image.fromarray(np.asarray(array)).save(path)
    return handle_file(str(path))


def send(client, tmp_path, value, name="canvas"):
    """The Sketchpad value as the browser sends it: background, layers and composite as PNG files."""
    payload = {
        "background": png(tmp_path, value["background"], f"{name}-background") if value.get("background") is not None else None,
        "layers": [png(tmp_path, layer, f"{name}-layer{i}") for i, layer in enumerate(value["layers"])],
        "composite": png(tmp_path, value["composite"], f"{name}-composite") if value.get("composite") is not None else None,
    }
    return client.predict(payload, api_name="/classify")


def top(label) -> str | None:
    return label.get("label") if isinstance(label, dict) else None


@pytest.mark.parametrize("digit", [0, 3, 7])
def test_a_drawn_digit_is_read_right(client, tmp_path, digit):
    label, verdict, seen, looked = send(client, tmp_path, drawn_digit(digit, np.random.default_rng(digit), canvas=224))
    assert top(label) == str(digit), (label, verdict)
    assert len(label["confidences"]) == 10  # all ten probabilities
    assert f"**{digit}**" in verdict
    assert seen and looked  # the 28x28 it saw and the saliency overlay come back as images


def test_a_blank_canvas_gets_a_clear_answer(client, tmp_path):
    label, verdict, seen, looked = send(client, tmp_path, junk("blank", np.random.default_rng(0)))
    assert top(label) is None
    assert "blank" in verdict.lower()


BAD_CANVASES = {
    "single dot": lambda rng: junk("dot", rng),
    "full of ink": lambda rng: junk("full", rng),
    "noise": lambda rng: junk("noise", rng),
    "4000x4000": lambda rng: sketchpad_value(np.pad(drawn_digit(4, rng, canvas=400)["layers"][0], ((1800, 1800), (1800, 1800), (0, 0)))),
    "tiny": lambda rng: sketchpad_value(drawn_digit(1, rng, canvas=200)["layers"][0][::25, ::25]),
    "RGB composite only": lambda rng: {"background": None, "layers": [], "composite": drawn_digit(2, rng, canvas=224)["composite"][..., :3]},
    "grayscale composite only": lambda rng: {"background": None, "layers": [], "composite": drawn_digit(5, rng, canvas=224)["composite"][..., 0]},
}


@pytest.mark.parametrize("name", list(BAD_CANVASES))
def test_bad_canvases_get_an_answer_and_the_next_request_is_served(client, tmp_path, name):
    label, verdict, *_ = send(client, tmp_path, BAD_CANVASES[name](np.random.default_rng(5)), name.replace(" ", "-"))
    assert isinstance(verdict, str) and verdict.strip()
    assert "Could not read" not in verdict  # handled as input, not as a caught failure
    if name in ("single dot", "full of ink", "noise"):
        assert "Not sure" in verdict or "too small" in verdict or "blob" in verdict, verdict
    label, verdict, *_ = send(client, tmp_path, drawn_digit(7, np.random.default_rng(1), canvas=224), "next")
    assert top(label) == "7", f"after {name}, the next request was not served normally: {verdict}"


@pytest.mark.parametrize("mode", ["RGB", "L", "RGBA"])
def test_uploads_of_any_mode_are_read(client, tmp_path, mode):
    composite = drawn_digit(3, np.random.default_rng(8), canvas=280)["composite"]
    path = tmp_path / f"upload-{mode}.png"
    Image.fromarray(composite).convert(mode).save(path)
    label, verdict, *_ = client.predict(handle_file(str(path)), api_name="/classify_upload")
    assert top(label) == "3", verdict


def test_a_huge_upload_is_read(client, tmp_path):
    layer = drawn_digit(6, np.random.default_rng(2), canvas=400)["layers"][0].copy()
    layer[..., :3] = 20  # dark ink on the white paper below, whatever pen the generator picked
    big = Image.fromarray(layer).resize((4000, 4000), Image.Resampling.BILINEAR)
    paper = Image.new("RGBA", big.size, "white")
    path = tmp_path / "huge.jpg"
    Image.alpha_composite(paper, big).convert("RGB").save(path, quality=85)
    label, verdict, *_ = client.predict(handle_file(str(path)), api_name="/classify_upload")
    assert top(label) == "6", verdict


@pytest.mark.parametrize("digit", [1, 4, 8])
def test_strokes_are_read_by_both_cnns(client, digit):
    """/classify_strokes: the page's JSON -> (Digit Lab's label, verdict, the primer's label, its
    verdict, the 28x28 view, where it looked, the screen-reader announcement)."""
    label, verdict, primer_label, primer_verdict, seen, looked, news = client.predict(
        page_digit(digit, np.random.default_rng(digit), 0.6), api_name="/classify_strokes")
    assert top(label) == str(digit) and f"**{digit}**" in verdict, verdict
    assert primer_label.get("confidences") and primer_verdict  # the primer's reading beside ours
    assert seen and looked
    assert "Digit Lab's CNN" in news and "primer" in news


def test_strokes_junk_and_garbage_get_an_answer(client):
    for value in (page_junk("blank", np.random.default_rng(0)), page_junk("dot", np.random.default_rng(0)), "{nonsense", "[1,2,3]", ""):
        label, verdict, *_ = client.predict(value, api_name="/classify_strokes")
        assert top(label) is None or "Not sure" in verdict or "too small" in verdict, (value, verdict)
    label, *_ = client.predict(page_digit(7, np.random.default_rng(1), 0.5), api_name="/classify_strokes")
    assert top(label) == "7"


def test_a_client_that_asks_for_chinese_gets_chinese(app_url):
    from gradio_client import Client

    chinese = Client(app_url, verbose=False, headers={"Accept-Language": "zh-CN,zh;q=0.9"})
    _, verdict, _, primer_verdict, *_ = chinese.predict(page_digit(3, np.random.default_rng(3), 0.6), api_name="/classify_strokes")
    assert "这是" in verdict and "这是" in primer_verdict
    _, verdict, *_ = chinese.predict(page_junk("blank", np.random.default_rng(0)), api_name="/classify_strokes")
    assert "空" in verdict


def test_a_missing_primer_model_is_said_in_its_place(monkeypatch, tmp_path):
    import tabs.draw.tab as draw

    monkeypatch.setattr(draw, "shipped", lambda name: tmp_path / f"{name}.onnx")
    label, verdict, primer_label, primer_verdict, *_ = draw.classify_strokes(page_digit(2, np.random.default_rng(2), 0.6))
    assert top({"label": max(label, key=label.get)}) == "2"
    assert primer_label == {} and "seed" in primer_verdict and "not here" in primer_verdict


def test_that_is_wrong_keeps_a_correction_for_this_session(client, tmp_path):
    from gradio_client import Client

    fresh = Client(client.src, verbose=False)  # a session of its own: corrections start empty
    assert "first" in fresh.predict("3", api_name="/correct")
    send(fresh, tmp_path, drawn_digit(3, np.random.default_rng(4), canvas=224))
    assert "Pick" in fresh.predict(None, api_name="/correct")
    assert "1 correction " in fresh.predict("8", api_name="/correct")
    assert "2 corrections" in fresh.predict("3", api_name="/correct")
    other = Client(client.src, verbose=False)
    send(other, tmp_path, drawn_digit(1, np.random.default_rng(4), canvas=224))
    assert "1 correction " in other.predict("1", api_name="/correct")  # sessions do not share


def test_concurrent_visitors_are_all_served(client, tmp_path):
    """/classify skips the queue: requests from many visitors run side by side, none waits for
    another's turn, and each gets its own answer."""
    from gradio_client import Client

    visitors = [Client(client.src, verbose=False) for _ in range(4)]
    digits = [0, 1, 7, 3]
    jobs = []
    for visitor, digit in zip(visitors, digits):
        value = drawn_digit(digit, np.random.default_rng(10 + digit), canvas=224)
        payload = {
            "background": png(tmp_path, value["background"], f"c{digit}-b"),
            "layers": [png(tmp_path, value["layers"][0], f"c{digit}-l")],
            "composite": png(tmp_path, value["composite"], f"c{digit}-c"),
        }
        jobs.append(visitor.submit(payload, api_name="/classify"))
    assert [top(job.result(timeout=60)[0]) for job in jobs] == [str(d) for d in digits]


def test_the_tab_function_answers_anything_without_raising():
    """What the endpoints call, fed what no browser sends."""
    from tabs.draw.tab import add_correction, classify

    for value in (None, 3, "nonsense", {"layers": "x"}, {"layers": [None, 5]}, np.zeros((0, 0)), np.full((9, 9, 9), np.nan)):
        label, verdict, seen_view, looked, seen = classify(value)
        assert label == {} and verdict and seen is None
    corrections, status = add_correction("12", np.zeros((28, 28)), [])
    assert corrections == [] and "Pick" in status
