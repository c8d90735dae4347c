"""Export a checkpoint to ONNX: `python -m training.export --checkpoint checkpoints/cnn.pt --out exports/cnn.onnx`.

The kind is read from the checkpoint. The file is written aside, checked by onnx.checker, compared
with PyTorch on held-out inputs, measured, and only then moved over the old one with its model card
(`<name>.json`) beside it: a failed export never touches what is being served."""
import argparse
import datetime
import json
import os
import shutil
import sys
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import torch
from torch import nn

from training import data, knobs, metrics, runtime
from training.export import directions
from training.export import views as export_views
from training.export.onnx_file import to_onnx as _to_onnx
from training.train_cnn import build_cnn
from training.train_gan import build_generator

LOGIT_TOLERANCE, IMAGE_TOLERANCE = 1e-4, 1e-3
COMPANION_PATHS = {"layers": export_views.layers_path, "discriminator": export_views.discriminator_path}


class ExportError(RuntimeError):
    pass


class ServedCNN(nn.Module):
    """What cnn.onnx computes: logits and, as a second output, the penultimate features."""

    def __init__(self, cnn: nn.Module):  # DigitCNN or PrimerCNN: both have embed() and head
        super().__init__()
        self.cnn = cnn

    def forward(self, image):
        features = self.cnn.embed(image)
        return self.cnn.head(features), features


def _session(path: Path) -> ort.InferenceSession:
    return ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])


def _export_cnn(checkpoint: dict, path: Path, held_out: data.Split) -> dict:
    cnn = build_cnn(checkpoint["config"])
    cnn.load_state_dict(checkpoint["model"])
    served = ServedCNN(cnn).eval()
    _to_onnx(served, (held_out.images[:2],), ["image"], ["logits", "features"], path)
    with torch.no_grad():
        expected = served(held_out.images)[0].numpy()
    got = _session(path).run(["logits"], {"image": held_out.images.numpy()})[0]
    worst = float(np.abs(got - expected).max())
    if worst > LOGIT_TOLERANCE or (got.argmax(1) != expected.argmax(1)).any():
        raise ExportError(f"parity failed: logits differ from PyTorch by up to {worst:.2e} (allowed {LOGIT_TOLERANCE:g})")
    return {
        "parity_max_logit_difference": worst,
        "held_out_accuracy": metrics.accuracy(got, held_out.labels.numpy()),
    }


def judged_latents(z_dim: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The 2,000 fixed latents, 200 a digit, on which every GAN's quality is measured."""
    z = torch.randn(2000, z_dim, generator=torch.Generator().manual_seed(0))
    return z, torch.arange(10).repeat_interleave(200)


def _export_gan(checkpoint: dict, path: Path, held_out: data.Split, train_set: data.Split) -> dict:
    generator = build_generator(checkpoint["config"])
    generator.load_state_dict(checkpoint["model"])
    generator.eval()
    z_dim, conditional = generator.z_dim, generator.conditional
    z, labels = judged_latents(z_dim)
    if conditional:
        _to_onnx(generator, (z[:2], labels[:2]), ["z", "label"], ["image"], path)
    else:  # the primer's generator is unconditional: its file takes z alone
        _to_onnx(generator, (z[:2],), ["z"], ["image"], path)
    # The judge: the CNN beside the export, else the shipped one (the slider directions need one to
    # check that a move keeps the digit's class).
    judge_path = next((p for p in (path.parent / "cnn.onnx", metrics.SHIPPED_CNN) if p.is_file()), None)
    judge = metrics.Judge(judge_path) if judge_path else None
    # named, not by its absolute path: the card is shown and downloaded
    judged_by = judge_path and (judge_path.name if judge_path.parent == path.parent else f"exports/{judge_path.name}")
    # The slider directions travel inside the .onnx (metadata "directions"), so swapping the file
    # swaps model and directions together; the parity check below reads the file as written.
    found = directions.find(generator, judge) if conditional else _no_directions(z_dim)
    directions.store(path, found)
    with torch.no_grad():
        expected = (generator(z, labels) if conditional else generator(z)).numpy()
    feeds = {"z": z.numpy(), "label": labels.numpy()} if conditional else {"z": z.numpy()}
    got = _session(path).run(["image"], feeds)[0]
    worst = float(np.abs(got - expected).max())
    if worst > IMAGE_TOLERANCE:
        raise ExportError(f"parity failed: images differ from PyTorch by up to {worst:.2e} (allowed {IMAGE_TOLERANCE:g})")
    figures = {"parity_max_pixel_difference": worst, "z_dim": z_dim, "conditional": conditional}
    if judge is not None:
        asked = labels.numpy() if conditional else None  # unconditional: what the CNN reads, no fidelity
        quality = metrics.gan_quality(judge, (got + 1) / 2, asked, held_out.images.numpy(), train_set.images.numpy())
        figures |= quality | {"judged_by": judged_by, "samples": len(labels)}
    offered = [d for d in found["directions"] if d["offered"]]
    figures["directions"] = {
        "offered": len(offered), "class_kept_min": found["class_kept_min"], "step_sd": found["step_sd"],
        "candidates": directions.summary(found), **({"skipped": found["skipped"]} if "skipped" in found else {}),
    }
    return figures


NO_DIRECTIONS_REASON = (
    "not searched: training.export.directions needs a conditional generator (Generator.stem(z, label), PCA "
    "centred within each asked-for digit, and a check that a move keeps the asked-for digit); the "
    "primer's generator is unconditional"
)


def _no_directions(z_dim: int) -> dict:
    """What the export stores for an unconditional generator: no sliders, and why."""
    return {
        "method": None, "z_dim": z_dim, "samples": 0, "measured_on": 0, "step_sd": directions.STEP_SD,
        "class_kept_min": directions.CLASS_KEPT_MIN, "judged": False, "seed": 0, "directions": [],
        "skipped": NO_DIRECTIONS_REASON,
    }


def onnx_metadata(kind: str, config: dict) -> dict[str, str]:
    """The custom metadata every exported .onnx carries: `arch`, and for a GAN `conditional`, `loss`."""
    config = knobs.resolve(kind, config)
    if kind == "cnn":
        return {"arch": config["arch"]}
    return {"arch": config["arch"], "conditional": "false" if config["arch"] == "seed" else "true", "loss": config["loss"]}


def _write_metadata(path: Path, values: dict[str, str]) -> None:
    model = onnx.load(str(path))
    for key, value in values.items():
        entry = next((p for p in model.metadata_props if p.key == key), None) or model.metadata_props.add()
        entry.key, entry.value = key, value
    onnx.save(model, str(path))
    onnx.checker.check_model(str(path), full_check=True)

def training_command(kind: str, config: dict) -> str:
    flags = " ".join(f"--{k.replace('_', '-')} {v}" for k, v in config.items() if k != "device")
    return f"python -m training.train_{kind} {flags}"


def export(checkpoint: dict, out: str | Path) -> dict:
    """Write `out` (.onnx) and its card (.json) from a checkpoint; returns the card. Raises
    ExportError, leaving any existing files untouched, when a check fails."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    kind = checkpoint["kind"]
    config = knobs.resolve(kind, checkpoint["config"])  # a checkpoint from before the knobs: lab's
    checkpoint = {**checkpoint, "config": config}
    train_set, held_out = data.load(config["dataset"])
    partial = out.with_name(out.name + ".tmp")
    staging = out.with_name(f".{out.stem}.staging.tmp")  # *.tmp: ignored by git, as the other partial files
    try:
        if kind == "cnn":
            figures = _export_cnn(checkpoint, partial, held_out)
        else:
            figures = _export_gan(checkpoint, partial, held_out, train_set)
        metadata = onnx_metadata(kind, config)
        _write_metadata(partial, metadata)
        # The inside views' files are written in a staging folder and moved in after the model, so a
        # kill at any moment leaves each served file either the old one or a complete new one.
        staging.mkdir(exist_ok=True)
        companions = export_views.companions(checkpoint, partial, staging / out.name, held_out)
        for key, entry in companions.items():
            if entry:
                entry["file"] = COMPANION_PATHS[key](out).name
        card = {
            "name": out.stem, "kind": kind, "arch": config["arch"], "onnx_metadata": metadata,
            "knobs": {k: config[k] for k in knobs.VISITOR_KNOBS[kind]},
            "dataset": config["dataset"], "seed": config["seed"],
            "training_command": training_command(kind, config),
            "export_command": f"python -m training.export --checkpoint {kind}.pt --out {out.name}",
            "config": config, "steps": checkpoint["step"], "training_seconds": round(checkpoint.get("seconds", 0), 1),
            "processes": checkpoint.get("world_size", 1), "metrics": figures, "companions": companions,
            "history": checkpoint.get("history", []),  # the loop's held-out figures at each epoch's end, with the time
            "size_bytes": partial.stat().st_size, "date": datetime.date.today().isoformat(),
            "torch": torch.__version__, "onnxruntime": ort.__version__,
        }
        card_path = out.with_suffix(".json")
        card_partial = card_path.with_name(card_path.name + ".tmp")
        card_partial.write_text(json.dumps(card, indent=2) + "\n")
        os.replace(partial, out)
        for where in COMPANION_PATHS.values():
            if where(staging / out.name).exists():
                os.replace(where(staging / out.name), where(out))
        os.replace(card_partial, card_path)
        return card
    except ExportError:
        raise
    except export_views.CompanionError as error:
        raise ExportError(str(error)) from error
    except Exception as error:
        raise ExportError(f"export failed: {type(error).__name__}: {error}") from error
    finally:
        partial.unlink(missing_ok=True)
        shutil.rmtree(staging, ignore_errors=True)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="python -m training.export", description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", type=Path, required=True, help="a cnn.pt or gan.pt from training")
    parser.add_argument("--out", type=Path, required=True, help="where to write the .onnx (its card goes beside it)")
    args = parser.parse_args(argv)
    try:
        card = export(runtime.load_checkpoint(args.checkpoint), args.out)
    except (runtime.CheckpointError, ExportError, data.DatasetUnavailable) as error:
        sys.exit(f"error: {error}")
    print(f"wrote {args.out} ({card['size_bytes'] / 1024:.0f} KiB): " + json.dumps(card["metrics"]))


if __name__ == "__main__":
    main()
