"""How fast the Train tab's runs learn on this machine: a default CNN run's time to 97% and 98.5%
held-out accuracy, and a default GAN run's time to a label fidelity of 0.8 and 0.97 (the share of the
loop's 100 fixed-latent samples that exports/cnn.onnx reads as the digit asked for), then to the
shipped GAN's bar as its export measures it: on 2,000 samples, label fidelity at least 0.97 and
Frechet ratio at most 10. Both use every core, as the training scripts do (the tab itself leaves one
core to the server).

Each run goes through runs.jobs exactly as a Start in the tab does (background thread, the
tab's torch thread count, then the ONNX export with its parity check), with the training scripts'
default settings (CNNConfig(), GANConfig()); it is stopped as soon as every target is met, or at
the time limit. Times are those of the loop's own clock (Progress.elapsed: from the run's set-up,
data loading included, torch's import not), read at the epoch ends where the figures are measured.
Judging a GAN snapshot on 2,000 samples happens in the run's thread (from a fidelity of 0.9 on); its
time is taken off the clock.

    python -m benchmarks.train              # CNN then GAN (the GAN part takes many minutes on a CPU)
    python -m benchmarks.train --skip-gan   # CNN only
    python -m benchmarks.train --skip-gan --seeds 0 1 2   # the median of three seeds, with the spread
    python -m benchmarks.train --seeds 0 1 2 --recipe old new   # before and after, run by run in turn
    python -m benchmarks.train --skip-gan --seeds 0 1 2 --recipe old new --whole   # CNN runs to their end
    python -m benchmarks.train --skip-gan --seeds 0 1 2 --recipe fp32 new --whole   # float32 against bf16 on the CPU
    python -m benchmarks.train --skip-gan --seeds 0 1 2 3 4 --whole --set canvas_share=0.65 lr=0.007   # a variant of the CNN's recipe

`--recipe fp32` is `new` in full float32 where the CPU would train in bf16. `--recipe old` is the defaults as they were before the speed work of 2026-12-04 (RECIPES below), `new`
the training scripts' defaults now; given both, each seed runs old then new in turn, so a machine
whose load changes during the benchmark weighs on both alike, and a table of both is printed.
`--set KNOB=VALUE ...` changes the CNN's recipes (any CNNConfig field: epochs, lr, batch_size or a knob).

With `--whole`, a CNN run also gives its held-out accuracy averaged over the epoch ends of its second
half ("late_held_out_accuracy"): where the recipe settles, which a run's best or its first crossing of a
target reads from one lucky or unlucky epoch.
"""
import argparse
import contextlib
import dataclasses
import statistics
import json
import os
import tempfile
import time
from dataclasses import replace

from training import settings
from runs import jobs

TARGETS = {"cnn": ("held_out_accuracy", (0.97, 0.985)), "gan": ("label_fidelity", (0.8, 0.97))}
SHIPPED_BAR = {"label_fidelity": 0.97, "frechet_ratio": 10.0}  # the GAN's figures to reach, 2,000 samples
JUDGE_FROM = 0.9  # in-loop label fidelity from which GAN snapshots are judged in full
LIMIT_SECONDS = {"cnn": 900, "gan": 1800}
# The default runs before the speed work of 2026-12-04, every knob that changed spelled out, so "old"
# stays what it was whatever the defaults become. "new" is the defaults as they are.
RECIPES = {
    "old": {
        "cnn": {"epochs": 12, "lr": 1e-2, "batch_size": 64, "knobs": {
            "weight_decay": 5e-4, "label_smoothing": 0.1, "augment": True, "canvas_share": 0.5, "typed_digits": True,
            "ema": 0.99, "dropout": 0.2, "schedule": "one-cycle", "loss": "ce"}},
        "gan": {"epochs": 60, "lr": 1e-4, "batch_size": 64, "knobs": {
            "d_lr": 4e-4, "beta1": 0.0, "beta2": 0.9, "z_dim": 32, "g_width": 96, "d_width": 48, "ema": 0.999,
            "augment": True, "loss": "hinge"}},
    },
    "new": {"cnn": {"knobs": {}}, "gan": {"knobs": {}}},
    # "new" in full float32 on a CPU that would compute in bf16 (training/runtime.py cpu_bf16)
    "fp32": {"cnn": {"knobs": {}, "env": {"DIGIT_LAB_CPU_BF16": "0"}}, "gan": {"knobs": {}, "env": {"DIGIT_LAB_CPU_BF16": "0"}}},
}


@contextlib.contextmanager
def environment(own: dict):
    """A recipe's environment variables (its "env", e.g. DIGIT_LAB_CPU_BF16) set for as long as
    its run lasts, then as they were."""
    outer = {name: os.environ.get(name) for name in own.get("env", {})}
    os.environ.update(own.get("env", {}))
    try:
        yield
    finally:
        for name, value in outer.items():
            os.environ.pop(name) if value is None else os.environ.update({name: value})


class FullJudge:
    """The export's judgement of a GAN, on a run's snapshot: label fidelity and Frechet ratio of its
    (moving-average) generator on the 2,000 fixed latents, read by the shipped CNN."""

    def __init__(self, dataset: str):
        from training import data, metrics

        self.train_set, self.held_out = data.load(dataset)
        self.judge = metrics.Judge(metrics.SHIPPED_CNN)

    def __call__(self, snapshot: dict) -> dict:
        import torch

        from training import metrics
        from training.export import onnx_export as export
        from training.train_gan import build_generator

        generator = build_generator(snapshot["config"])
        generator.load_state_dict(snapshot["model"])
        z, labels = export.judged_latents(generator.z_dim)
        with torch.no_grad():
            images = (generator.eval()(z, labels).numpy() + 1) / 2
        return metrics.gan_quality(self.judge, images, labels.numpy(), self.held_out.images.numpy(), self.train_set.images.numpy())


def meets_bar(quality: dict) -> bool:
    return quality["label_fidelity"] >= SHIPPED_BAR["label_fidelity"] and quality["frechet_ratio"] <= SHIPPED_BAR["frechet_ratio"]


def measure(kind: str, epochs: int | None = None, threads: int | None = None, limit: float | None = None,
            seed: int | None = None, recipe: str = "new", whole: bool = False, changes: dict | None = None) -> dict:
    """One default run of `kind` (its default seed unless `seed`) with `recipe`'s settings (RECIPES)
    and `changes` to them, stopped once its targets are met (or run to its end if `whole`: its best
    figure is then the run's, not the one where it stopped); its timeline and figures."""
    from training import train_cnn, train_gan

    own = RECIPES[recipe][kind]
    if changes:
        fields = {name: value for name, value in changes.items() if name in ("epochs", "lr", "batch_size")}
        own = {**own, **fields, "knobs": {**own["knobs"], **{k: v for k, v in changes.items() if k not in fields}}}
    config = (train_cnn.CNNConfig if kind == "cnn" else train_gan.GANConfig)
    defaults = config(**{k: v for k, v in own.items() if k not in ("knobs", "env")}, **own["knobs"])
    metric, targets = TARGETS[kind]
    timeline, reached = [], {}
    full_judge = FullJudge(defaults.dataset) if kind == "gan" else None
    goals = len(targets) + (full_judge is not None)
    with tempfile.TemporaryDirectory() as runs_dir:
        caps = replace(settings.TrainSettings(), runs_dir=runs_dir, max_seconds=limit or LIMIT_SECONDS[kind],
                       max_epochs=10_000, threads=threads or os.cpu_count() or 1)
        request = jobs.RunRequest(kind, defaults.dataset, epochs or defaults.epochs, defaults.lr, defaults.batch_size,
                                  defaults.seed if seed is None else seed, dict(own["knobs"]))

        def recorded(run):
            events = jobs.training_events(run)
            judging = 0.0  # seconds spent judging snapshots in full, off the run's clock
            try:
                for event in events:
                    if event.epoch_end and metric in event.metrics:
                        value, elapsed = event.metrics[metric], event.elapsed - judging
                        point = {"epoch": event.epoch, "step": event.step, "seconds": round(elapsed, 1), metric: round(value, 4)}
                        for target in targets:
                            if value >= target and target not in reached:
                                reached[target] = (elapsed, event.epoch, event.step)
                        if full_judge and value >= JUDGE_FROM and "shipped_bar" not in reached:
                            started_judging = time.perf_counter()
                            quality = full_judge(event.snapshot())
                            judging += time.perf_counter() - started_judging
                            point |= {"full_" + k: round(quality[k], 4) for k in SHIPPED_BAR}
                            if meets_bar(quality):
                                reached["shipped_bar"] = (elapsed, event.epoch, event.step)
                        timeline.append(point)
                        if len(reached) == goals and not whole:
                            jobs.request_stop(run, "benchmark targets met", wait=0)
                    yield event
            finally:
                events.close()

        with environment(own):
            started = time.monotonic()
            run = jobs.start(request, "benchmark", caps=caps, make_events=recorded)
            run.training_ended.wait()
            trained = time.monotonic()
            run.done.wait()
            view = run.view()
    figures = {
        "recipe": recipe,
        "config": {"epochs": request.epochs, "batch_size": request.batch_size, "lr": request.lr, "dataset": request.dataset,
                   "seed": request.seed, **request.knobs},
        "torch_threads": caps.torch_threads(),
        # on the run's clock, the full judging left out
        "steps_per_second": round(timeline[-1]["step"] / timeline[-1]["seconds"], 2) if timeline else None,
        "steps": view.step, "total_steps": view.total_steps,
        "wall_seconds_training": round(trained - started, 1),
        "export_seconds": round(time.monotonic() - trained, 1) if view.state == "finished" else None,
        "best_" + metric: max((t[metric] for t in timeline), default=None),
        **({"late_" + metric: late_mean(timeline, metric, view.total_steps)} if whole and view.state == "finished" else {}),
        "stop_reason": view.stop_reason, "error": view.error,
        "timeline": timeline,
    }
    names = {target: f"{metric}_{target:g}".replace(".", "_") for target in targets} | ({"shipped_bar": "shipped_bar"} if full_judge else {})
    for goal, name in names.items():
        hit = reached.get(goal)
        figures["seconds_to_" + name] = round(hit[0], 1) if hit else None
        figures["epochs_to_" + name] = hit[1] if hit else None
        figures["steps_to_" + name] = hit[2] if hit else None
    return figures


def late_mean(timeline: list[dict], metric: str, total_steps: int) -> float | None:
    """`metric` averaged over the epoch ends of a whole run's second half."""
    late = [point[metric] for point in timeline if point["step"] > total_steps / 2]
    return round(statistics.mean(late), 4) if late else None


def median_of_seeds(runs: list[dict]) -> dict:
    """The runs' figures, each as the median over the seeds with its range: one machine's seeds
    spread further than machines of a kind do, so this is the figure another machine should match."""
    summary = {"seeds": [r["config"]["seed"] for r in runs]}
    for name in runs[0]:
        values = [r[name] for r in runs]
        if name.startswith(("seconds_to_", "steps_to_", "best_", "late_", "wall_seconds", "steps_per_second")) and all(isinstance(v, (int, float)) for v in values):
            summary[name] = {"median": round(statistics.median(values), 4), "min": min(values), "max": max(values), "each": values}
        elif name.startswith(("seconds_to_", "steps_to_")):  # a seed that never got there: no median, each said
            summary[name] = {"each": values}
    return summary


def run(quick: bool = False, gan: bool = True, cnn_epochs: int | None = None, threads: int | None = None,
        seeds: list[int] | None = None, recipes: tuple[str, ...] = ("new",), gan_seeds: list[int] | None = None,
        whole: bool = False, changes: dict | None = None) -> dict:
    """Figures for the CNN (one run, or one per seed and their medians), and for the GAN unless
    `gan` is False or `quick` is set, for each recipe (the CNN's with `changes`); the recipes take
    turns within each seed."""
    figures = {"cpus": os.cpu_count(), "load_average_at_start": round(os.getloadavg()[0], 2), "recipes": list(recipes),
               "cnn_changes": changes or {}}
    kinds = {"cnn": seeds or [None]} | ({"gan": gan_seeds or [None]} if gan and not quick else {})
    for kind, kind_seeds in kinds.items():
        by_recipe = {recipe: [] for recipe in recipes}
        for seed in kind_seeds:
            for recipe in recipes:
                by_recipe[recipe].append(measure(kind, cnn_epochs if kind == "cnn" else None, threads, seed=seed, recipe=recipe,
                                                 whole=whole and kind == "cnn", changes=changes if kind == "cnn" else None))
        for recipe, runs in by_recipe.items():
            name = kind if recipe == recipes[-1] else f"{kind}_{recipe}"  # figures["cnn"]: the last recipe's
            figures[name] = runs[0]
            if len(runs) > 1:
                figures[name + "_seeds"], figures[name + "_median"] = runs, median_of_seeds(runs)
    figures["load_average_at_end"] = round(os.getloadavg()[0], 2)
    try:
        import torch

        figures["device"] = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "cpu"
    except Exception:
        figures["device"] = "unknown"
    return figures


def _spread(runs: list[dict], name: str, unit: str = "") -> str:
    """'median (min-max)' over the seeds, or each seed's value where one never got there."""
    values = [r[name] for r in runs]
    if any(v is None for v in values):
        return ", ".join("never" if v is None else f"{v:g}{unit}" for v in values)
    if len(values) == 1:
        return f"{values[0]:g}{unit}"
    return f"{statistics.median(values):g}{unit} ({min(values):g}-{max(values):g})"


def comparison(figures: dict) -> list[str]:
    """A Markdown table of each kind and recipe: time and steps to each target, best figure and
    steps a second, as medians over the seeds with their range."""
    lines = []
    for kind in ("cnn", "gan"):
        metric, targets = TARGETS[kind]
        goals = [f"{metric}_{t:g}".replace(".", "_") for t in targets] + (["shipped_bar"] if kind == "gan" else [])
        words = [f"{100 * t:g}%" if kind == "cnn" else f"fidelity {t:g}" for t in targets] + (["the shipped bar"] if kind == "gan" else [])
        late = "late_" + metric in figures.get(kind, {})
        changed = " ".join(f"{k}={v}" for k, v in figures.get("cnn_changes", {}).items()) if kind == "cnn" else ""
        header = (["recipe", "seeds"] + [f"to {w}: s / steps" for w in words] + [f"best {metric.replace('_', ' ')}"]
                  + (["second half's mean"] if late else []) + ["steps/s"])
        rows = []
        for recipe in figures.get("recipes", ["new"]):
            name = kind if recipe == figures["recipes"][-1] else f"{kind}_{recipe}"
            if name not in figures:
                continue
            runs = figures.get(name + "_seeds") or [figures[name]]
            cells = [f"{_spread(runs, 'seconds_to_' + g, ' s')} / {_spread(runs, 'steps_to_' + g)}" for g in goals]
            rows.append([f"{recipe} {changed}".strip(), " ".join(str(r["config"]["seed"]) for r in runs), *cells,
                         _spread(runs, "best_" + metric), *([_spread(runs, "late_" + metric)] if late else []),
                         _spread(runs, "steps_per_second")])
        if rows:
            lines += [f"{kind.upper()} default run, {runs[0]['torch_threads']} torch thread(s):", "| " + " | ".join(header) + " |",
                      "|" + "---|" * len(header)] + ["| " + " | ".join(row) + " |" for row in rows] + [""]
    return lines


def rows(figures: dict) -> list[tuple[str, str, str]]:
    out = []
    for kind in ("cnn", "gan"):
        part = figures.get(kind)
        if not part:
            continue
        metric, targets = TARGETS[kind]
        goals = [(f"{metric}_{t:g}".replace(".", "_"), f"{metric.replace('_', ' ')} {t:g}") for t in targets]
        if "seconds_to_shipped_bar" in part:
            goals.append(("shipped_bar", "the shipped bar (2,000 samples: fidelity >= 0.97, Frechet ratio <= 10)"))
        for name, what in goals:
            seconds = part["seconds_to_" + name]
            out.append((f"{kind.upper()} default run: time to {what}",
                        f"{seconds} s (epoch {part['epochs_to_' + name]})" if seconds is not None else "not reached",
                        f"best {part['best_' + metric]}, {part['steps_per_second']} steps/s on {part['torch_threads']} torch thread(s)"))
        out.append((f"{kind.upper()} export after the run", f"{part['export_seconds']} s", "ONNX export with parity check"))
    out.append(("device / load average", f"{figures.get('device')} / {figures['load_average_at_start']} -> {figures['load_average_at_end']}",
                f"{figures['cpus']} CPUs"))
    return out


def parse_change(text: str) -> tuple[str, object]:
    """"canvas_share=0.65" -> ("canvas_share", 0.65): a number or true/false as JSON reads it, else the text."""
    name, _, value = text.partition("=")
    try:
        return name, json.loads(value)
    except ValueError:
        return name, value


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skip-gan", action="store_true", help="measure the CNN only (the GAN takes many minutes on a CPU)")
    parser.add_argument("--cnn-epochs", type=int, help="epochs for the CNN run (default: the recipe's)")
    parser.add_argument("--threads", type=int, help="torch threads (default: all cores)")
    parser.add_argument("--seeds", type=int, nargs="+", help="one CNN run per seed, and their medians with the spread")
    parser.add_argument("--gan-seeds", type=int, nargs="+", help="one GAN run per seed (default: the GAN's own seed only)")
    parser.add_argument("--recipe", nargs="+", choices=list(RECIPES), default=["new"],
                        help="old: the defaults before the speed work of 2026-12-04; new: today's; both: in turn, seed by seed")
    parser.add_argument("--whole", action="store_true", help="run each CNN run to its end, so its best held-out is the run's")
    parser.add_argument("--set", nargs="+", default=[], metavar="KNOB=VALUE",
                        help="change the CNN's recipes: epochs, lr, batch_size or any knob (canvas_share=0.65 label_smoothing=0)")
    args = parser.parse_args()
    changes = dict(parse_change(change) for change in args.set)
    from training.knobs import KnobError
    from training.train_cnn import CNNConfig

    allowed = {field.name for field in dataclasses.fields(CNNConfig)} - {"seed"}
    unknown = sorted(set(changes) - allowed)
    if unknown:
        parser.error(f"--set: not a CNN setting that a recipe may change: {', '.join(unknown)} (seeds: --seeds)")
    try:
        CNNConfig(**changes)  # the knobs' own check, before anything runs
    except KnobError as error:
        parser.error(f"--set: {error}")
    figures = run(gan=not args.skip_gan, cnn_epochs=args.cnn_epochs, threads=args.threads, seeds=args.seeds,
                  recipes=tuple(args.recipe), gan_seeds=args.gan_seeds, whole=args.whole, changes=changes)
    print(json.dumps(figures, indent=1))
    for row in rows(figures):
        print(" | ".join(row))
    print(f"load average {figures['load_average_at_start']} -> {figures['load_average_at_end']} on {figures['cpus']} CPUs, device {figures['device']}\n")
    print("\n".join(comparison(figures)))
