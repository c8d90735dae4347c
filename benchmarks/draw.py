"""The model work behind one reading on one CPU core: preprocess + inference + occlusion saliency
(one batched onnxruntime run) + the overlay image. Target: under 20 ms. Two ways in:
- /classify (API users): the Sketchpad value, as Gradio hands it to the handler;
- /classify_strokes (the page's canvas): its JSON strokes, the whole handler with both CNNs'
  readings, once with the pen lifted (everything) and once while it moves (labels only).

Figures are per request over drawn digits of every size and pen (tests/draw_digits.py). `cpu_ms`
is the thread's CPU time, which is what one core spends even when other processes share it;
`wall_ms` is the elapsed time, which on a busy machine includes waiting for a core.

    python -m benchmarks.draw
"""
import os
import time

import numpy as np


def _one_core() -> None:
    """Pin this process to one core (where the OS allows) so the figure is per core."""
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})


def run(requests: int = 200, seed: int = 0) -> dict:
    from inference.classifier import read, saliency_on_strokes
    from inference.preprocess import prepare
    from inference.sessions import session
    from tabs.draw.canvas import CANVAS
    from tabs.draw.tab import classify_strokes
    from tests.draw_digits import drawn_digit, page_digit

    _one_core()
    session("cnn")  # opened once per server, not per request
    rng = np.random.default_rng(seed)
    values = [drawn_digit(int(rng.integers(10)), rng, canvas=CANVAS) for _ in range(requests)]
    wall, cpu, stages = [], [], {"preprocess": [], "inference+saliency": [], "overlay": []}
    for warm in values[:5]:
        read(prepare(warm))
    for value in values:
        start_wall, start_cpu = time.perf_counter(), time.thread_time()
        steps = prepare(value)
        t1 = time.thread_time()
        reading, heat = read(steps)
        t2 = time.thread_time()
        saliency_on_strokes(steps, heat)
        t3 = time.thread_time()
        wall.append(time.perf_counter() - start_wall)
        cpu.append(t3 - start_cpu)
        stages["preprocess"].append(t1 - start_cpu)
        stages["inference+saliency"].append(t2 - t1)
        stages["overlay"].append(t3 - t2)
    ms = lambda xs, q: round(float(np.percentile(xs, q)) * 1000, 2)  # noqa: E731
    figures = {
        "requests": requests,
        "canvas": CANVAS,
        "cpu_ms_median": ms(cpu, 50),
        "cpu_ms_p95": ms(cpu, 95),
        "wall_ms_median": ms(wall, 50),
        "wall_ms_p95": ms(wall, 95),
        "target_ms": 20,
    }
    figures.update({f"{name}_cpu_ms_median": ms(xs, 50) for name, xs in stages.items()})
    lifted = [page_digit(int(rng.integers(10)), rng, float(rng.uniform(0.3, 0.9))) for _ in range(requests)]
    moving = [value.replace('"up": true', '"up": false') for value in lifted]
    for name, batch in (("strokes_up", lifted), ("strokes_moving", moving)):
        cpu = []
        for value in batch:
            start = time.thread_time()
            classify_strokes(value)
            cpu.append(time.thread_time() - start)
        figures[f"{name}_cpu_ms_median"] = ms(cpu, 50)
        figures[f"{name}_cpu_ms_p95"] = ms(cpu, 95)
    return figures


if __name__ == "__main__":
    for key, value in run().items():
        print(f"{key:>32}: {value}")
