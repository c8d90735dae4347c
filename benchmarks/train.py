"""How fast the Train tab's runs learn on this machine: a default CNN run's time to 97% and 98.5%
held-out accuracy, and a default GAN run's time to a label fidelity of 0.8 and 0.97, the shipped
GAN's bar (the share of its fixed-latent samples that exports/cnn.onnx reads as the digit asked for).
Both use every core, as the training scripts do (the tab itself leaves one core to the server).

Each run goes through training.jobs exactly as a Start in the tab does (background thread, the
tab's torch thread count, then the ONNX export with its parity check), with the training scripts'
default settings (CNNConfig(), GANConfig()); it is stopped as soon as every target is met, or at
the time limit. Times are those of the loop's own clock (Progress.elapsed: from the run's set-up,
data loading included, torch's import not), read at the epoch ends where the figures are measured.

    python -m benchmarks.train              # CNN then GAN (the GAN part takes many minutes on a CPU)
    python -m benchmarks.train --skip-gan   # CNN only
"""
import argparse
import json
import os
import tempfile
import time
from dataclasses import replace

from training import jobs, settings

TARGETS = {"cnn": ("held_out_accuracy", (0.97, 0.985)), "gan": ("label_fidelity", (0.8, 0.97))}
LIMIT_SECONDS = {"cnn": 900, "gan": 1800}


def measure(kind: str, epochs: int | None = None, threads: int | None = None, limit: float | None = None) -> dict:
    """One default run of `kind`, stopped once its targets are met; its timeline and figures."""
    from training import train_cnn, train_gan

    defaults = (train_cnn.CNNConfig if kind == "cnn" else train_gan.GANConfig)()
    metric, targets = TARGETS[kind]
    timeline, reached = [], {}
    with tempfile.TemporaryDirectory() as runs_dir:
        caps = replace(settings.TrainSettings(), runs_dir=runs_dir, max_seconds=limit or LIMIT_SECONDS[kind],
                       max_epochs=10_000, threads=threads or os.cpu_count() or 1)
        request = jobs.RunRequest(kind, defaults.dataset, epochs or defaults.epochs, defaults.lr, defaults.batch_size, defaults.seed)

        def recorded(run):
            events = jobs.training_events(run)
            try:
                for event in events:
                    if event.epoch_end and metric in event.metrics:
                        value = event.metrics[metric]
                        timeline.append({"epoch": event.epoch, "step": event.step, "seconds": round(event.elapsed, 1),
                                         metric: round(value, 4)})
                        for target in targets:
                            if value >= target and target not in reached:
                                reached[target] = (event.elapsed, event.epoch, event.step)
                        if len(reached) == len(targets):
                            jobs.request_stop(run, "benchmark targets met", wait=0)
                    yield event
            finally:
                events.close()

        started = time.monotonic()
        run = jobs.start(request, "benchmark", caps=caps, make_events=recorded)
        run.training_ended.wait()
        trained = time.monotonic()
        run.done.wait()
        view = run.view()
    figures = {
        "config": {"epochs": request.epochs, "batch_size": request.batch_size, "lr": request.lr, "dataset": request.dataset},
        "torch_threads": caps.torch_threads(),
        "steps_per_second": round(view.steps_per_second, 2),
        "steps": view.step, "total_steps": view.total_steps,
        "wall_seconds_training": round(trained - started, 1),
        "export_seconds": round(time.monotonic() - trained, 1) if view.state == "finished" else None,
        "best_" + metric: max((t[metric] for t in timeline), default=None),
        "stop_reason": view.stop_reason, "error": view.error,
        "timeline": timeline,
    }
    for target in targets:
        hit = reached.get(target)
        name = f"seconds_to_{metric}_{target:g}".replace(".", "_")
        figures[name] = round(hit[0], 1) if hit else None
        figures[name.replace("seconds", "epochs")] = hit[1] if hit else None
    return figures


def run(quick: bool = False, gan: bool = True, cnn_epochs: int | None = None, threads: int | None = None) -> dict:
    """Figures for the CNN, and for the GAN unless `gan` is False or `quick` is set."""
    figures = {"cpus": os.cpu_count(), "load_average_at_start": round(os.getloadavg()[0], 2)}
    figures["cnn"] = measure("cnn", cnn_epochs, threads)
    if gan and not quick:
        figures["gan"] = measure("gan", None, threads)
    figures["load_average_at_end"] = round(os.getloadavg()[0], 2)
    try:
        import torch

        figures["device"] = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "cpu"
    except Exception:
        figures["device"] = "unknown"
    return figures


def rows(figures: dict) -> list[tuple[str, str, str]]:
    out = []
    for kind in ("cnn", "gan"):
        part = figures.get(kind)
        if not part:
            continue
        metric, targets = TARGETS[kind]
        for target in targets:
            name = f"seconds_to_{metric}_{target:g}".replace(".", "_")
            seconds = part.get(name)
            out.append((f"{kind.upper()} default run: time to {metric.replace('_', ' ')} {target:g}",
                        f"{seconds} s (epoch {part[name.replace('seconds', 'epochs')]})" if seconds is not None else "not reached",
                        f"best {part['best_' + metric]}, {part['steps_per_second']} steps/s on {part['torch_threads']} torch thread(s)"))
        out.append((f"{kind.upper()} export after the run", f"{part['export_seconds']} s", "ONNX export with parity check"))
    out.append(("device / load average", f"{figures.get('device')} / {figures['load_average_at_start']} -> {figures['load_average_at_end']}",
                f"{figures['cpus']} CPUs"))
    return out


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skip-gan", action="store_true", help="measure the CNN only (the GAN takes many minutes on a CPU)")
    parser.add_argument("--cnn-epochs", type=int, help="epochs for the CNN run (default: CNNConfig's)")
    parser.add_argument("--threads", type=int, help="torch threads (default: all cores)")
    args = parser.parse_args()
    figures = run(gan=not args.skip_gan, cnn_epochs=args.cnn_epochs, threads=args.threads)
    for row in rows(figures):
        print(" | ".join(row))
    print(json.dumps(figures, indent=1))
