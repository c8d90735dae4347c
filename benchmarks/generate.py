"""The Generate tab's figures, measured through the serving path (onnxruntime, one thread, pinned
to one CPU core):

- one slider update, as the tab does it: build the latent, generate, and the CNN's verdict on the
  image (model work only: no PNG encoding, no HTTP); median and p95 ms, target < 5 ms;
- the slower updates (preview strips for every slider, the ten-digit grid) for scale;
- every offered direction re-measured here, independently of the export: the mean pixel change
  and the share of digits the CNN still reads as asked after a 2 sd move, next to what the export
  stored; and the generator's quality figures from its model card.

    python -m benchmarks.generate [--quick] [--gan exports/gan.onnx]

With --drag, a slider dragged in Chromium on the launched app instead (benchmarks/generate_drag.py:
images a second, and the server requests a drag costs, drawn in the browser and on the server):

    python -m benchmarks.generate --drag [--seconds 5] [--load 40]
"""
import argparse
import json
import os
import time
from pathlib import Path

import numpy as np

from inference import generator as gen
from inference.classifier import probabilities

ROOT = Path(__file__).resolve().parent.parent
TARGET_UPDATE_MS = 5.0
STEP_SD = 2.0
CLASS_KEPT_MIN = 0.9


def pin_to_one_core() -> str:
    """Run on a single CPU core, so 'one core' is what is measured (sessions use one thread)."""
    try:
        core = min(os.sched_getaffinity(0))
        os.sched_setaffinity(0, {core})
        return f"pinned to CPU {core}"
    except (AttributeError, OSError):
        return "not pinned (no sched_setaffinity here)"


def timed(call, seconds: float, warmup: int = 20) -> dict:
    for _ in range(warmup):
        call()
    times, deadline = [], time.perf_counter() + seconds
    while time.perf_counter() < deadline or len(times) < 50:
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    ms = np.asarray(times) * 1e3
    return {"median_ms": float(np.median(ms)), "p95_ms": float(np.percentile(ms, 95)), "calls": len(times)}


def slider_update_timings(model: gen.Model, path: str, seconds: float) -> dict:
    rng = np.random.default_rng(0)
    k = len(model.directions)
    moves = [(int(rng.integers(10)), int(rng.integers(10**6)), rng.uniform(-3, 3, k).tolist()) for _ in range(64)]
    state = {"i": 0}

    def update():  # what tabs.generate.show does, minus encoding the PNG
        digit, seed, values = moves[state["i"] % len(moves)]
        state["i"] += 1
        image = gen.generate(model, [digit], gen.latent(model, seed, 1.0, values)[None])[0]
        probabilities(image[None])

    image = gen.sample(3, 1, gan_path=path)
    return {
        "slider_update": timed(update, seconds),
        "generator_only": timed(lambda: gen.generate(model, [3], gen.latent(model, 1, 1.0)[None]), seconds / 2),
        "cnn_only": timed(lambda: probabilities(image[None]), seconds / 2),
        "preview_strips": timed(lambda: gen.preview_strips(3, 1, 1.0, [0.5] * k, path), seconds / 2, warmup=3),
        "ten_digit_grid": timed(lambda: gen.digit_grid(1, 1.0, (), path), seconds / 2, warmup=3),
    }


def direction_figures(model: gen.Model, per_digit: int) -> dict:
    """Each offered direction moved +-2 sd from per_digit latents of every digit (seeds 0..)."""
    digits = np.repeat(np.arange(10), per_digit)
    latents = np.stack([gen.base_latent(1_000_000 + i, model.z_dim) for i in range(len(digits))])
    base = gen.generate(model, digits, latents)
    base_read = probabilities(base).argmax(1)
    fidelity = float((base_read == digits).mean())
    read_right = base_read == digits  # as at export: only moves from digits the CNN read right count
    out = {"base_label_fidelity": fidelity, "latents": len(digits), "per_direction": {}}
    for d in model.directions:
        changes, kept = [], []
        for sign in (1, -1):
            moved = gen.generate(model, digits, latents + sign * STEP_SD * d.vector)
            changes.append(np.abs(moved - base).mean())
            kept.append((probabilities(moved).argmax(1) == digits)[read_right])
        kept_share = float(np.concatenate(kept).mean())
        out["per_direction"][d.name] = {
            "mean_pixel_change": float(np.mean(changes)), "class_kept": kept_share,
            "meets_class_kept_min": kept_share >= CLASS_KEPT_MIN,
            "stored_at_export": {"mean_pixel_change": d.mean_pixel_change, "class_kept": d.class_kept},
        }
    return out


def card_figures(gan_path: Path) -> dict:
    card = gan_path.with_suffix(".json")
    if not card.is_file():
        return {"note": f"no model card at {card}"}
    metrics = json.loads(card.read_text()).get("metrics", {})
    keep = ("label_fidelity", "frechet_ratio", "frechet_distance", "frechet_baseline", "judged_by", "samples")
    return {k: metrics[k] for k in keep if k in metrics} | {
        "label_fidelity_meets_0.97": metrics.get("label_fidelity", 0) >= 0.97,
        "frechet_ratio_meets_10": metrics.get("frechet_ratio", float("inf")) <= 10,
    }


def run(quick: bool = False, gan_path: str | None = None) -> dict:
    pinned = pin_to_one_core()
    path = Path(gan_path) if gan_path else ROOT / "exports" / "gan.onnx"
    model = gen.load(str(path))
    timings = slider_update_timings(model, str(path), seconds=1.0 if quick else 5.0)
    update = timings["slider_update"]
    return {
        "model": str(path.relative_to(ROOT) if path.is_relative_to(ROOT) else path), "cpu": pinned,
        "one_slider_update_ms": {"median": update["median_ms"], "p95": update["p95_ms"], "target": TARGET_UPDATE_MS,
                                 "meets_target": update["median_ms"] < TARGET_UPDATE_MS},
        "timings": timings,
        "sliders_offered": [d.name for d in model.directions],
        "directions_at_2sd": direction_figures(model, per_digit=20 if quick else 100),
        "card": card_figures(path),
    }


def rows(figures: dict) -> list[tuple[str, str, str]]:
    update = figures["one_slider_update_ms"]
    out = [("one slider update (generate + CNN verdict), 1 core", f"median {update['median']:.2f} ms, p95 {update['p95']:.2f} ms",
            f"target < {update['target']:g} ms: {'met' if update['meets_target'] else 'NOT met'}")]
    for name in ("preview_strips", "ten_digit_grid"):
        t = figures["timings"][name]
        out.append((name.replace("_", " "), f"median {t['median_ms']:.2f} ms, p95 {t['p95_ms']:.2f} ms", ""))
    for name, d in figures["directions_at_2sd"]["per_direction"].items():
        out.append((f"slider '{name}' at 2 sd", f"pixel change {d['mean_pixel_change']:.3f}, class kept {d['class_kept']:.1%}",
                    f">= 90%: {'met' if d['meets_class_kept_min'] else 'NOT met'}"))
    card = figures["card"]
    if "label_fidelity" in card:
        out.append(("GAN label fidelity (card)", f"{card['label_fidelity']:.3f}", f">= 0.97: {'met' if card['label_fidelity_meets_0.97'] else 'NOT met'}"))
        out.append(("GAN Frechet ratio (card)", f"{card['frechet_ratio']:.2f}", f"<= 10: {'met' if card['frechet_ratio_meets_10'] else 'NOT met'}"))
    return out


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m benchmarks.generate", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="shorter timings, fewer latents: noisier")
    parser.add_argument("--gan", default=None, help="a gan.onnx other than exports/gan.onnx")
    parser.add_argument("--drag", action="store_true", help="a slider dragged in Chromium on the launched app (generate_drag.py)")
    parser.add_argument("--seconds", type=float, default=5.0, help="--drag: how long each measured drag lasts")
    parser.add_argument("--load", type=int, default=0, help="--drag: API visitors calling /show meanwhile")
    args = parser.parse_args()
    if args.drag:
        from benchmarks import generate_drag
        figures = generate_drag.run(args.seconds, args.load)
        print(json.dumps(figures, indent=1))
        for what, figure, note in generate_drag.rows(figures):
            print(f"{what:70s} {figure:35s} {note}")
        raise SystemExit
    figures = run(args.quick, args.gan)
    print(json.dumps(figures, indent=1))
    for what, figure, note in rows(figures):
        print(f"{what:55s} {figure:45s} {note}")
