"""What a visitor made, kept on the server's disk under a key only that visitor's browser holds,
bounded by bytes and by age, never by how many others came. Torch-free and Gradio-free.

A key is 32 random bytes (43 URL-safe characters) made here and kept in the visitor's browser. On
disk an entry is a folder named after the key's SHA-256, never the key itself, so a listing of the
folder (a log, a backup) hands nobody a key. Each kept thing is one file in it: plain JSON, or
arrays in an .npz read back without pickle. Reading or writing an entry counts as using it.

The bounds: an entry unused for `max_age` seconds is deleted; the entries together hold at most
`max_bytes`, and one entry at most `entry_bytes`. A write that would pass either is refused (the
caller keeps it for the visit only) rather than pushing out someone else's work; expired entries
are swept first. An entry swept for its age leaves a tombstone (an empty file named like it, kept
as long again, or until work is kept under the key anew), so a visitor coming back late is told
their work expired, while a key that never kept anything says nothing.

Keys cost nothing to make, so one address could mint many and fill `max_bytes`, leaving no room
for anyone else: the entries of one address hold at most `address_bytes` (each counted as at least
BLOCK, so tiny entries cannot multiply without bound). The page says whose an entry is when it
loads (`claim`, with the address tabs/keep.py reads from the request); a write that would take its
address past that share deletes that address's own least recently used entries first (their
tombstone says so), never another address's, and a write whose address is unknown is refused. An
entry records its address only as a hash (the `owner` file in it), and moves to the address that
last loaded it (a laptop carried from school to home).

The store has an id of its own, made with its folder, so a browser holding a key from an earlier
store (the server's disk was wiped, as a Space's is when it restarts) can be told so.

"""
import hashlib
import io
import json
import logging
import os
import re
import secrets
import shutil
import tempfile
import threading
import time
from collections import OrderedDict
from pathlib import Path

import numpy as np

from visitors.folders import DAY, folder_bytes, touch

log = logging.getLogger(__name__)

KEY = re.compile(r"[A-Za-z0-9_-]{43}")
NAME = re.compile(r"[a-z][a-z0-9_]{0,31}")
STORE_ID = "store.id"
OWNER = "owner"  # the file in an entry naming its address's hash
SHARE = "share\n"  # a tombstone's words for an entry its own address's newer work pushed out
SWEEP_EVERY = 600.0  # seconds between sweeps of expired entries
BLOCK = 4096  # the least an entry counts against its address's share: a folder and a file take a block each
CLAIMS = 20_000  # keys loaded but not yet written to, whose address is remembered (at most; oldest forgotten)


def new_key() -> str:
    return secrets.token_urlsafe(32)


def is_key(value) -> bool:
    return isinstance(value, str) and KEY.fullmatch(value) is not None


class Full(Exception):
    """A write the bounds refuse; nothing was written."""


class Vault:
    def __init__(self, folder: Path, max_bytes: int, max_age: float, entry_bytes: int, address_bytes: int | None = None):
        self.folder, self.max_bytes, self.max_age, self.entry_bytes = Path(folder), max_bytes, max_age, entry_bytes
        self.address_bytes = address_bytes  # None: no share per address (only the bounds above)
        self.gone = self.folder / "gone"
        self.gone.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self.id = self._store_id()
        self._owners: dict[str, str] = {}  # entry -> its address's hash
        self._held: dict[str, OrderedDict[str, int]] = {}  # address's hash -> its entries' bytes, least recently used first
        self._claims: OrderedDict[str, str] = OrderedDict()  # entry not yet written -> its address's hash
        self._swept = 0.0
        self.sweep()

    def _store_id(self) -> str:
        path = self.folder / STORE_ID
        try:
            said = path.read_text().strip()
            if re.fullmatch(r"[0-9a-f]{16}", said):
                return said
        except OSError:
            pass
        made = secrets.token_hex(8)
        path.write_text(made + "\n")
        return made

    def _entries(self):
        return [p for p in self.folder.iterdir() if p.is_dir() and re.fullmatch(r"[0-9a-f]{64}", p.name)]

    def _entry(self, key: str) -> Path:
        if not is_key(key):
            raise ValueError("not a key")
        return self.folder / hashlib.sha256(key.encode()).hexdigest()

    def has(self, key: str) -> bool:
        return is_key(key) and self._entry(key).is_dir()

    def expired(self, key: str) -> bool:
        """Whether work was kept under `key` and swept for its age (within the last max_age)."""
        return is_key(key) and (self.gone / self._entry(key).name).is_file()

    def gone_why(self, key: str) -> str | None:
        """Why the work kept under `key` was deleted (within the last max_age): "age", "share" (its
        address's newer work pushed it out), or None when nothing was."""
        if not self.expired(key):
            return None
        try:
            return "share" if (self.gone / self._entry(key).name).read_text() == SHARE else "age"
        except OSError:
            return "age"

    # -- whose an entry is ---------------------------------------------------------------------
    def owner_of(self, address: str) -> str:
        """An address as the vault writes it down: a hash, never the address itself."""
        return hashlib.sha256(f"{self.id}|{address}".encode()).hexdigest()[:32]

    def held_by(self, address: str) -> int:
        """The bytes `address`'s entries count against its share."""
        with self._lock:
            return sum(max(size, BLOCK) for size in self._held.get(self.owner_of(address), {}).values())

    def claim(self, key: str, address: str) -> None:
        """`key`'s page was loaded from `address`: its work counts against that address's share
        from now on (its entry's, when it has one, moves there)."""
        if is_key(key):
            with self._lock:
                self._claim(self._entry(key), self.owner_of(address))

    def _claim(self, entry: Path, owner: str) -> None:
        if self._owners.get(entry.name) == owner:
            return
        if entry.is_dir():
            before = folder_bytes(entry)
            (entry / OWNER).write_text(owner + "\n")
            size = folder_bytes(entry)
            self.bytes += size - before
            self._index(entry.name, owner, size)
        else:
            self._claims[entry.name] = owner
            self._claims.move_to_end(entry.name)
            while len(self._claims) > CLAIMS:
                self._claims.popitem(last=False)

    def _index(self, name: str, owner: str | None, size: int) -> None:
        """Count entry `name` (`size` bytes) as `owner`'s, its most recently used (None: forget it)."""
        was = self._owners.pop(name, None)
        if was is not None:
            self._held[was].pop(name, None)
            if not self._held[was]:
                del self._held[was]
        if owner is not None:
            self._owners[name] = owner
            self._held.setdefault(owner, OrderedDict())[name] = size

    def _push_out(self, owner: str | None, name: str, size: int) -> list[tuple[str, int]]:
        """The entries of `owner` (least recently used first, never `name`) that must go for `name`
        to hold `size` bytes within the share; Full("address") when even all of them would not do."""
        if self.address_bytes is None:
            return []
        if owner is None:
            raise Full("address")
        held = self._held.get(owner, {})
        total = sum(max(s, BLOCK) for n, s in held.items() if n != name) + max(size, BLOCK)
        going = []
        for other, bytes_ in held.items():
            if total <= self.address_bytes:
                break
            if other != name:
                going.append((other, bytes_))
                total -= max(bytes_, BLOCK)
        if total > self.address_bytes:
            raise Full("address")
        return going

    def load(self, key: str) -> dict:
        """Everything kept under `key` ({} when nothing is): name -> JSON value or dict of arrays.
        A file that cannot be read back as written is left out (and said in the log)."""
        if not self.has(key):
            return {}
        entry = self._entry(key)
        touch(entry)
        with self._lock:
            owner = self._owners.get(entry.name)
            if owner is not None:
                self._held[owner].move_to_end(entry.name)
        kept = {}
        for path in entry.iterdir():
            name, suffix = path.stem, path.suffix
            if not NAME.fullmatch(name) or suffix not in (".json", ".npz"):
                continue
            try:
                if suffix == ".json":
                    kept[name] = json.loads(path.read_text())
                else:
                    with np.load(path, allow_pickle=False) as arrays:
                        kept[name] = {k: arrays[k] for k in arrays.files}
            except (OSError, ValueError) as error:
                log.warning("kept %s unreadable: %s", path.name, error)
        return kept

    def save(self, key: str, name: str, value, address: str | None = None) -> None:
        """Keep `value` (a dict of numpy arrays, else anything JSON can write) as `name` under `key`;
        None deletes it. Raises Full when the bounds refuse it (nothing is written then). The entry
        counts against the share of `address`, else of the address that last claimed `key`; where
        that share would be passed, that address's least recently used other entries go first."""
        if not NAME.fullmatch(name):
            raise ValueError(f"not a name: {name!r}")
        entry = self._entry(key)
        is_arrays = isinstance(value, dict) and value and all(isinstance(v, np.ndarray) for v in value.values())
        path = entry / f"{name}{'.npz' if is_arrays else '.json'}"
        other = entry / f"{name}{'.json' if is_arrays else '.npz'}"
        data = None
        if value is not None:
            if is_arrays:
                buffer = io.BytesIO()
                np.savez(buffer, **value)
                data = buffer.getvalue()
            else:
                data = (json.dumps(value, separators=(",", ":")) + "\n").encode()
        with self._lock:
            self._sweep_if_due()
            if address is not None:
                self._claim(entry, self.owner_of(address))
            owner = self._owners.get(entry.name) or self._claims.get(entry.name)
            old = sum(p.stat().st_size for p in (path, other) if p.is_file())
            entry_now = folder_bytes(entry) if entry.is_dir() else 0
            adds = len(owner) + 1 if owner is not None and not (entry / OWNER).is_file() else 0  # its owner file
            going = []
            if data is not None:
                if entry_now - old + len(data) + adds > self.entry_bytes:
                    raise Full("entry")
                going = self._push_out(owner, entry.name, entry_now - old + len(data) + adds)
                if self.bytes - old + len(data) + adds - sum(b for _, b in going) > self.max_bytes:
                    self.sweep(force=True)
                    owner = self._owners.get(entry.name) or self._claims.get(entry.name)
                    going = self._push_out(owner, entry.name, entry_now - old + len(data) + adds)
                    if self.bytes - old + len(data) + adds - sum(b for _, b in going) > self.max_bytes:
                        raise Full("store")
            elif not entry.is_dir():
                return
            for pushed, _ in going:  # this address's own oldest work, for its newest
                self.bytes -= folder_bytes(self.folder / pushed)
                shutil.rmtree(self.folder / pushed, ignore_errors=True)
                (self.gone / pushed).write_text(SHARE)
                self._index(pushed, None, 0)
            if not entry.is_dir():  # kept anew: what was gone has been said (at the page's load)
                (self.gone / entry.name).unlink(missing_ok=True)
            entry.mkdir(exist_ok=True)
            if adds:
                (entry / OWNER).write_text(owner + "\n")
                self._claims.pop(entry.name, None)
            for stale in (path, other):
                if data is None or stale == other:
                    stale.unlink(missing_ok=True)
            if data is not None:
                handle, partial = tempfile.mkstemp(dir=entry, prefix=f".{name}.")
                with os.fdopen(handle, "wb") as file:
                    file.write(data)
                os.replace(partial, path)
            touch(entry)
            self.bytes += (len(data) if data is not None else 0) - old + adds
            if owner is not None:
                self._index(entry.name, owner, entry_now - old + (len(data) if data is not None else 0) + adds)

    def forget(self, key: str) -> None:
        if self.has(key):
            entry = self._entry(key)
            with self._lock:
                self.bytes -= folder_bytes(entry)
                shutil.rmtree(entry, ignore_errors=True)
                self._index(entry.name, None, 0)

    def _sweep_if_due(self) -> None:
        if time.monotonic() - self._swept > SWEEP_EVERY:
            self.sweep(force=True)

    def sweep(self, force: bool = False) -> None:
        """Delete the entries unused for longer than the age allows, and any half-written file."""
        if not force and self._swept:
            return
        self._swept = time.monotonic()
        now = time.time()
        for entry in self._entries():
            try:
                if now - entry.stat().st_mtime > self.max_age:
                    shutil.rmtree(entry, ignore_errors=True)
                    (self.gone / entry.name).write_text("")
                    continue
                for partial in entry.glob(".*"):
                    if now - partial.stat().st_mtime > 60:
                        partial.unlink(missing_ok=True)
            except OSError:
                continue
        for tombstone in self.gone.iterdir():
            try:
                if now - tombstone.stat().st_mtime > self.max_age:
                    tombstone.unlink()
            except OSError:
                pass
        self._recount()

    def _recount(self) -> None:
        """The bytes from the disk: in all, and each address's entries, least recently used first."""
        entries = []
        for entry in self._entries():
            try:
                owner = (entry / OWNER).read_text().strip() if (entry / OWNER).is_file() else None
                entries.append((entry.stat().st_mtime, entry.name, folder_bytes(entry), owner))
            except OSError:
                continue
        self._owners.clear()
        self._held.clear()
        for _, name, size, owner in sorted(entries):
            if owner is not None and re.fullmatch(r"[0-9a-f]{32}", owner):
                self._index(name, owner, size)
        self.bytes = sum(size for _, _, size, _ in entries)

    def room(self) -> bool:
        """Whether a new visitor's work would fit now (an entry's worth of bytes is free)."""
        return self.bytes + self.entry_bytes <= self.max_bytes


def from_environment(runs_dir: Path) -> Vault:
    """The app's vault: DIGIT_LAB_VISITORS_DIR (default `<runs folder>/visitors`), at most
    DIGIT_LAB_VISITORS_MAX_MB in all (default 1024) and DIGIT_LAB_VISITORS_ADDRESS_MB for one
    address's visitors (default 64), work unused for DIGIT_LAB_VISITORS_MAX_DAYS (default 30) deleted."""
    folder = Path(os.environ.get("DIGIT_LAB_VISITORS_DIR") or Path(runs_dir) / "visitors")
    max_mb = float(os.environ.get("DIGIT_LAB_VISITORS_MAX_MB") or 1024)
    address_mb = float(os.environ.get("DIGIT_LAB_VISITORS_ADDRESS_MB") or 64)
    days = float(os.environ.get("DIGIT_LAB_VISITORS_MAX_DAYS") or 30)
    return Vault(folder, int(max_mb * 2**20), days * DAY, ENTRY_BYTES, int(address_mb * 2**20))


# One visitor's most: 500 corrections and 1,000 of their own digits as float32 28x28 (4.7 MB), the
# runs' records (a few kB each) and the choice of models.
ENTRY_BYTES = 6 * 2**20
