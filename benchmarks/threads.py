"""How a training step's speed depends on OpenMP's wait policy and the torch thread count: our
CNN's and the primer's steps (the real loop, augmentation included) in fresh processes, one per
policy, each timing its steps on 1 thread and on every core in turn, the policies taking turns.

OpenMP reads its wait policy once, when torch loads, so each policy needs a process of its own.
`short` is what training/__init__.py sets (a waiting thread spins 1,000 times, then sleeps:
GOMP_SPINCOUNT); `passive` sleeps at once (OMP_WAIT_POLICY=PASSIVE, the choice before); `spin` is
libgomp's own (300,000 spins). `--busy N` keeps N other processes spinning on the CPU meanwhile, as
a machine shared with other work: there a long spin holds a core the working thread needs.

    python -m benchmarks.threads                  # our CNN, 3 rounds of 20 steps each way, idle
    python -m benchmarks.threads --busy 1         # the same beside one busy process
    python -m benchmarks.threads --arch seed --rounds 5
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# The child imports torch before anything of training/, so OpenMP loads with exactly these.
POLICIES = {"short": {"GOMP_SPINCOUNT": "1000"}, "passive": {"OMP_WAIT_POLICY": "PASSIVE"}, "spin": {"GOMP_SPINCOUNT": "300000"}}
BUSY = "while True: pass"

CHILD = """
import json, sys, time
import torch  # first: OpenMP reads the environment the parent gave, before training/ could set it
from benchmarks.train_profile import _loop
arch, steps, threads = sys.argv[1], int(sys.argv[2]), [int(t) for t in sys.argv[3:]]
rates = {}
for count in threads:
    torch.set_num_threads(count)
    events = _loop("cnn", arch, "cpu", max_steps=10_000)
    for _ in range(5):  # set-up and the kernels' first builds, untimed
        next(events)
    started = time.perf_counter()
    for _ in range(steps):
        next(events)
    rates[count] = steps / (time.perf_counter() - started)
    events.close()
print(json.dumps(rates))
"""


def one_round(policy: str, arch: str, steps: int, threads: list[int]) -> dict[int, float]:
    """Steps a second on each thread count, in a fresh process with `policy`."""
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT")}
    env |= POLICIES[policy] | {"PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-c", CHILD, arch, str(steps), *map(str, threads)], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=1800)
    if done.returncode:
        raise RuntimeError(done.stderr[-2000:])
    return {int(k): v for k, v in json.loads(done.stdout.strip().splitlines()[-1]).items()}


def main(arch: str = "lab", rounds: int = 3, steps: int = 20, busy: int = 0) -> dict:
    cores = os.cpu_count() or 1
    threads = sorted({1, cores})
    rates = {policy: {t: [] for t in threads} for policy in POLICIES}
    load = [round(os.getloadavg()[0], 2)]
    hogs = [subprocess.Popen([sys.executable, "-c", BUSY]) for _ in range(busy)]
    try:
        for _ in range(rounds):
            for policy in POLICIES:
                for count, rate in one_round(policy, arch, steps, threads).items():
                    rates[policy][count].append(rate)
    finally:
        for hog in hogs:
            hog.kill()
    load.append(round(os.getloadavg()[0], 2))
    print(f"cnn:{arch}, {steps} steps a round, {rounds} rounds, {busy} busy process(es) beside it, "
          f"load average {load[0]} -> {load[1]} on {cores} CPUs")
    print("| wait policy | " + " | ".join(f"{t} thread(s): steps/s, median (range)" for t in threads) + " |")
    print("|---|" + "---|" * len(threads))
    for policy, by_threads in rates.items():
        cells = [f"{statistics.median(r):.1f} ({min(r):.1f}-{max(r):.1f})" for r in by_threads.values()]
        print(f"| {policy} | " + " | ".join(cells) + " |")
    return {"arch": arch, "busy": busy, "load_average": load, "rates": rates}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--arch", choices=("lab", "seed"), default="lab")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--busy", type=int, default=0, help="other processes kept spinning on the CPU meanwhile")
    args = parser.parse_args()
    figures = main(args.arch, args.rounds, args.steps, args.busy)
    from benchmarks import results

    counts = sorted(next(iter(figures["rates"].values())))
    rows = [[policy] + [f"{statistics.median(r):.1f} ({min(r):.1f}-{max(r):.1f})" for r in (by[t] for t in counts)]
            for policy, by in figures["rates"].items()]
    words = (f"Our CNN ({args.arch}), {args.steps} steps a round, {args.rounds} rounds, {args.busy} busy process(es) beside it; "
             f"steps a second, median (range); load average {figures['load_average'][0]} -> {figures['load_average'][1]}.\n")
    print("wrote", results.write("threads", results.command_line("benchmarks.threads"),
                                 [words, results.table(["wait policy", *(f"{t} thread(s)" for t in counts)], rows)],
                                 title="OpenMP wait policies: training steps a second"))
