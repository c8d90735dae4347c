"""Folders bounded by the age of their last use and by bytes, never by how many there are: the
training runs' folders (`prune_folders`, within `runs_bounds`), and the counting the visitors'
store (visitors/vault.py) does the same way."""
import os
import re
import shutil
import time
from pathlib import Path

DAY = 86400.0


def folder_bytes(folder: Path, skip: tuple[Path, ...] = ()) -> int:
    """The bytes of the files under `folder`, leaving out the sub-folders in `skip`."""
    total = 0
    for root, dirs, files in os.walk(folder):
        if skip:
            dirs[:] = [d for d in dirs if Path(root, d) not in skip]
        for name in files:
            try:
                total += os.lstat(os.path.join(root, name)).st_size
            except OSError:
                pass
    return total


def touch(path: Path) -> None:
    try:
        os.utime(path)
    except OSError:
        pass


def prune_folders(parent: Path, max_bytes: int, max_age: float, keep: tuple[Path, ...] = (),
                  only: re.Pattern | None = None) -> list[Path]:
    """Delete `parent`'s sub-folders (those whose name `only` matches) unused for over `max_age`
    seconds (their modification time), then the least recently used until the rest hold at most
    `max_bytes`. Folders in `keep` stay. Returns the deleted ones."""
    if not parent.is_dir():
        return []
    now, kept_paths = time.time(), {Path(p).resolve() for p in keep}
    folders = []
    for entry in os.scandir(parent):
        if not entry.is_dir(follow_symlinks=False) or (only is not None and not only.fullmatch(entry.name)):
            continue
        path = Path(entry.path)
        if path.resolve() in kept_paths:
            continue
        folders.append((entry.stat(follow_symlinks=False).st_mtime, path))
    folders.sort()
    deleted, sizes = [], {}
    for used, path in folders:
        if now - used > max_age:
            shutil.rmtree(path, ignore_errors=True)
            deleted.append(path)
        else:
            sizes[path] = folder_bytes(path)
    total = sum(sizes.values()) + sum(folder_bytes(Path(p)) for p in kept_paths if Path(p).is_dir())
    for _, path in folders:
        if total <= max_bytes:
            break
        if path in sizes:
            shutil.rmtree(path, ignore_errors=True)
            deleted.append(path)
            total -= sizes[path]
    return deleted


def runs_bounds() -> tuple[int, float]:
    """The training runs' folders: at most DIGIT_LAB_RUNS_MAX_MB in all (default 2048) and none
    unused for over DIGIT_LAB_RUNS_MAX_DAYS (default 30)."""
    max_mb = float(os.environ.get("DIGIT_LAB_RUNS_MAX_MB") or 2048)
    days = float(os.environ.get("DIGIT_LAB_RUNS_MAX_DAYS") or 30)
    return int(max_mb * 2**20), days * DAY
