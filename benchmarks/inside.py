"""The inside views' figures:

- model work for one "Inside the CNN" view: one onnxruntime run of the layers companion on one
  core (target <= 30 ms), and the whole view with its pictures, for the shipped CNN;
- what the discriminator thinks: its mean score on held-out real digits, on generated ones and on
  noise, and, for each slider, the mean score at 0 sd and at +-3 sd over many latents (does pushing
  a slider to an extreme lower it?).

`cpu_ms` is the thread's CPU time (what one core spends even when other processes share it);
`wall_ms` includes waiting for a core on a busy machine.

    python -m benchmarks.inside            # both
    python -m benchmarks.inside --quick    # fewer repeats and latents
"""
import argparse
import json
import time

import numpy as np


def view_cost(repeats: int = 100) -> dict:
    from inference import inside
    from tabs.draw import inside as tab
    from training import data

    images = data.load("mnist-5k")[1].images[:repeats, 0].numpy()
    inside.run(images[0])  # the session is opened once per server
    model_cpu, model_wall, view_cpu = [], [], []
    for image in images:
        start_wall, start_cpu = time.perf_counter(), time.thread_time()
        inside.run(image)
        model_cpu.append(time.thread_time() - start_cpu)
        model_wall.append(time.perf_counter() - start_wall)
    for image in images[: max(3, repeats // 10)]:
        start = time.thread_time()
        tab.view(image, "lab", None)
        view_cpu.append(time.thread_time() - start)
    ms = lambda xs, q: round(float(np.percentile(xs, q)) * 1000, 2)  # noqa: E731
    return {"stages": len(inside.load().stages), "model_ms_median": ms(model_cpu, 50), "model_ms_p95": ms(model_cpu, 95),
            "model_wall_ms_median": ms(model_wall, 50), "view_cpu_ms_median": ms(view_cpu, 50), "target_model_ms": 30, "repeats": repeats}


def critic_figures(latents: int = 500, seed: int = 0) -> dict:
    """Mean discriminator scores (shipped GAN): real held-out digits, generated ones, noise, and for
    each slider at 0 and +-3 sd from the same latents and digits."""
    from inference import discriminator, generator as gen
    from training import data

    critic = discriminator.load()
    model = gen.load()
    held_out = data.load("mnist-5k")[1]
    rng = np.random.default_rng(seed)
    digits = np.arange(latents) % 10
    z = rng.standard_normal((latents, model.z_dim)).astype(np.float32)
    noise = rng.random((latents, 28, 28)).astype(np.float32)
    base = gen.generate(model, digits, z)
    figures = {
        "loss": critic.loss, "threshold": critic.threshold, "fitted_after_training": critic.fitted, "latents": latents,
        "real_mean": float(discriminator.scores(held_out.images[:latents, 0].numpy(), held_out.labels[:latents].numpy()).mean()),
        "generated_mean": float(discriminator.scores(base, digits).mean()),
        "noise_mean": float(discriminator.scores(noise, digits).mean()),
        "sliders": [],
    }
    for direction in model.directions:
        row = {"name": direction.name, "at_0": float(discriminator.scores(base, digits).mean())}
        for step in (-3.0, 3.0):
            images = gen.generate(model, digits, z + step * direction.vector)
            row[f"at_{step:+g}"] = float(discriminator.scores(images, digits).mean())
        row["lowered_at_both_extremes"] = bool(row["at_+3"] < row["at_0"] and row["at_-3"] < row["at_0"])
        figures["sliders"].append(row)
    return figures


def run(quick: bool = False, repeats: int | None = None) -> dict:
    figures = view_cost(repeats or (20 if quick else 100))
    try:
        figures["critic"] = critic_figures(100 if quick else 1000)
    except Exception as error:  # no discriminator companion beside the shipped GAN
        figures["critic"] = {"error": f"{type(error).__name__}: {error}"}
    return figures


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m benchmarks.inside", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    print(json.dumps(run(parser.parse_args().quick), indent=1))
