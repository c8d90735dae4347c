"""The one place that says how much of the server one caller may take: every expensive endpoint
asks here before its work. Torch-free, and Gradio is imported only to raise its error.

Who the caller is: the address the platform reports, never something the client chooses (a
session hash is made by the client, so a script can have as many as it likes). Behind a proxy
that appends the caller's address to X-Forwarded-For (a Hugging Face Space: SPACE_ID is set),
that list's entry the last proxy wrote; elsewhere the socket's peer. A client may send its own
X-Forwarded-For, but a proxy only appends to it, so counting from the right end cannot be forged.
An IPv6 caller owns a whole /64 as a rule, so the /64 is one address here.

What it may take:
- `RATES`: the expensive calls, a token bucket per address and endpoint. A refusal says in how
  many seconds the next call will be taken.
- `PLACES`: training places, running and waiting together, counted per address, so one script
  cannot fill the runs' queue (runs/jobs.py still orders the runs and keeps one per session).

Both forget: a bucket of an address unseen for long is full again (the same as a new one), and
the tables keep at most MAX_ADDRESSES, the longest unseen dropped first, so memory stays bounded
whoever calls. Settings come from the environment, read when first used (names below).
"""
import ipaddress
import math
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable

import locales

MAX_ADDRESSES = 10_000  # callers remembered at once, per table
UNKNOWN = "unknown"  # a call with no peer at all (Gradio's own calls): one shared address
PROXY_HOPS_ENV = "DIGIT_LAB_PROXY_HOPS"  # proxies in front that each append to X-Forwarded-For
PLACES_ENV = "DIGIT_LAB_PLACES_PER_ADDRESS"
RATE_ENV = "DIGIT_LAB_RATE_{name}"  # e.g. DIGIT_LAB_RATE_BACKPROP="60/60": 60 calls a minute
# name -> (calls, seconds): at most `calls` in a burst, refilled at calls/seconds a second. A
# visitor on the page never meets them: the page's own backprop view is not /backprop_step, and an
# upload is one a few seconds at most.
RATE_DEFAULTS = {"train": (6, 60), "backprop": (60, 60), "upload": (30, 60)}
PLACES_DEFAULT = 2  # one training, one waiting: a class of ten on ten addresses still fills the queue


def proxy_hops() -> int:
    """How many proxies append to X-Forwarded-For in front of the app: PROXY_HOPS_ENV if set,
    else one on a Hugging Face Space and none elsewhere (where the header is the client's own)."""
    told = os.environ.get(PROXY_HOPS_ENV, "").strip()
    if told.isdigit():
        return int(told)
    return 1 if os.environ.get("SPACE_ID") else 0


def normal(host) -> str:
    """An address as a key: IPv4 as is, an IPv4-mapped IPv6 as its IPv4, other IPv6 as its /64;
    anything unparseable (a test client's name) as its first 64 characters."""
    text = str(host or "").strip().strip("[]")
    if not text:
        return UNKNOWN
    try:
        parsed = ipaddress.ip_address(text.split("%", 1)[0])
    except ValueError:
        return text[:64]
    if parsed.version == 6:
        if parsed.ipv4_mapped:
            return str(parsed.ipv4_mapped)
        return str(ipaddress.ip_network(f"{parsed}/64", strict=False))
    return str(parsed)


def _forwarded(headers) -> list[str]:
    """Every X-Forwarded-For entry, in order, across repeated header lines."""
    if headers is None:
        return []
    try:
        lines = headers.getlist("x-forwarded-for") if hasattr(headers, "getlist") else [headers.get("x-forwarded-for")]
    except Exception:
        return []
    return [entry.strip() for line in lines if isinstance(line, str) for entry in line.split(",") if entry.strip()]


def address(request, hops: int | None = None) -> str:
    """The caller's address as the platform reports it (see the module's docstring)."""
    hops = proxy_hops() if hops is None else hops
    if hops > 0:
        entries = _forwarded(getattr(request, "headers", None))
        if len(entries) >= hops:
            return normal(entries[-hops])
    client = getattr(request, "client", None)
    return normal(getattr(client, "host", None) if client is not None else None)


class Limited(locales.Explained):
    """A call refused by a limit: its words, and `retry_after` seconds (None: when a run ends)."""

    def __init__(self, key: str, retry_after: float | None = None, **values):
        super().__init__(key, **values)
        self.retry_after = retry_after


def _wait_words(seconds: float | None) -> dict:
    return {"seconds": max(1, math.ceil(seconds))} if seconds is not None else {}


class RateLimit:
    """A token bucket per address: `calls` at once, then one every seconds/calls. Thread-safe."""

    def __init__(self, name: str, calls: int, seconds: float, max_addresses: int = MAX_ADDRESSES,
                 clock: Callable[[], float] = time.monotonic):
        self.name, self.calls, self.seconds = name, max(1, int(calls)), float(seconds)
        self.max_addresses, self.clock = max_addresses, clock
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()  # address -> (tokens, when)
        self._lock = threading.Lock()

    @property
    def refill(self) -> float:
        return self.calls / self.seconds  # tokens a second

    def take(self, address: str) -> float:
        """Take one call for `address`: 0.0 when allowed, else the seconds until it would be."""
        now = self.clock()
        with self._lock:
            tokens, when = self._buckets.pop(address, (float(self.calls), now))
            tokens = min(float(self.calls), tokens + (now - when) * self.refill)
            wait = 0.0 if tokens >= 1 else (1 - tokens) / self.refill
            self._buckets[address] = (tokens - 1 if wait == 0 else tokens, now)  # newest last
            while len(self._buckets) > self.max_addresses:
                self._buckets.popitem(last=False)  # the longest unseen: its bucket is the fullest
            return wait

    def peek(self, address: str, calls: int = 1) -> float:
        """As take() answers, taking nothing: 0.0 when `calls` calls would be taken now, else the
        seconds until they would (visitors/gate.py asks this before Gradio routes the request)."""
        now = self.clock()
        with self._lock:
            tokens, when = self._buckets.get(address, (float(self.calls), now))
        tokens = min(float(self.calls), tokens + (now - when) * self.refill)
        return 0.0 if tokens >= calls else (calls - tokens) / self.refill

    def taken_at(self, address: str) -> float | None:
        """When the address's bucket last changed (a take, allowed or refused), on this bucket's clock."""
        with self._lock:
            found = self._buckets.get(address)
        return None if found is None else found[1]

    def refusal(self, wait: float) -> Limited:
        """The words of a call refused `wait` seconds before the next would be taken."""
        return Limited("limits.rate", wait, endpoint=self.name, calls=self.calls, period=round(self.seconds),
                       **_wait_words(max(wait, 0.0)))

    def check(self, address: str) -> None:
        """take(), raising Limited in words when the address must wait."""
        wait = self.take(address)
        if wait > 0:
            raise self.refusal(wait)

    def __len__(self) -> int:
        return len(self._buckets)


class Seat:
    """One training place held by an address, until `release()` or until what it holds has ended."""

    def __init__(self, places: "Places", key: str):
        self._places, self.key = places, key
        self.alive: Callable[[], bool] = lambda: True
        self.seconds_left: Callable[[], float | None] = lambda: None
        self.released = False

    def hold(self, alive: Callable[[], bool], seconds_left: Callable[[], float | None] | None = None) -> "Seat":
        """Keep the place while `alive()`; `seconds_left()` tells a refused caller when it frees."""
        self.alive, self.seconds_left = alive, seconds_left or (lambda: None)
        return self

    def release(self) -> None:
        self._places._release(self)

    def _held(self) -> bool:
        try:
            return not self.released and bool(self.alive())
        except Exception:  # what it held is gone: so is the place
            return False


class Places:
    """Training places per address, running and waiting together. `take` reserves one at once
    (two Starts at the same moment cannot both pass the count); the caller then binds it to its
    run with Seat.hold, or releases it when the run did not start."""

    def __init__(self, most: int | None = None):
        self._most = most
        self._seats: dict[str, list[Seat]] = {}
        self._lock = threading.Lock()

    @property
    def most(self) -> int:
        if self._most is not None:
            return self._most
        told = os.environ.get(PLACES_ENV, "").strip()
        return int(told) if told.isdigit() else PLACES_DEFAULT  # 0: training is closed on this server

    def held(self, key: str) -> int:
        with self._lock:
            return len(self._live(key))

    def take(self, key: str, most: int | None = None, words: str = "limits.places") -> Seat:
        """A place for `key` (an address; a class may pass its own key and size as `most`, and its
        own `words`), or Limited saying how many it holds and when one frees."""
        most = self.most if most is None else most
        if most <= 0:
            raise Limited("limits.closed")
        with self._lock:
            live = self._live(key)
            if len(live) >= most:
                lefts = [s for s in (seat.seconds_left() for seat in live) if s is not None]
                soonest = min(lefts) if lefts else None
                raise Limited(words if soonest is None else f"{words}_in", soonest, held=len(live),
                              most=most, **_wait_words(soonest))
            seat = Seat(self, key)
            self._seats.setdefault(key, []).append(seat)
            return seat

    def _live(self, key: str) -> list[Seat]:
        """The key's seats still held, forgetting the others (call with the lock held)."""
        live = [seat for seat in self._seats.get(key, []) if seat._held()]
        if live:
            self._seats[key] = live
        else:
            self._seats.pop(key, None)
        return live

    def _release(self, seat: Seat) -> None:
        with self._lock:
            seat.released = True
            self._live(seat.key)

    def __len__(self) -> int:
        """Addresses holding a place (their seats are bounded by the runs' queue)."""
        with self._lock:
            return sum(1 for key in list(self._seats) if self._live(key))


def _rate(name: str) -> RateLimit:
    calls, seconds = RATE_DEFAULTS[name]
    told = os.environ.get(RATE_ENV.format(name=name.upper()), "")
    if "/" in told:
        count, _, period = told.partition("/")
        if count.strip().isdigit() and period.strip().replace(".", "", 1).isdigit() and float(period) > 0:
            calls, seconds = int(count), float(period)
    return RateLimit(name, calls, seconds)


RATES = {name: _rate(name) for name in RATE_DEFAULTS}
PLACES = Places()


def _error(limited: Limited, lang: str):
    import gradio as gr

    return gr.Error(limited.say(lang), title=locales.text("limits.title", lang), print_exception=False)


def guard(request, name: str, lang: str | None = None) -> str:
    """Before an expensive call: take one of `name`'s calls (RATES) for the caller's address, or
    raise gr.Error in the caller's language saying when to try again. Returns the address. A
    Python caller of the tab's function (no request: no visitor, no address) is not counted."""
    if request is None:
        return ""
    lang = lang or locales.language(request)
    where = address(request)
    try:
        RATES[name].check(where)
    except Limited as limited:
        raise _error(limited, lang) from None
    return where


def take_place(request, lang: str | None = None, key: str | None = None, most: int | None = None,
               words: str = "limits.places") -> Seat:
    """A training place for the caller's address (or `key`), or gr.Error in words (`words`, and
    `words`_in when it can say in how long). Bind the seat to the run (Seat.hold) once it has
    started; release it if it did not."""
    lang = lang or locales.language(request)
    try:
        return PLACES.take(key or address(request), most, words)
    except Limited as limited:
        raise _error(limited, lang) from None
