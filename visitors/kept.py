"""Which of the page's gr.State values are a visitor's work, and the two hooks in Gradio's table of
sessions that keep them in the vault (visitors/vault.py) rather than only in that table.

Gradio keeps each session's gr.State values in a table of the most recently active sessions
(app.py sets 200); a session pushed out by newer ones comes back empty, silently. Here, once a
session is bound to its page's key (tabs/keep.py binds it at page load), every write of a kept
State by that session is also written to the vault, and a session that comes back empty is filled
from the vault before its event reads anything. The handlers see plain gr.State values as before.

A session is known by Gradio's session hash, which the page makes and sends with every request:
the same trust as Gradio's own State. What this module holds in memory is only the map of sessions
to keys, bounded: sessions with work kept (`WORKING` at most) apart from sessions that only looked
(`IDLE` at most), so pages that only look never push out one that keeps something, and any entry
unseen for `SESSION_AGE` seconds is dropped. A session dropped from the map loses nothing kept:
the page's next load binds it again.
"""
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from gradio import state_holder

from visitors import vault as vaults

log = logging.getLogger(__name__)

IDLE, WORKING = 10_000, 30_000  # sessions remembered, about 0.4 kB each: 16 MiB at most
SESSION_AGE = 24 * 3600.0


@dataclass
class Kept:
    name: str
    encode: Callable  # the State's value -> what the vault keeps (None: nothing)
    decode: Callable  # what the vault kept -> the State's value


class Registry:
    def __init__(self):
        self.by_block: dict[int, Kept] = {}
        self.vault: vaults.Vault | None = None
        self._idle: OrderedDict[str, list] = OrderedDict()  # session -> [key, seen, just loaded]
        self._working: OrderedDict[str, list] = OrderedDict()
        self._lock = threading.Lock()

    def keep(self, state, name: str, encode: Callable, decode: Callable) -> None:
        self.by_block[state._id] = Kept(name, encode, decode)

    def bind(self, session: str, key: str, loaded: dict, working: bool) -> None:
        """From now on `session`'s kept States are `key`'s; `loaded` (name -> value) is what the page
        is about to be given from the vault, so writing it straight back is skipped."""
        with self._lock:
            self._idle.pop(session, None)
            self._working.pop(session, None)
            self._put(session, [key, time.monotonic(), dict(loaded) or None], working)

    def _put(self, session: str, entry: list, working: bool) -> None:
        table, most = (self._working, WORKING) if working else (self._idle, IDLE)
        table[session] = entry
        table.move_to_end(session)
        now = time.monotonic()
        while table and (len(table) > most or now - next(iter(table.values()))[1] > SESSION_AGE):
            table.popitem(last=False)

    def _entry(self, session: str, touch: bool = True) -> tuple[list | None, bool]:
        for table, working in ((self._working, True), (self._idle, False)):
            entry = table.get(session)
            if entry is not None:
                if time.monotonic() - entry[1] > SESSION_AGE:
                    del table[session]
                    return None, False
                if touch:
                    entry[1] = time.monotonic()
                    table.move_to_end(session)
                return entry, working
        return None, False

    def key_of(self, session: str | None) -> str | None:
        with self._lock:
            entry, _ = self._entry(session) if session else (None, False)
            return entry[0] if entry else None

    def sessions(self) -> tuple[int, int]:
        return len(self._idle), len(self._working)

    def seen(self, session: str) -> None:
        with self._lock:
            self._entry(session)

    def written(self, session: str, block_id: int, value) -> None:
        """A kept State was set: write it to the vault under the session's key. Never raises: a
        write refused or failed leaves the value in the session, as before."""
        kept = self.by_block[block_id]
        with self._lock:
            entry, working = self._entry(session)
            if entry is None or self.vault is None:
                return
            if entry[2] and kept.name in entry[2] and entry[2].pop(kept.name) is value:
                return
            key = entry[0]
        try:
            self.vault.save(key, kept.name, kept.encode(value))
        except vaults.Full as full:
            log.warning("a visitor's %s not kept: the vault's %s bound", kept.name, full)
            return
        except Exception:
            log.exception("a visitor's %s not kept", kept.name)
            return
        if not working:
            with self._lock:
                entry = self._idle.pop(session, None)
                if entry is not None:
                    self._put(session, entry, True)

    def load(self, key: str) -> dict:
        """name -> (the State's value, what is gone) for each kept thing the vault holds under key."""
        kept = self.vault.load(key) if self.vault is not None else {}
        out = {}
        for block in self.by_block.values():
            if block.name in kept:
                try:
                    out[block.name] = block.decode(kept[block.name])
                except Exception:
                    log.exception("a visitor's kept %s unreadable", block.name)
        return out

    def refill(self, session: str, state) -> None:
        """A session Gradio made afresh for a hash it had pushed out: its kept values from the vault."""
        key = self.key_of(session)
        if key is None:
            return
        loaded = self.load(key)
        for block_id, block in self.by_block.items():
            if block.name in loaded:
                state.state_data[block_id] = loaded[block.name][0]


KEPT = Registry()
_original_get = state_holder.StateHolder.__getitem__
_original_set = state_holder.SessionState.__setitem__


def _get(holder, session_id: str):
    fresh = session_id not in holder.session_data
    session = _original_get(holder, session_id)
    if fresh:
        session.kept_session = session_id
        if KEPT.by_block:
            try:
                KEPT.refill(session_id, session)
            except Exception:
                log.exception("a session's kept values not refilled")
    elif KEPT.by_block:
        KEPT.seen(session_id)
    return session


def _set(session, key: int, value) -> None:
    _original_set(session, key, value)
    who = getattr(session, "kept_session", None)
    if who is not None and key in KEPT.by_block:
        KEPT.written(who, key, value)


def install() -> None:
    """Hook Gradio 6.31's table of sessions (once): a new session refilled, a kept write saved."""
    state_holder.StateHolder.__getitem__ = _get
    state_holder.SessionState.__setitem__ = _set
