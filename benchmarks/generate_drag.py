"""A slider drag in the Generate tab as a visitor feels it: the launched app, Debian's Chromium, a
slider held and moved back and forth at 60 moves a second (input events sent in the page) for a few
seconds, then let go. Figures per mode: images shown a second while dragging (each new picture in
the tab's image counts), the moves the page received, and the requests the page sent the server
during the drag and on release.

Modes: "browser" (the page draws each image itself, static/generate_web.js) and "server" (the
WebAssembly runtime made to fail, so the page falls back to /show while dragging, as every drag
went before). --load N adds N API visitors calling /show back to back during the drags, as N
other visitors dragging on the server's path would (with the page drawing, visitors send no /show
while dragging, so their number no longer reaches the server: a drag's speed is the browser's
own). The load generator, the server and Chromium share this machine's cores: figures are noisy.

    python -m benchmarks.generate --drag [--seconds 5] [--load 40]
"""
import threading
import time

from benchmarks.launch import ROOT, Server, hammer
from tests.conftest import CHROMIUM

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"]

MOVES_PER_SECOND = 60  # a hand on a slider: the browser sends an input event a frame while it moves
# In the page, so that what is measured is the page (Playwright's own mouse, a round trip per move,
# managed 4-7 moves a second on this loaded machine): the first latent slider swept from 10% to 90%
# of its track and back each second, an `input` event at each move, as a held mouse sends them;
# then a pointerup, the release. Each new picture in the tab's image counts.
SWEEP = """async ([seconds, rate]) => {
    const sliders = [...document.querySelectorAll('#generate-controls input[type=range]')].filter((s) => s.offsetParent);
    const slider = sliders.find((s) => !/truncation/i.test(s.getAttribute('aria-label') || ''));
    const box = document.querySelector('#generate-image');
    const pictures = [box.querySelector('img')?.src];
    const seen = new MutationObserver(() => {
        const src = box.querySelector('img')?.src;
        if (src && src !== pictures.at(-1)) pictures.push(src);
    });
    seen.observe(box, {attributes: true, subtree: true, childList: true, attributeFilter: ['src']});
    const [lo, hi] = [Number(slider.min), Number(slider.max)];
    const values = [];
    const began = performance.now();
    await new Promise((done) => {
        const move = () => {
            const t = (performance.now() - began) / 1000;
            if (t >= seconds) return done();
            const there = 1 - Math.abs(2 * (t % 1) - 1);
            slider.value = lo + (hi - lo) * (0.1 + 0.8 * there);
            if (slider.value !== values.at(-1)) values.push(slider.value);
            slider.dispatchEvent(new Event('input', {bubbles: true}));
            setTimeout(move, 1000 / rate);
        };
        move();
    });
    const dragged = (performance.now() - began) / 1000;
    const shown = pictures.length - 1;
    slider.dispatchEvent(new PointerEvent('pointerup', {bubbles: true}));
    seen.disconnect();
    return {seconds: dragged, moves_per_second: values.length / dragged, images_per_second: shown / dragged};
}"""


# The page's own cost of one image, outside Gradio's events: the latent, the generator's run in
# onnxruntime-web, the 280x280 PNG (static/generate_web.js's grey and picture), 50 times.
ONE_IMAGE = """async ([module, model, numbers]) => {
    const web = await import(module);
    const sliders = numbers.directions.map(() => 0);
    const pixels = await web.grey(model, numbers, 7, 1, sliders);
    const began = performance.now();
    for (let i = 0; i < 50; i++) web.picture(await web.grey(model, numbers, 7, 1, sliders.map(() => (i % 10) / 5)), numbers.display_scale);
    return (performance.now() - began) / 50;
}"""


def one_image_ms(page) -> float:
    from inference.generator import page_numbers

    served = f"{page.evaluate('window.gradio_config.root')}/gradio_api/file="
    return page.evaluate(ONE_IMAGE, [served + (ROOT / "static" / "generate_web.js").as_posix(),
                                     served + (ROOT / "exports" / "gan.onnx").as_posix(), page_numbers(42)])


def drag(page, seconds: float) -> dict:
    """One drag (SWEEP) with the page's requests to the server counted: while dragging, and in
    the 3 s after the release (the queue's joins are POSTs; the files they answer with are GETs)."""
    posts = []
    listen = lambda request: request.method == "POST" and posts.append(request.url)  # noqa: E731
    page.on("request", listen)
    figures = page.evaluate(SWEEP, [seconds, MOVES_PER_SECOND])
    during = len(posts)
    page.wait_for_timeout(3000)
    page.remove_listener("request", listen)
    return {**figures, "requests_while_dragging": during, "requests_on_release": len(posts) - during}


def visit(browser, url: str, mode: str, seconds: float) -> dict:
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-US")
    if mode == "server":
        context.route("**/*.wasm", lambda route: route.abort())
    try:
        page = context.new_page()
        page.goto(url)
        page.get_by_role("tab", name="Generate").click()
        page.wait_for_selector("#generate-image img", timeout=60_000)
        page.wait_for_timeout(3000)  # the runtime and the model load (or fail) after the page does
        drag(page, 1.0)  # a first drag, unmeasured
        figures = {"mode": mode, **drag(page, seconds)}
        return figures | ({"one_image_ms": one_image_ms(page)} if mode == "browser" else {})
    finally:
        context.close()


def run(seconds: float = 5.0, load: int = 0) -> dict:
    from playwright.sync_api import sync_playwright

    with Server("app.py", timeout=300) as server, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        loaded = {}
        if load:  # the other visitors on the server's path, for the whole of both drags
            args = [7, 42, 1.0, 0.5, 0, 0, 0, 0, 0]
            thread = threading.Thread(target=lambda: loaded.update(hammer(server.url, "/show", args, load, 2 * seconds + 40)), daemon=True)
            thread.start()
            time.sleep(3)
        figures = [visit(browser, server.url, mode, seconds) for mode in ("browser", "server")]
        if load:
            thread.join()
        browser.close()
    return {"drags": figures, "load": {"visitors": load, **{k: loaded.get(k) for k in ("answers", "errors", "latency_median_ms", "latency_p95_ms")}}}


def rows(figures: dict) -> list[tuple[str, str, str]]:
    load = figures["load"]
    under = f", {load['visitors']} API visitors calling /show meanwhile" if load["visitors"] else ""
    out = [(f"drag drawn by the {d['mode']}{under}",
            f"{d['images_per_second']:.1f} images/s ({d['moves_per_second']:.0f} moves/s)",
            f"requests: {d['requests_while_dragging']} while dragging {d['seconds']:.0f} s, {d['requests_on_release']} on release")
           for d in figures["drags"]]
    here = figures["drags"][0]["one_image_ms"]
    out.append(("one image made in the page (latent, onnxruntime-web, PNG)", f"{here:.1f} ms", f"at most {1000 / here:.0f} images/s"))
    if load["visitors"] and load["answers"]:
        out.append(("the load's /show calls", f"median {load['latency_median_ms'] / 1e3:.2f} s, p95 {load['latency_p95_ms'] / 1e3:.2f} s", f"{load['errors']} errors"))
    return out
