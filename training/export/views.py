"""Companion ONNX files for the app's inside views, written beside each export.

- `<stem>.layers.onnx` beside a CNN's `<stem>.onnx`: the same graph with every stage's tensor as an
  output (each convolution's maps before the activation, after it, after pooling; the feature
  vector; the logits), and custom metadata `stages` (JSON) that describes them: name, kind, shape,
  one line of what it does, and each convolution's weights (for a depthwise convolution the 3x3
  kernel of each channel, for a 1x1 pointwise one the mix of the channels). The stages are found in
  the exported graph itself (Conv, Relu/Sigmoid/Tanh, MaxPool, Gemm nodes), not from a hard-coded
  architecture, so any CNN a visitor trains gets one too, and a shipped cnn.onnx without its
  checkpoint can get one with `python -m training.export.views layers exports/cnn.onnx`. With the
  torch model at hand, every stage is parity-checked against the tensors PyTorch computes (forward
  hooks on its leaf modules).
- `<stem>.discriminator.onnx` beside a GAN's `<stem>.onnx`: the discriminator from the checkpoint,
  input `image` [N,1,28,28] in [-1,1] (and `label` int64 [N] when conditional), output `score` [N]
  (hinge: the raw score; bce: the probability of "real"), metadata `loss`, `conditional`,
  `threshold`, `source` and the mean scores on real and generated digits.
"""
import argparse
import json
import sys
from pathlib import Path

from training.export.companion_file import CompanionError, discriminator_path, layers_path, open_session
from training.export.critic import build_discriminator, fit_discriminator, generated, write_discriminator
from training.export.layers import STAGES_KEY, check_layers_against_torch, layers_model, write_layers  # noqa: F401 (the companions' API, in one place)


def build_cnn(config: dict):
    try:
        from training.train_cnn import build_cnn as build
    except ImportError:
        from models import DigitCNN

        return DigitCNN()
    return build(config)



def companions(checkpoint: dict, exported, out, held_out) -> dict:
    """The companions of one export (training.export calls this): `exported` is the .onnx just
    written (maybe still under its temporary name), `out` where it is going. Returns the card's
    `companions` entry."""
    import torch

    kind, config = checkpoint["kind"], checkpoint["config"]
    out = Path(out)
    if kind == "cnn":
        cnn = build_cnn(config)
        cnn.load_state_dict(checkpoint["model"])
        return {"layers": write_layers(exported, layers_path(out), cnn.eval(), held_out.images[:64].numpy())}
    if "discriminator" not in checkpoint:
        return {"discriminator": None}
    discriminator = build_discriminator(config)
    discriminator.load_state_dict(checkpoint["discriminator"])
    discriminator.eval()
    session = open_session(exported)
    z_dim = session.get_inputs()[0].shape[1]
    conditional = any(i.name == "label" for i in session.get_inputs())

    def generate(z, labels):
        feeds = {"z": z.numpy()} | ({"label": labels.numpy()} if labels is not None else {})
        return session.run(["image"], feeds)[0]

    fake, fake_labels = generated(generate, z_dim, 500, conditional)
    real = (held_out.images[:500] * 2 - 1).numpy(), held_out.labels[:500].numpy()
    with torch.no_grad():
        return {"discriminator": write_discriminator(discriminator, config, discriminator_path(out), real, (fake, fake_labels.numpy()))}



def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="python -m training.export.views", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="what", required=True)
    layers = sub.add_parser("layers", help="write <stem>.layers.onnx beside an exported CNN, from its graph")
    layers.add_argument("cnn", type=Path)
    fitted = sub.add_parser("fit-discriminator", help="fit and write <stem>.discriminator.onnx for a generator whose checkpoint is gone")
    fitted.add_argument("gan", type=Path)
    fitted.add_argument("--steps", type=int, default=1500)
    fitted.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    try:
        if args.what == "layers":
            card_path, entry = args.cnn.with_suffix(".json"), "layers"
            figures = write_layers(args.cnn, images=_held_out_images())
        else:
            card_path, entry = args.gan.with_suffix(".json"), "discriminator"
            figures = fit_discriminator(args.gan, json.loads(card_path.read_text()), args.steps, args.seed)
        if card_path.is_file():  # the model card describes its companions too
            card = json.loads(card_path.read_text())
            card.setdefault("companions", {})[entry] = figures
            card_path.write_text(json.dumps(card, indent=2) + "\n")
    except (CompanionError, OSError) as error:
        sys.exit(f"error: {error}")
    print(json.dumps(figures, indent=1))


def _held_out_images():
    try:
        from training import data

        return data.load("mnist-5k")[1].images[:64].numpy()
    except Exception:
        return None


if __name__ == "__main__":
    main()
