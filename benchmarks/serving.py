"""Digit Lab's server against the bare framework: both launched as real processes on loopback ports
and measured through gradio_client, side by side in one run.

- latency of /classify and of the slider update (median, p95), alternating rounds between the apps;
- throughput and errors with 16 and 64 concurrent clients (threads, each its own Client);
- cold start (process start to the page, and to the first /classify answer) and idle memory (RSS of
  the server process once it serves the page), and whether torch is loaded in the serving process.

    python -m benchmarks.serving [--quick]
"""
import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

from benchmarks.launch import (BARE_APP, Server, client_for, endpoints, first_output, hammer, sketch_value,  # noqa: F401
                               summary)

SLIDER_ENDPOINTS = ("/show",)  # the Generate tab's live update while a slider moves, by its api_name
TARGETS = {"classify_median_ratio": 1.5, "classify_p95_ratio": 2.0, "cold_start_ratio": 2.0, "idle_memory_ratio": 2.0}


def slider_call(client) -> tuple[str, list] | None:
    """(api_name, arguments) for the app's slider update: its declared defaults (digit, seed,
    truncation, direction sliders), with the first direction slider moved to 1 sd."""
    named = endpoints(client)
    for name in SLIDER_ENDPOINTS:
        if name in named:
            args = [p.get("parameter_default", p.get("example_input")) for p in named[name]["parameters"]]
            args = [0 if a is None else a for a in args]
            if len(args) > 3:
                args[3] = 1.0
            return name, args
    return None


# --- measurements ----------------------------------------------------------------------------

def timed(client, api_name: str, args: list, timeout: float = 30) -> float:
    start = time.perf_counter()
    client.submit(*args, api_name=api_name).result(timeout=timeout)
    return time.perf_counter() - start


def latency_side_by_side(calls: dict, calls_per_round: int, rounds: int) -> dict:
    """calls: name -> (client, api_name, args). Alternate rounds between them; per-call seconds."""
    times = {name: [] for name in calls}
    for name, (client, api_name, args) in calls.items():  # warm each (sessions, first upload)
        for _ in range(3):
            timed(client, api_name, args)
    for _ in range(rounds):
        for name, (client, api_name, args) in calls.items():
            times[name] += [timed(client, api_name, args) for _ in range(calls_per_round)]
    return {name: summary(t) for name, t in times.items()}


def cold_start(script: str, sketch: dict) -> dict:
    """Process start to the page, and to the first /classify answer; RSS as the page is first served
    (idle: nothing asked yet) and after the first answers; whether torch is mapped at each point."""
    with Server(script) as server:
        idle_mib, torch_idle = server.rss_mib(), server.loads_torch()
        client = client_for(server.url)
        first_classify_s = None
        if "/classify" in endpoints(client):
            client.predict(sketch, api_name="/classify")
            first_classify_s = time.perf_counter() - server.started
        slider = slider_call(client)
        if slider:
            client.predict(*slider[1], api_name=slider[0])
        time.sleep(1)
        figures = {"page_s": server.page_s, "first_classify_s": first_classify_s, "idle_rss_mib": idle_mib,
                   "rss_after_answers_mib": server.rss_mib(), "torch_loaded_idle": torch_idle,
                   "torch_loaded_after_answers": server.loads_torch()}
        client.close()
    return figures


def ratio(ours, bare):
    return None if ours is None or not bare else ours / bare


def _combine(runs: list[dict]) -> dict:
    """The median of each figure over repeated cold starts (any() for the yes/no ones)."""
    out = {}
    for key, first in runs[0].items():
        values = [r[key] for r in runs if r[key] is not None]
        if isinstance(first, bool):
            out[key] = any(values)
        else:
            out[key] = statistics.median(values) if values else None
    return out


def run(quick: bool = False, ours_script: str = "app.py") -> dict:
    # Short alternating rounds, so drifting background load hits both apps alike.
    rounds, per_round, load_seconds, starts = (20, 2, 4.0, 1) if quick else (50, 4, 10.0, 3)
    with tempfile.TemporaryDirectory() as tmp:
        sketch = sketch_value(Path(tmp))

        def sketches(i):  # under load every visitor draws their own 7
            return sketch_value(Path(tmp), 7, variant=i + 1)

        figures = {"cold_start": {}, "latency": {}, "load": {}}
        # Cold starts alternate between the apps so background load hits both alike.
        samples = {"ours": [], "bare": []}
        for _ in range(starts):
            samples["ours"].append(cold_start(ours_script, sketch))
            samples["bare"].append(cold_start(BARE_APP, sketch))
        figures["cold_start"] = {name: _combine(runs) for name, runs in samples.items()}

        with Server(ours_script) as ours, Server(BARE_APP) as bare:
            ours_client, bare_client = client_for(ours.url), client_for(bare.url)
            if "/classify" in endpoints(ours_client):
                figures["classify_answer"] = first_output(ours_client.predict(sketch, api_name="/classify")).get("label")
                figures["latency"]["classify"] = latency_side_by_side(
                    {"ours": (ours_client, "/classify", [sketch]), "bare": (bare_client, "/classify", [sketch])}, per_round, rounds)
                for clients in (16, 64):
                    for name, server in (("ours", ours), ("bare", bare)):
                        figures["load"][f"{name}_{clients}"] = hammer(server.url, "/classify", lambda i: [sketches(i)], clients, load_seconds)
            else:
                figures["latency"]["classify"] = {"missing": "no /classify in the app yet (Draw tab not built)"}
            ours_slider, bare_slider = slider_call(ours_client), slider_call(bare_client)
            if ours_slider:
                figures["latency"]["slider"] = latency_side_by_side(
                    {"ours": (ours_client, *ours_slider), "bare": (bare_client, *bare_slider)}, per_round, rounds)
                figures["latency"]["slider"]["endpoint"] = ours_slider[0]
                # Without exports/gan.onnx the endpoint answers at once with no image: say so.
                figures["latency"]["slider"]["image_returned"] = first_output(ours_client.predict(*ours_slider[1], api_name=ours_slider[0])) is not None
            else:
                figures["latency"]["slider"] = {"missing": f"no slider endpoint ({', '.join(SLIDER_ENDPOINTS)}) in the app yet"}
            figures["torch_loaded_after_load"] = ours.loads_torch()
            ours_client.close()
            bare_client.close()
    figures["targets"] = targets(figures)
    return figures


def targets(f: dict) -> dict:
    c, cs = f["latency"]["classify"], f["cold_start"]
    have = "missing" not in c
    checks = {
        "classify_median_ratio": ratio(c["ours"]["median_ms"], c["bare"]["median_ms"]) if have else None,
        "classify_p95_ratio": ratio(c["ours"]["p95_ms"], c["bare"]["p95_ms"]) if have else None,
        "cold_start_ratio": ratio(cs["ours"]["first_classify_s"], cs["bare"]["first_classify_s"]),
        "idle_memory_ratio": ratio(cs["ours"]["idle_rss_mib"], cs["bare"]["idle_rss_mib"]),
    }
    out = {k: {"value": v, "at_most": TARGETS[k], "met": v is not None and v <= TARGETS[k]} for k, v in checks.items()}
    errors = f["load"]["ours_64"]["errors"] if have else None
    out["no_errors_at_64_clients"] = {"value": errors, "met": errors == 0}
    torch_seen = cs["ours"]["torch_loaded_idle"] or cs["ours"]["torch_loaded_after_answers"] or f["torch_loaded_after_load"]
    out["torch_not_loaded_while_serving"] = {"value": "loaded" if torch_seen else "not loaded", "met": not torch_seen}
    return out


def _ms(s: dict) -> str:
    return "n/a" if s.get("median_ms") is None else f"{s['median_ms']:.1f} ms median, {s['p95_ms']:.1f} ms p95"


def rows(f: dict) -> list[tuple[str, str, str]]:
    out = []
    for what in ("classify", "slider"):
        lat = f["latency"][what]
        if "missing" in lat:
            out.append((f"{what} latency", "n/a", lat["missing"]))
            continue
        name = "/classify" if what == "classify" else lat["endpoint"]
        note = f"{ratio(lat['ours']['median_ms'], lat['bare']['median_ms']):.2f}x median, {ratio(lat['ours']['p95_ms'], lat['bare']['p95_ms']):.2f}x p95"
        if lat.get("image_returned") is False:
            note += "; NO IMAGE (no generator: exports/gan.onnx missing?)"
        out.append((f"{name} latency, ours / bare", f"{_ms(lat['ours'])} / {_ms(lat['bare'])}", note))
    for clients in (16, 64):
        if f"ours_{clients}" not in f["load"]:
            continue
        o, b = f["load"][f"ours_{clients}"], f["load"][f"bare_{clients}"]
        out.append((f"/classify with {clients} clients, ours / bare",
                    f"{o['per_second']:.1f} / {b['per_second']:.1f} answers/s; errors {o['errors']} / {b['errors']}",
                    f"latency p95 {o['latency_p95_ms'] or 0:.0f} / {b['latency_p95_ms'] or 0:.0f} ms"))
    o, b = f["cold_start"]["ours"], f["cold_start"]["bare"]
    first = "n/a" if o["first_classify_s"] is None else f"{o['first_classify_s']:.2f}"
    out.append(("cold start to first /classify, ours / bare", f"{first} / {b['first_classify_s']:.2f} s",
                f"page served at {o['page_s']:.2f} / {b['page_s']:.2f} s"))
    out.append(("idle memory (RSS), ours / bare", f"{o['idle_rss_mib']:.0f} / {b['idle_rss_mib']:.0f} MiB",
                f"after answers {o['rss_after_answers_mib']:.0f} / {b['rss_after_answers_mib']:.0f} MiB"))
    for name, t in f["targets"].items():
        value = t.get("value")
        shown = f"{value:.2f}x" if isinstance(value, float) else ("n/a" if value is None else str(value))
        limit = f" (<= {t['at_most']}x)" if "at_most" in t else ""
        out.append((f"target: {name}{limit}", shown, "met" if t["met"] else "NOT met"))
    return out


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer calls, shorter load (noisier)")
    parser.add_argument("--ours", default="app.py", help="the app to measure against the bare one (default app.py)")
    args = parser.parse_args()
    figures = run(args.quick, args.ours)
    for row in rows(figures):
        print(" | ".join(row))
    print(json.dumps(figures, indent=1, default=str))
