"""A visitor's controls of their GAN run's game (training/turns.py), for the Train tab and the API:
pause it after its current step, resume it, or ask for k steps of one side and wait for them.
Only a GAN run training in this process can be stepped (runs/executor.py's `steppable`);
anything else is refused in words. The run's thread (runs/jobs.py) does the waiting."""
import time

from locales import Explained
from training import turns
from runs import jobs
from runs.record import Run


def _steppable(owner: str) -> Run | Explained:
    """`owner`'s GAN run, training here; else the words saying why it cannot be paused or stepped."""
    run = jobs.run_of(owner)
    if run is None:
        return Explained("train.turns.none")
    if run.request.kind != "gan":
        return Explained("train.turns.not_gan")
    if not run.steppable:
        return Explained("train.turns.zerogpu")
    if run.view().state != "training":
        return Explained("train.turns.not_training")
    return run


def pause(owner: str) -> Explained:
    """Pause `owner`'s GAN run after its current step."""
    run = _steppable(owner)
    if isinstance(run, Explained):
        return run
    run.turns.pause()
    return Explained("train.turns.paused", step=run.view().step)


def resume(owner: str) -> Explained:
    run = _steppable(owner)
    if isinstance(run, Explained):
        return run
    run.turns.resume()
    return Explained("train.turns.resumed")


def step(owner: str, side: str, count, wait: float = 60.0) -> tuple[Explained, dict]:
    """Ask `owner`'s paused GAN run for `count` steps of `side` ("d", "g" or "both") and wait for them
    (up to `wait` s). Returns words and a summary: the losses before and after, and how far each
    network's weights moved (the norm of each step's change, summed)."""
    if side not in turns.SIDES:
        return Explained("train.turns.bad_side", value=repr(side), choices=", ".join(turns.SIDES)), {}
    if isinstance(count, bool) or not isinstance(count, (int, float)) or not 1 <= count <= turns.MAX_ASKED or count != int(count):
        return Explained("train.turns.bad_count", value=repr(count), most=turns.MAX_ASKED), {}
    run = _steppable(owner)
    if isinstance(run, Explained):
        return run, {}
    if not run.turns.paused:
        return Explained("train.turns.not_paused"), {}
    before = run.view()
    done = len(before.turns)
    target = done + (run.turns.ask(side, int(count)) - run.turns.taken)
    deadline = time.monotonic() + wait
    while len(run.view().turns) < target and not run.training_ended.is_set() and time.monotonic() < deadline:
        time.sleep(0.02)
    after = run.view()
    taken = after.turns[done:target]
    moved = {name: sum(t[3][name] for t in taken) for name in ("generator", "discriminator")}
    summary = {"side": side, "asked": int(count), "steps": len(taken), "step": after.step,
               "before": before.losses, "after": after.losses, "moved": moved}
    if len(taken) < count:
        return Explained("train.turns.stepped_short", steps=len(taken), asked=int(count)), summary
    return Explained(f"train.turns.stepped.{side}", steps=len(taken), step=after.step), summary
