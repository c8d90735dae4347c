"""What a step asked for in the GAN's game costs (training/turns.py): the one loop's plain step
beside a visitor's D, G and "both" step, which also draws the generator's fixed-latent grid with
each sample's dL_G/dx and measures how far each network's weights moved. One torch thread, the
CPU, batch 64; the median of each.

    python -m benchmarks.game_steps
"""
import statistics
import time

import torch

from training import train_gan
from training.turns import SIDES, Turns


def timed(loop, count: int, before=lambda: None) -> float:
    times = []
    for _ in range(count):
        before()
        started = time.perf_counter()
        next(loop)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> None:
    torch.set_num_threads(1)
    for arch in ("seed", "lab"):
        turns = Turns()
        loop = train_gan.train(train_gan.GANConfig(arch=arch, device="cpu", batch_size=64, max_steps=500), judge=None, turns=turns)
        timed(loop, 5)  # warm up
        plain = timed(loop, 20)
        turns.pause()
        asked = {side: timed(loop, 8, lambda side=side: turns.ask(side, 1)) for side in SIDES}
        loop.close()
        print(f"{arch}: plain step {plain * 1000:.0f} ms; " + ", ".join(f"asked {s} {t * 1000:.0f} ms" for s, t in asked.items()))


if __name__ == "__main__":
    main()
