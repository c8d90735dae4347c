"""The GAN's game turn by turn: which side the next training step updates. Torch-free.

The one loop (training/train_gan.py) asks `side(step)` before each batch: "d" (the discriminator
alone), "g" (the generator alone) or "both" (D, then G, as every step of a plain run). A plain run
follows the D:G ratio (`d_steps` discriminator steps a generator step: D alone on the others). A
visitor can pause a run and ask for k steps of one side or both: the run's thread (runs/jobs.py)
stops pulling events while paused, so the loop simply is not driven; a step asked for lets it pull
one event a step, and the loop takes each asked side in turn. Nothing here blocks the loop itself,
so a Stop, a closed page or the time cap still ends a paused run between two batches.

Only where the loop runs in this process (a thread, locally and on CPU basic): a ZeroGPU worker is
a forked process pushing its events as fast as it trains, and a lent GPU must not wait for a click.
"""
import threading
from collections import deque

SIDES = ("d", "g", "both")
MAX_ASKED = 50  # steps one request may ask for: each is a real step, with its grid and gradients


def by_ratio(step: int, d_steps: int) -> str:
    """The side of step `step` (0-based) in a plain run: D every step, G on every d_steps-th."""
    return "both" if (step + 1) % max(1, d_steps) == 0 else "d"


class Turns:
    """Pause, resume and asked steps, shared by a run's thread and the visitors' handlers."""

    def __init__(self):
        self._lock = threading.Lock()
        self._paused = False
        self._asked: deque[str] = deque()  # sides asked for, not yet taken by the loop
        self._taken = 0  # asked steps the loop has taken, ever

    @property
    def paused(self) -> bool:
        with self._lock:
            return self._paused

    def pause(self) -> None:
        with self._lock:
            self._paused = True

    def resume(self) -> None:
        """Back to the ratio; steps asked and not yet taken are dropped."""
        with self._lock:
            self._paused = False
            self._asked.clear()

    def ask(self, side: str, count: int) -> int:
        """Queue `count` steps of `side`; returns how many asked steps the loop will have taken
        when these are done (wait for `taken >= ` that)."""
        if side not in SIDES:
            raise ValueError(f"side must be one of {', '.join(SIDES)}, not {side!r}")
        with self._lock:
            self._asked.extend([side] * count)
            return self._taken + len(self._asked)

    @property
    def taken(self) -> int:
        with self._lock:
            return self._taken

    def may_pull(self) -> bool:
        """Whether the run's thread may pull the next event: not paused, or a step is asked."""
        with self._lock:
            return not self._paused or bool(self._asked)

    def side(self, step: int, d_steps: int) -> tuple[str, bool]:
        """The loop's question before each batch: (side, asked): an asked step's side, else the
        ratio's (the run's config holds `d_steps`)."""
        with self._lock:
            if self._asked:
                self._taken += 1
                return self._asked.popleft(), True
        return by_ratio(step, d_steps), False
