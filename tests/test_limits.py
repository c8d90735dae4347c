"""visitors/limits.py and visitors/checks.py without a server: who the caller is (a forged
X-Forwarded-For cannot change it), the token buckets and their forgetting, the training places
per address, and the checks' words in both languages."""
import threading
from types import SimpleNamespace

import pytest

from visitors import limits


def request(host="10.0.0.1", forwarded=None):
    headers = {"x-forwarded-for": forwarded} if forwarded is not None else {}
    return SimpleNamespace(client=SimpleNamespace(host=host), headers=headers)


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


# -- who is calling --------------------------------------------------------------------------------


def test_off_a_proxy_the_socket_is_the_caller_whatever_the_headers_say(monkeypatch):
    monkeypatch.delenv("SPACE_ID", raising=False)
    monkeypatch.delenv(limits.PROXY_HOPS_ENV, raising=False)
    assert limits.address(request("127.0.0.1", forwarded="1.2.3.4")) == "127.0.0.1"


def test_on_a_space_the_entry_the_proxy_appended_is_the_caller_and_a_forged_one_changes_nothing(monkeypatch):
    monkeypatch.setenv("SPACE_ID", "someone/digit-lab")
    monkeypatch.delenv(limits.PROXY_HOPS_ENV, raising=False)
    proxy = "10.1.2.3"  # the Space's proxy: the socket's peer
    assert limits.address(request(proxy, forwarded="203.0.113.7")) == "203.0.113.7"
    # a script sends its own header; the proxy appends the real address after it
    for forged in ("1.1.1.1", "1.1.1.1, 2.2.2.2", "garbage", ""):
        sent = f"{forged}, 203.0.113.7" if forged else "203.0.113.7"
        assert limits.address(request(proxy, forwarded=sent)) == "203.0.113.7"
    assert limits.address(request(proxy)) == proxy  # no header at all: the peer


def test_two_proxies_are_counted_from_the_right(monkeypatch):
    monkeypatch.setenv(limits.PROXY_HOPS_ENV, "2")
    assert limits.address(request("10.0.0.9", forwarded="6.6.6.6, 198.51.100.4, 10.0.0.8")) == "198.51.100.4"


def test_an_ipv6_caller_is_its_64_and_a_mapped_ipv4_is_the_ipv4(monkeypatch):
    monkeypatch.delenv("SPACE_ID", raising=False)
    monkeypatch.delenv(limits.PROXY_HOPS_ENV, raising=False)
    one, other = limits.address(request("2001:db8:1:2::1")), limits.address(request("2001:db8:1:2:ffff::9"))
    assert one == other == "2001:db8:1:2::/64"
    assert limits.address(request("::ffff:192.0.2.5")) == "192.0.2.5"
    assert limits.address(SimpleNamespace()) == limits.UNKNOWN


# -- how often -------------------------------------------------------------------------------------


def test_a_bucket_allows_a_burst_then_says_when_the_next_call_is_taken():
    clock = Clock()
    rate = limits.RateLimit("backprop_step", calls=3, seconds=30, clock=clock)
    assert [rate.take("a") for _ in range(3)] == [0, 0, 0]
    assert rate.take("a") == pytest.approx(10)  # one call every 10 s
    assert rate.take("b") == 0  # another address has its own bucket
    clock.now += 10
    assert rate.take("a") == 0 and rate.take("a") > 0
    with pytest.raises(limits.Limited) as refused:
        rate.check("a")
    assert refused.value.retry_after > 0
    said = refused.value.say("en")
    assert "backprop_step" in said and "Try again in" in said
    assert "秒后再试" in refused.value.say("zh-CN")


def test_buckets_are_forgotten_oldest_first_so_memory_stays_bounded():
    clock = Clock()
    rate = limits.RateLimit("upload", calls=1, seconds=60, max_addresses=100, clock=clock)
    for n in range(10_000):
        rate.take(f"10.0.{n // 256}.{n % 256}")
    assert len(rate) == 100
    assert rate.take("10.0.0.0") == 0  # long unseen: forgotten, so a full bucket again


def test_a_bucket_counts_right_under_threads():
    rate = limits.RateLimit("train", calls=50, seconds=3600)
    allowed = []

    def caller():
        for _ in range(20):
            allowed.append(rate.take("one") == 0)

    threads = [threading.Thread(target=caller) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(allowed) == 50


# -- training places -------------------------------------------------------------------------------


def test_one_address_holds_at_most_its_places_however_many_sessions_it_makes():
    places = limits.Places(most=2)
    runs = [threading.Event() for _ in range(12)]  # set: the run has ended
    seats, refused = [], []
    for done in runs:  # twelve sessions, one address
        try:
            seats.append(places.take("198.51.100.1").hold(lambda done=done: not done.is_set(), lambda: 90.0))
        except limits.Limited as limited:
            refused.append(limited)
    assert len(seats) == 2 and len(refused) == 10
    assert "2 of the 2 training places" in refused[0].say("en") and "90 s" in refused[0].say("en")
    assert places.take("203.0.113.9")  # another address still gets one
    runs[0].set()  # a run ends: its place frees by itself
    assert places.held("198.51.100.1") == 1
    places.take("198.51.100.1").release()  # a Start that did not start gives its place back
    assert places.held("198.51.100.1") == 1


def test_a_class_key_may_hold_its_own_number_of_places():
    places = limits.Places(most=2)
    for _ in range(5):
        places.take("class:7", most=5)
    with pytest.raises(limits.Limited):
        places.take("class:7", most=5)


def test_places_without_time_say_to_wait_for_a_run_and_ended_seats_are_forgotten():
    places = limits.Places(most=1)
    seat = places.take("a")
    with pytest.raises(limits.Limited) as refused:
        places.take("a")
    assert refused.value.key == "limits.places" and refused.value.retry_after is None
    seat.hold(lambda: False)
    assert places.held("a") == 0 and len(places) == 0


def test_settings_come_from_the_environment(monkeypatch):
    monkeypatch.setenv(limits.PLACES_ENV, "4")
    assert limits.Places().most == 4
    monkeypatch.setenv("DIGIT_LAB_RATE_BACKPROP", "5/10")
    rate = limits._rate("backprop")
    assert (rate.calls, rate.seconds) == (5, 10.0)
    monkeypatch.setenv("DIGIT_LAB_RATE_BACKPROP", "lots")
    assert limits._rate("backprop").calls == limits.RATE_DEFAULTS["backprop"][0]


def test_guard_and_take_place_answer_in_the_callers_language(monkeypatch):
    import gradio as gr

    monkeypatch.delenv("SPACE_ID", raising=False)
    monkeypatch.setitem(limits.RATES, "train", limits.RateLimit("train", 1, 60))
    monkeypatch.setattr(limits, "PLACES", limits.Places(most=1))
    chinese = SimpleNamespace(client=SimpleNamespace(host="192.0.2.1"), headers={"accept-language": "zh-CN"})
    assert limits.guard(chinese, "train") == "192.0.2.1"
    with pytest.raises(gr.Error, match="秒后再试"):
        limits.guard(chinese, "train")
    limits.take_place(chinese)
    with pytest.raises(gr.Error, match="训练名额"):
        limits.take_place(chinese)


# -- the checks ------------------------------------------------------------------------------------


@pytest.mark.parametrize("value", [None, "nan", float("nan"), float("inf"), "-inf", 10**12, -1, True, [1], {"a": 1}, "x" * 100_000])
def test_numbers_are_finite_and_in_range_or_refused_in_words(value):
    import gradio as gr

    from visitors import checks

    with pytest.raises(gr.Error) as refused:
        checks.number(value, "dropout", "en", low=0, high=0.95)
    assert refused.value.message.startswith("dropout must be a finite number from 0 to 0.95, not ")
    assert len(refused.value.message) < 120


def test_the_checks_take_good_values_and_say_why_not_in_chinese():
    import gradio as gr

    from visitors import checks

    assert checks.number("3", "steps", "en", 1, 20, whole=True) == 3
    assert checks.number(None, "steps", "en", 1, 20, default=1) == 1
    assert checks.choice(3, "digit", "en", [str(d) for d in range(10)]) == "3"
    assert checks.text("conv1", "stage", "en") == "conv1"
    with pytest.raises(gr.Error, match="整数"):
        checks.number(2.5, "steps", "zh-CN", 1, 20, whole=True)
    with pytest.raises(gr.Error, match="之一"):
        checks.choice(None, "side", "zh-CN", ["d", "g"])
    with pytest.raises(gr.Error, match="too long"):
        checks.text("x" * 100_000, "stage", "en")


@pytest.fixture(scope="module")
def tiny_app():
    """A Blocks of two events on one bounded Number, one with a validator, with Gradio's refusals
    worded (as app.py does)."""
    import gradio as gr

    from visitors import checks

    checks.word_gradio_refusals()
    with gr.Blocks() as demo:
        steps = gr.Number(1, minimum=1, maximum=5, precision=0)
        out = gr.Textbox()
        button = gr.Button()
        def plain(steps):
            return f"{steps} steps"

        def validated(steps):
            return f"{steps} steps"

        button.click(plain, steps, out, api_name="plain")
        button.click(validated, steps, out, api_name="validated",
                     validator=checks.validator(steps=lambda v, lang: checks.number(v, "steps", lang, 1, 5, whole=True)))
    demo.launch(prevent_thread_lock=True, server_name="127.0.0.1", quiet=True)
    yield demo.local_url
    demo.close()


@pytest.mark.parametrize("value", ["nan", None, "seven", [1], 6])
def test_values_gradio_cannot_read_are_refused_in_words_before_or_in_the_event(tiny_app, value):
    from gradio_client import Client
    from gradio_client.exceptions import AppError, ValidationError

    client, chinese = Client(tiny_app, verbose=False), Client(tiny_app, verbose=False, headers={"Accept-Language": "zh-CN"})
    with pytest.raises(ValidationError, match="steps") as refused:
        client.predict(value, api_name="/validated")
    assert "must be a whole number" in str(refused.value) or "greater than maximum" in str(refused.value)
    with pytest.raises(ValidationError, match="整数|maximum"):
        chinese.predict(value, api_name="/validated")
    if value is not None:  # the plain event takes None as "nothing"
        with pytest.raises(AppError) as refused:
            client.predict(value, api_name="/plain")
        assert "steps" in str(refused.value) or "maximum" in str(refused.value)
        assert "verbose error reporting" not in str(refused.value)
    assert client.predict(3, api_name="/validated") == "3 steps"


def test_only_png_jpeg_webp_and_gif_are_decoded_and_the_rest_refused_in_words(tmp_path):
    import io

    import numpy as np
    from PIL import Image

    import locales
    from inference.preprocess import prepare

    ink = np.zeros((40, 40), np.uint8)
    ink[5:35, 18:22] = 255
    for fmt in ("PNG", "JPEG", "WEBP", "GIF"):
        data = io.BytesIO()
        Image.fromarray(ink).save(data, fmt)
        assert prepare(data.getvalue()).box is not None, fmt
    others = {"svg": b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>',
              "html": b"<!DOCTYPE html><html><body>7</body></html>"}
    for fmt in ("BMP", "TIFF", "ICO", "PPM"):
        data = io.BytesIO()
        Image.fromarray(ink).save(data, fmt)
        others[fmt.lower()] = data.getvalue()
    for name, data in others.items():
        path = tmp_path / f"digit.{name}"
        path.write_bytes(data)
        for source in (data, str(path)):
            steps = prepare(source)
            assert steps.blank and steps.reason == "checks.picture_format", (name, steps.message)
    assert "PNG、JPEG、WebP 或 GIF" in locales.text(prepare(others["svg"]).reason, "zh-CN")
