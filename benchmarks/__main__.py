"""Every benchmark in one run: prints one table and writes benchmarks/results.json and a dated
benchmarks/results/<date>-benchmarks.md (benchmarks/results.py).

    python -m benchmarks                    # everything (training figures take minutes)
    python -m benchmarks --skip-training    # all but the training runs
    python -m benchmarks --quick            # shorter measurements, noisier figures
    python -m benchmarks --only runtimes serving

Sections: runtimes (onnxruntime vs PyTorch eager), serving (Digit Lab vs the bare Gradio app),
soak (memory under load, the same two apps through 10,000 calls; --quick: 1,500), and draw,
inside, generate, gradients (Sigmoid vs ReLU layer gradients), train (each a benchmarks/<name>.py exposing run() -> dict, where present).
A section that fails or is missing becomes a row saying so; the others still run."""
import argparse
import contextlib
import datetime
import importlib
import inspect
import json
import os
import platform
import sys
import time
import traceback
from pathlib import Path

from benchmarks import results as results_file

import training  # noqa: F401 (its OpenMP wait policy must be set before machine() imports torch)

RESULTS = Path(__file__).resolve().parent / "results.json"
SECTIONS = ("runtimes", "serving", "soak", "draw", "inside", "generate", "gradients", "train")


def machine() -> dict:
    """What the figures were measured on, including whether a GPU was there for training."""
    info = {"python": platform.python_version(), "platform": platform.platform(), "cpus": os.cpu_count(),
            "load_average": [round(x, 2) for x in os.getloadavg()]}
    for package in ("torch", "onnxruntime", "gradio", "gradio_client"):
        try:
            info[package] = importlib.import_module(package).__version__
        except Exception as error:
            info[package] = f"unavailable ({type(error).__name__})"
    try:
        import torch

        info["gpu"] = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    except Exception:
        info["gpu"] = None
    return info


def run_section(name: str, quick: bool) -> dict:
    try:
        module = importlib.import_module(f"benchmarks.{name}")
    except ModuleNotFoundError as error:
        if error.name == f"benchmarks.{name}":
            return {"error": f"benchmarks/{name}.py is not there yet"}
        return {"error": f"import failed: {error}"}
    except Exception as error:
        return {"error": f"import failed: {type(error).__name__}: {error}"}
    run = getattr(module, "run", None)
    if run is None:
        return {"error": f"benchmarks/{name}.py has no run()"}
    kwargs = {"quick": quick} if "quick" in inspect.signature(run).parameters else {}
    started = time.perf_counter()
    try:
        with process_settings_restored():
            figures = run(**kwargs)
    except Exception as error:  # a missing model or a failed launch is a row, not a crash
        traceback.print_exc()
        return {"error": f"{type(error).__name__}: {error}"[:300]}
    return {"figures": figures, "seconds": round(time.perf_counter() - started, 1), "module": module}


@contextlib.contextmanager
def process_settings_restored():
    """Sections pin this process to one core or set torch's thread count for their own figures;
    undo that after each, so the next (training, launched servers, which inherit the affinity)
    gets the whole machine."""
    affinity = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else None
    torch = sys.modules.get("torch")
    threads = torch.get_num_threads() if torch else None
    try:
        yield
    finally:
        if affinity is not None:
            os.sched_setaffinity(0, affinity)
        torch = sys.modules.get("torch")
        if torch:
            torch.set_num_threads(threads or os.cpu_count() or 1)


def flatten(figures, prefix: str = "") -> list[tuple[str, str, str]]:
    """Rows for a section without a rows() of its own: one per figure, keys joined with '.'."""
    if isinstance(figures, dict):
        out = []
        for key, value in figures.items():
            out += flatten(value, f"{prefix}.{key}" if prefix else str(key))
        return out
    if isinstance(figures, float):
        shown = f"{figures:.4g}"
    elif isinstance(figures, (list, tuple)) and len(figures) > 6:
        shown = f"[{len(figures)} values]"
    else:
        shown = str(figures)
    return [(prefix, shown[:70], "")]


def section_rows(name: str, result: dict) -> list[tuple[str, str, str]]:
    if "error" in result:
        return [(name, "not measured", result["error"])]
    rows = getattr(result["module"], "rows", None)
    try:
        return rows(result["figures"]) if rows else flatten(result["figures"])
    except Exception as error:
        return flatten(result["figures"]) + [("rows()", "failed", f"{type(error).__name__}: {error}")]


def print_table(table: list[tuple[str, str, str, str]]) -> None:
    widths = [min(max(len(r[i]) for r in table), cap) for i, cap in enumerate((10, 62, 72, 60))]
    header = ("section", "what", "figure", "note")
    for row in [header, tuple("-" * w for w in widths), *table]:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip())


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="shorter measurements: a smoke run, noisier figures")
    parser.add_argument("--skip-training", action="store_true", help="leave out the training benchmark (minutes)")
    parser.add_argument("--skip-serving", action="store_true", help="leave out the launched-app benchmarks (serving, soak)")
    parser.add_argument("--only", nargs="+", choices=SECTIONS, help="run just these sections")
    parser.add_argument("--json", type=Path, default=RESULTS, help=f"where to write the figures (default {RESULTS.name})")
    args = parser.parse_args(argv)

    chosen = [s for s in (args.only or SECTIONS)
              if not (args.skip_training and s == "train") and not (args.skip_serving and s in ("serving", "soak"))]
    info = machine()
    results, table = {}, []
    for name in chosen:
        print(f"[benchmarks] {name} ...", file=sys.stderr, flush=True)
        result = run_section(name, args.quick)
        table += [(name, *row) for row in section_rows(name, result)]
        results[name] = {k: v for k, v in result.items() if k != "module"}
    gpu = info["gpu"]
    table.append(("machine", "GPU for training", gpu or "none available", "CUDA visible to torch" if gpu else "figures are CPU-only"))
    table.append(("machine", "CPUs / load average at the end", f"{info['cpus']} / {os.getloadavg()[0]:.2f}", "quick run: noisy" if args.quick else ""))
    skipped = [s for s in SECTIONS if s not in chosen]
    if skipped:
        table.append(("skipped", ", ".join(skipped), "", ""))
    print_table(table)
    document = {"date": datetime.datetime.now().isoformat(timespec="seconds"), "quick": args.quick,
                "command": "python -m benchmarks " + " ".join(argv if argv is not None else sys.argv[1:]),
                "machine": info, "skipped": skipped, "sections": results}
    args.json.write_text(json.dumps(document, indent=1, default=str) + "\n")
    dated = results_file.write("benchmarks", document["command"], [results_file.table(["section", "what", "figure", "note"], table)],
                               title="python -m benchmarks" + (" (quick: noisy)" if args.quick else ""))
    print(f"\nwrote {args.json} and {dated}")


if __name__ == "__main__":
    main()
