"""Would Hugging Face build this repository as a Space? The platform's facts (docs/deploy.md): ZeroGPU
builds on Python 3.12 and installs everything in one command,

    pip install -r requirements.txt "torch<=2.13.0" gradio[oauth,mcp]==<sdk_version>
        "uvicorn>=0.14.0" "websockets>=10.4" spaces==0.51.3

so torch must admit 2.13, gradio must equal the README's sdk_version and pydantic must fit the mcp
extra; every binary file goes through LFS/Xet and no other file passes 10 MB. The static checks
are instant; the resolution asks the package index (pip --dry-run, for cp312 on manylinux)."""
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.version import Version

ROOT = Path(__file__).resolve().parent.parent
# What ZeroGPU appends to `pip install -r requirements.txt` (its build log), sdk_version filled in.
PLATFORM_EXTRAS = ('"torch<=2.13.0"', "gradio[oauth,mcp]=={sdk}", '"uvicorn>=0.14.0"', '"websockets>=10.4"',
                   "spaces==0.51.3")
ZEROGPU_TORCH, HERE_TORCH = Version("2.13.0"), Version("2.14.1")
ZEROGPU_TORCHVISION, HERE_TORCHVISION = Version("0.28.0"), Version("0.29.1")  # each torch's own torchvision
MCP_PYDANTIC_MAX = Version("2.12.5")
MAX_PLAIN_BYTES = 10 * 1000 * 1000  # Hugging Face refuses a file past 10 MB that is not in LFS/Xet


def front_matter() -> dict[str, str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    block = re.match(r"---\n(.*?)\n---\n", text, re.S)
    assert block, "README.md must open with the Space's YAML front matter"
    return {k.strip(): v.strip().strip('"') for k, v in (line.split(":", 1) for line in block.group(1).splitlines())}


def requirements() -> dict[str, Requirement]:
    found = {}
    for line in (ROOT / "requirements.txt").read_text().splitlines():
        line = line.split(" #")[0].strip()
        if line and not line.startswith("#"):
            requirement = Requirement(line)
            if requirement.marker is None or requirement.marker.evaluate():
                found[requirement.name.lower()] = requirement
    return found


def test_front_matter_asks_for_what_zerogpu_builds():
    meta = front_matter()
    assert meta["sdk"] == "gradio"
    assert meta["python_version"] == "3.12", "ZeroGPU builds on 3.12 or 3.10, never 3.11"
    assert (ROOT / meta["app_file"]).is_file()
    gradio = requirements()["gradio"]
    assert str(gradio.specifier) == f"=={meta['sdk_version']}", "the Space installs gradio==sdk_version beside it"


def test_torch_ranges_admit_zerogpu_and_this_machine():
    found = requirements()
    torch, torchvision = found["torch"].specifier, found["torchvision"].specifier
    assert ZEROGPU_TORCH in torch and HERE_TORCH in torch, f"torch{torch}"
    assert ZEROGPU_TORCHVISION in torchvision and HERE_TORCHVISION in torchvision, f"torchvision{torchvision}"
    pydantic = found["pydantic"].specifier
    assert MCP_PYDANTIC_MAX in pydantic and Version("2.13.0") not in pydantic, f"pydantic{pydantic}"


def tracked_files() -> list[Path]:
    listed = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout
    return [ROOT / name for name in listed.decode().split("\0") if name and (ROOT / name).is_file()]


def lfs_tracked(paths: list[Path]) -> set[Path]:
    """The paths .gitattributes routes through LFS (filter=lfs), as git itself reads the rules."""
    names = "\0".join(str(p.relative_to(ROOT)) for p in paths) + "\0"
    out = subprocess.run(["git", "check-attr", "-z", "--stdin", "filter"], cwd=ROOT, input=names.encode(),
                         capture_output=True, check=True).stdout.decode().split("\0")
    return {ROOT / out[i] for i in range(0, len(out) - 2, 3) if out[i + 2] == "lfs"}


def is_binary(path: Path) -> bool:
    head = path.read_bytes()[:8192]
    if b"\0" in head:
        return True
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as error:  # a multi-byte character cut at the 8 KiB mark is still text
        return error.start < len(head) - 4
    return False


def test_every_binary_goes_through_lfs_and_nothing_else_is_large():
    rules = (ROOT / ".gitattributes").read_text()
    for pattern in ("*.onnx", "*.png"):
        assert re.search(rf"^{re.escape(pattern)}\s+filter=lfs diff=lfs merge=lfs -text$", rules, re.M), pattern
    files = tracked_files()
    through_lfs = lfs_tracked(files)
    binaries = [p for p in files if is_binary(p)]
    assert binaries, "the shipped models are binaries; finding none means this test reads nothing"
    assert not [str(p.relative_to(ROOT)) for p in binaries if p not in through_lfs], "binaries without an LFS rule"
    large = [f"{p.relative_to(ROOT)} ({p.stat().st_size / 1e6:.1f} MB)" for p in files
             if p.stat().st_size > MAX_PLAIN_BYTES and p not in through_lfs]
    assert not large, f"files past 10 MB outside LFS: {large}"


def _index_reachable() -> bool:
    try:
        answer = subprocess.run([sys.executable, "-m", "pip", "index", "versions", "spaces"], capture_output=True,
                                text=True, timeout=60)
    except subprocess.TimeoutExpired:
        return False
    return "0.51.3" in answer.stdout


@pytest.mark.slow
def test_platform_pip_command_resolves_for_cp312(tmp_path):
    """The platform's one pip command, resolution only, for CPython 3.12 on manylinux x86_64. Torch
    and torchvision are left to the specifier check above: an index may lack torch 2.13's wheels
    (and fetching a 900 MB wheel for its metadata is no test). pip's --platform takes no ranges, so
    every manylinux tag the Space's glibc (Debian bookworm, 2.36) accepts is named."""
    if not _index_reachable():
        pytest.skip("the package index cannot be reached (pip index versions spaces failed)")
    sdk = front_matter()["sdk_version"]
    kept = [line for line in (ROOT / "requirements.txt").read_text().splitlines()
            if not re.match(r"\s*torch(vision)?\b", line)]
    (tmp_path / "requirements.txt").write_text("\n".join(kept) + "\n")
    extras = [e.strip('"').format(sdk=sdk) for e in PLATFORM_EXTRAS if "torch" not in e]
    platforms = [f"manylinux_2_{minor}_x86_64" for minor in range(36, 16, -1)] + ["manylinux2014_x86_64"]
    command = [sys.executable, "-m", "pip", "install", "--dry-run", "--ignore-installed", "--quiet",
               "--target", str(tmp_path / "target"), "--python-version", "3.12", "--only-binary=:all:",
               *[arg for p in platforms for arg in ("--platform", p)], "--report", str(tmp_path / "report.json"),
               "-r", str(tmp_path / "requirements.txt"), *extras]
    answer = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert answer.returncode == 0, answer.stderr[-3000:]
    import json

    chosen = {item["metadata"]["name"].lower(): item["metadata"]["version"]
              for item in json.loads((tmp_path / "report.json").read_text())["install"]}
    assert chosen["gradio"] == sdk and chosen["spaces"] == "0.51.3"
    assert Version(chosen["pydantic"]) <= MCP_PYDANTIC_MAX
    shutil.rmtree(tmp_path / "target", ignore_errors=True)
