"""Where a training step's time goes: one epoch of each loop (CNN and GAN, ours and the primer's),
run through the real `train()` generators with a runtime.Phases timer, split into data, augment,
forward, backward, optimiser, EMA, eval (the epoch-end figures, spread over the epoch's steps) and
events (the per-step losses and the Progress event), with the set-up (data, models) apart.

Beside it, the share of the machine's FLOP limit each loop reaches: the arithmetic of one step as
torch.utils.flop_counter counts it (convolutions and matrix products, forward and backward; the
elementwise rest is left out, so the share is a floor), times the steps a second, over the best
rate of a float32 2048x2048 matmul on the same threads.

    python -m benchmarks.train_profile                       # all four, every core
    python -m benchmarks.train_profile --only cnn:lab --threads 1
    python -m benchmarks.train_profile --json profile.json
    python -m benchmarks.train_profile --recipe old new      # our arch's settings before and after, in turn
    python -m benchmarks.train_profile --recipe fp32 new     # float32 against bf16 where the CPU has it, all four
"""
import argparse
import json
import os
import time

PHASES = ("data", "augment", "forward", "backward", "optimiser", "ema", "eval", "events")
RUNS = ("cnn:lab", "cnn:seed", "gan:lab", "gan:seed")


def matmul_limit(threads: int, device: str = "cpu", size: int = 2048, repeats: int = 5) -> float:
    """GFLOP/s of the best of `repeats` float32 size x size matmuls on `threads` threads (or the GPU)."""
    import torch

    torch.set_num_threads(threads)
    a, b = torch.randn(size, size, device=device), torch.randn(size, size, device=device)
    wait = torch.cuda.synchronize if device == "cuda" else (lambda: None)
    a @ b  # the first call pays for the library's set-up
    wait()
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        a @ b
        wait()
        best = min(best, time.perf_counter() - started)
    return 2 * size**3 / best / 1e9


def _settings(kind: str, arch: str, recipe: str) -> dict:
    """The recipe's settings for our arch (benchmarks/train.py's RECIPES); the primer's recipe is
    the same in both."""
    from benchmarks.train import RECIPES

    if arch != "lab":
        return {}
    own = RECIPES[recipe][kind]
    return {k: v for k, v in own.items() if k not in ("knobs", "epochs", "env")} | own["knobs"]


def _loop(kind: str, arch: str, device: str, max_steps: int, phases=None, recipe: str = "new"):
    from training import train_cnn, train_gan

    config = (train_cnn.CNNConfig if kind == "cnn" else train_gan.GANConfig)
    # the epochs as the recipe has them matter only for the one-cycle schedule's shape, not a step's cost
    settings = _settings(kind, arch, recipe) | {"arch": arch, "device": device, "max_steps": max_steps}
    return (train_cnn if kind == "cnn" else train_gan).train(config(**settings), phases=phases)


def _conv_backward_flops(grad_out_shape, x_shape, w_shape, _bias, _stride, _padding, _dilation, transposed,
                         _output_padding, _groups, output_mask, out_shape=None, **_) -> int:
    """A convolution's gradients: each of the input's and the weight's has the forward's
    multiply-adds. (torch's own formula leaves the groups out, which counts a depthwise
    convolution's backward as that of a dense one, 9 to 128 times too much here.)"""
    from torch.utils.flop_counter import conv_flop_count

    forward = conv_flop_count(list(x_shape), list(w_shape), list(grad_out_shape), transposed)
    return forward * (int(bool(output_mask[0])) + int(bool(output_mask[1])))


def step_flops(kind: str, arch: str, device: str, recipe: str = "new") -> float:
    """FLOPs of the loop's second step (the first also sets the run up, the last evaluates)."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    events = _loop(kind, arch, device, max_steps=3, recipe=recipe)
    next(events)
    mapping = {torch.ops.aten.convolution_backward: _conv_backward_flops}
    with FlopCounterMode(display=False, custom_mapping=mapping) as counter:
        next(events)
    events.close()
    return float(counter.get_total_flops())


def warm_up(kind: str, arch: str, device: str = "cpu", steps: int = 5, recipe: str = "new") -> float:
    """Seconds of a few steps of the loop, the last evaluating: what a process pays once (oneDNN
    picks and builds its kernels for each shape, the thread pool starts, the heap grows), which
    would otherwise land in the first profiled loop's steps and not the others'."""
    started = time.perf_counter()
    for _ in _loop(kind, arch, device, max_steps=steps, recipe=recipe):
        pass
    return time.perf_counter() - started


def profile(kind: str, arch: str, device: str = "cpu", warm: bool = True, recipe: str = "new") -> dict:
    """One epoch of the loop, timed by phase; the per-step figures are over the epoch's steps.
    Unless `warm` is False, a few untimed steps go first (warm_up)."""
    from training import data, runtime, train_cnn, train_gan  # noqa: F401 (imported before the clock starts)

    warm_up_seconds = warm_up(kind, arch, device, recipe=recipe) if warm else None
    per_epoch = data.steps_per_epoch(data.load("mnist-5k")[0], 64)  # the first epoch's end, near enough
    phases = runtime.Phases(runtime.pick_device(device))
    started = time.perf_counter()
    events = _loop(kind, arch, device, max_steps=per_epoch, phases=phases, recipe=recipe)
    first = next(events)
    setup = time.perf_counter() - started - sum(phases.seconds.values())
    steps = first.step
    for event in events:
        steps = event.step
    stepping = time.perf_counter() - started - setup
    per_step = {name: 1000 * phases.seconds.get(name, 0.0) / steps for name in PHASES}
    per_step["other"] = 1000 * stepping / steps - sum(per_step.values())
    return {"steps": steps, "setup_seconds": round(setup, 2), "steps_per_second": round(steps / stepping, 2),
            "warm_up_seconds": round(warm_up_seconds, 2) if warm else None,
            "ms_per_step": {k: round(v, 2) for k, v in per_step.items()}}


def main(only=RUNS, threads: int | None = None, device: str = "cpu", recipes=("new",)) -> dict:
    """Each loop of `only` under each recipe, the recipes in turn loop by loop (the primer's arch
    has one recipe: it runs once, and once more for each recipe that sets the environment, fp32)."""
    from benchmarks.train import RECIPES, environment

    import training  # noqa: F401 (first: its OpenMP setting must precede torch's loading)
    import torch

    threads = threads or os.cpu_count() or 1
    limit = matmul_limit(threads, device)
    figures = {"torch": torch.__version__, "threads": threads, "interop_threads": torch.get_num_interop_threads(),
               "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY"), "gomp_spincount": os.environ.get("GOMP_SPINCOUNT"), "device": device, "matmul_gflops": round(limit, 1), "runs": {}}
    for name in only:
        kind, arch = name.split(":")
        for recipe in recipes if arch == "lab" else [r for r in recipes if "env" in RECIPES[r][kind] or r == recipes[-1]]:
            torch.set_num_threads(threads)
            with environment(RECIPES[recipe][kind]):
                run = profile(kind, arch, device, recipe=recipe)
            run["gflop_per_step"] = round(step_flops(kind, arch, device, recipe) / 1e9, 3)
            run["gflops"] = round(run["gflop_per_step"] * run["steps_per_second"], 2)
            run["share_of_limit"] = round(run["gflops"] / limit, 4)
            label = name if len(recipes) == 1 else f"{name} ({recipe})"
            figures["runs"][label] = run
            print(_line(label, run), flush=True)
    return figures


def _line(name: str, run: dict) -> str:
    parts = ", ".join(f"{k} {v:.1f}" for k, v in run["ms_per_step"].items() if v >= 0.05)
    share = f", {100 * run['share_of_limit']:.1f}% of the matmul limit"
    return (f"{name}: {run['steps_per_second']} steps/s over {run['steps']} steps (set-up {run['setup_seconds']} s, "
            f"warm-up {run['warm_up_seconds']} s untimed); "
            f"ms a step: {parts}; {run['gflop_per_step']} GFLOP a step, {run['gflops']} GFLOP/s{share}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="+", choices=RUNS, default=list(RUNS))
    parser.add_argument("--threads", type=int, help="torch threads (default: every core)")
    parser.add_argument("--device", default="cpu", help="cpu or cuda")
    parser.add_argument("--json", help="also write the figures here")
    parser.add_argument("--recipe", nargs="+", choices=("old", "fp32", "new"), default=["new"],
                        help="our arch's settings: old (the defaults before the speed work of 2026-12-04), new (today's), fp32 (today's "
                             "in float32 where the CPU would train in bf16, both archs), or several in turn")
    args = parser.parse_args()
    figures = main(args.only, args.threads, args.device, tuple(args.recipe))
    print(f"limit: float32 2048x2048 matmul, best of 5, {figures['threads']} thread(s): {figures['matmul_gflops']} GFLOP/s; "
          f"OMP_WAIT_POLICY {figures['omp_wait_policy']}, GOMP_SPINCOUNT {figures['gomp_spincount']}, load average {os.getloadavg()[0]:.2f}")
    if args.json:
        with open(args.json, "w") as out:
            json.dump(figures, out, indent=1)
