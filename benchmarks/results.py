"""Dated results files: benchmarks/results/<date>-<name>.md, a header that says when, on which
commit, on what machine and with which libraries a figure was measured, and by which command;
then the tables. The README's figures table links to the newest file of each measurement.

    from benchmarks import results
    results.write("train", "python -m benchmarks.train --seeds 0 1 2", [results.table(header, rows)])

Torch is not imported here: its version is read from the installed package's metadata."""
import datetime
import importlib.metadata
import os
import platform
import re
import subprocess
import sys
from pathlib import Path

FOLDER = Path(__file__).resolve().parent / "results"
ROOT = FOLDER.parent.parent
PACKAGES = ("torch", "onnxruntime-gpu", "onnxruntime", "gradio", "gradio_client", "numpy")
FLAGS = ("avx2", "avx512f", "avx512_bf16", "amx_bf16", "amx_tile")  # what decides the CPU's precision paths


def cpu() -> dict:
    """The CPU's model, cores and the flags that decide bf16 and vector paths (Linux's /proc/cpuinfo)."""
    model, flags = platform.processor() or platform.machine(), set()
    try:
        text = Path("/proc/cpuinfo").read_text()
        found = re.search(r"^model name\s*:\s*(.+)$", text, re.MULTILINE)
        model = found.group(1).strip() if found else model
        family = re.search(r"^cpu family\s*:\s*(\d+)$", text, re.MULTILINE)
        number = re.search(r"^model\s*:\s*(\d+)$", text, re.MULTILINE)
        if family and number:
            model += f" (family {family.group(1)}, model {number.group(1)})"
        line = re.search(r"^flags\s*:\s*(.+)$", text, re.MULTILINE)
        flags = set(line.group(1).split()) if line else set()
    except OSError:
        pass
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return {"model": model, "cores": cores, "flags": [f for f in FLAGS if f in flags]}


def gpu() -> str | None:
    """The GPU's name from nvidia-smi where there is one (no torch import, no CUDA start-up)."""
    try:
        out = subprocess.run(["nvidia-smi", "--query-gpu=name,memory.total", "--format=csv,noheader"],
                             capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired):
        return None
    names = [line.strip() for line in out.stdout.splitlines() if line.strip()]
    return "; ".join(names) if out.returncode == 0 and names else None


def versions() -> dict:
    found = {"python": platform.python_version()}
    for package in PACKAGES:
        try:
            found[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            pass
    return found


def commit() -> str:
    """HEAD's hash, with '+ uncommitted changes' where the tree differs from it."""
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True, timeout=20).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT,
                               capture_output=True, text=True, timeout=20).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        return "unknown (no git)"
    return (head or "unknown") + (" + uncommitted changes" if dirty else "")


def header(title: str, command: str, when: datetime.datetime | None = None, notes: str = "") -> str:
    """The file's opening: title, then date, commit, machine, libraries and the exact command."""
    when = when or datetime.datetime.now()
    processor, card = cpu(), gpu()
    flags = ", ".join(f.upper().replace("_", "-") for f in processor["flags"]) or "none of " + ", ".join(FLAGS)
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg()) if hasattr(os, "getloadavg") else "unknown"
    lines = [
        f"# {title}",
        "",
        f"- **Date:** {when:%Y-%m-%d %H:%M}",
        f"- **Commit:** {commit()}",
        f"- **Machine:** {processor['cores']} cores of {processor['model']}; flags: {flags}; "
        f"GPU: {card or 'none'}; load average at the end: {load}",
        "- **Libraries:** " + ", ".join(f"{name} {version}" for name, version in versions().items()),
        f"- **Command:** `{command}`",
    ]
    if notes:
        lines += ["", notes]
    return "\n".join(lines) + "\n"


def table(columns: list[str], rows: list[list]) -> str:
    """A Markdown table; cells are written with str(), floats to 4 significant figures."""
    def cell(value) -> str:
        text = f"{value:.4g}" if isinstance(value, float) else str(value)
        return text.replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def write(name: str, command: str | None, sections: list[str], title: str | None = None,
          notes: str = "", folder: Path = FOLDER) -> Path:
    """Write benchmarks/results/<today>-<name>.md (a second one the same day gets -2, -3, ...):
    the header, then each section (Markdown: tables and their words). Returns the path."""
    when = datetime.datetime.now()
    command = command or " ".join(["python", *sys.argv])
    folder.mkdir(parents=True, exist_ok=True)
    path, n = folder / f"{when:%Y-%m-%d}-{name}.md", 1
    while path.exists():
        n += 1
        path = folder / f"{when:%Y-%m-%d}-{name}-{n}.md"
    body = [header(title or name, command, when, notes), *sections]
    path.write_text("\n".join(part.rstrip() + "\n" for part in body))
    return path


def command_line(module: str, argv: list[str] | None = None) -> str:
    """`python -m <module> <args>` as the user typed it (argv None: this process's own)."""
    args = sys.argv[1:] if argv is None else argv
    return " ".join(["python -m", module, *args])
