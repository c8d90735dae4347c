"""The vanishing gradient, measured: the primer's CNN (`--arch seed`) trained with Sigmoid and with
ReLU for the same steps and seeds, and each layer's gradient norm as the loop itself records it for
the Train tab's chart (training/layer_gradients.py: from the step's own backward, every few steps).

A seed's figure for a layer is the median over its run's reads; the table gives the median over the
seeds and their range, input side first, and the first layer's Sigmoid / ReLU ratio.

    python -m benchmarks.gradients                      # 60 steps, seeds 0 1 2, cross-entropy
    python -m benchmarks.gradients --steps 100 --loss mse
"""
import argparse
import json
import os
import statistics
import time

import torch

from training import train_cnn

ACTIVATIONS = ("sigmoid", "relu")


def layer_norms(activation: str, seed: int, steps: int, loss: str, batch_size: int = 64) -> tuple[list[str], list[float]]:
    """One run: its layers (input side first) and each one's median gradient norm over the run's reads."""
    cfg = train_cnn.CNNConfig(arch="seed", activation=activation, loss=loss, seed=seed, max_steps=steps,
                              batch_size=batch_size, device="cpu")
    reads = [event.gradients for event in train_cnn.train(cfg) if event.gradients]
    layers = [f"{g['name']} ({g['kind']})" for g in reads[0]]
    return layers, [statistics.median(read[i]["gradient_norm"] for read in reads) for i in range(len(layers))]


def run(steps: int = 60, seeds=(0, 1, 2), loss: str = "ce") -> dict:
    """{activation: {"layers": [...], "median": [...], "low": [...], "high": [...]}} and the first layer's ratio."""
    found = {}
    for activation in ACTIVATIONS:
        per_seed = [layer_norms(activation, seed, steps, loss) for seed in seeds]
        layers = per_seed[0][0]
        columns = list(zip(*(norms for _, norms in per_seed)))  # a layer's figures over the seeds
        found[activation] = {"layers": layers, "median": [statistics.median(c) for c in columns],
                             "low": [min(c) for c in columns], "high": [max(c) for c in columns]}
    first_ratio = found["sigmoid"]["median"][0] / found["relu"]["median"][0]
    return {"steps": steps, "seeds": list(seeds), "loss": loss, "arch": "seed", **found,
            "first_layer_sigmoid_over_relu": first_ratio}


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.gradients", description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--loss", choices=("ce", "mse"), default="ce")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON too")
    args = parser.parse_args()
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS") or torch.get_num_threads()))
    started = time.perf_counter()
    figures = run(args.steps, tuple(args.seeds), args.loss)
    print(f"primer's CNN, {args.steps} steps, loss {args.loss}, seeds {' '.join(map(str, args.seeds))}: "
          "each layer's gradient norm ||dL/dw||, median over the seeds (range)")
    for activation in ACTIVATIONS:
        f = figures[activation]
        for layer, median, low, high in zip(f["layers"], f["median"], f["low"], f["high"]):
            print(f"  {activation:8s} {layer:20s} {median:.3g} ({low:.3g}-{high:.3g})")
    print(f"first layer, Sigmoid / ReLU: {figures['first_layer_sigmoid_over_relu']:.3g} "
          f"({time.perf_counter() - started:.0f} s, {torch.get_num_threads()} threads)")
    if args.json:
        print(json.dumps(figures, indent=1))
    from benchmarks import results

    rows = [[activation, layer, f"{median:.3g} ({low:.3g}-{high:.3g})"] for activation in ACTIVATIONS
            for layer, median, low, high in zip(*(figures[activation][k] for k in ("layers", "median", "low", "high")))]
    words = (f"The primer's CNN, {args.steps} steps, loss {args.loss}, seeds {' '.join(map(str, args.seeds))}: each layer's "
             f"gradient norm ||dL/dw||, median over the seeds (range). First layer, Sigmoid / ReLU: "
             f"{figures['first_layer_sigmoid_over_relu']:.3g}.\n")
    print("wrote", results.write("gradients", results.command_line("benchmarks.gradients"),
                                 [words, results.table(["activation", "layer", "gradient norm"], rows)],
                                 title="The vanishing gradient: each layer's gradient, Sigmoid against ReLU"))


if __name__ == "__main__":
    main()
