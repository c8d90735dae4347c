"""Latent directions that mean something, found at export time (GANSpace, Harkonen et al. 2020).

Sample latents for all ten digits, take the generator's first feature map (`Generator.stem`), PCA
it, and carry the top components back to the latent space by regressing z on the PCA coordinates,
as GANSpace does for BigGAN. Each direction is normalised to unit length: z is standard normal, so
a slider at s moves the latent s standard deviations along it.

Each direction is then measured on the images it makes (ink, slant, width, height, position), named
after what it clearly changes most, signed so that positive means "more" of it, and checked with
the project's CNN: only directions that keep the digit's class through a 2 sd move are offered.
"""
import inspect
import json
from pathlib import Path

import numpy as np
import onnx
import torch

METADATA_KEY = "directions"  # where the .onnx file carries them (metadata_props)
STEP_SD = 2.0  # how far the measurements move along each direction, in standard deviations
CLASS_KEPT_MIN = 0.9  # offer a direction only if the CNN still reads the digit this often at +-STEP_SD
MAX_OFFERED = 6
VISIBLE_PIXEL_CHANGE = 0.25  # a pixel counts as visibly changed past a quarter of full scale

# measure -> (slider name, what moving it positive does)
MEANINGS = {
    "ink": ("thickness", "thicker, bolder strokes"),
    "slant": ("slant", "leans further right"),
    "width": ("width", "wider digit"),
    "height": ("height", "taller digit"),
    "x": ("horizontal shift", "moves right"),
    "y": ("vertical shift", "moves down"),
}
MEASURE_WORDS = {  # measure -> (what an increase looks like, what a decrease looks like)
    "ink": ("bolder", "thinner"), "slant": ("leans right", "leans left"), "width": ("wider", "narrower"),
    "height": ("taller", "shorter"), "x": ("moves right", "moves left"), "y": ("moves down", "moves up"),
}
NAMED_EFFECT_MIN = 0.5  # the dominant measure must move by half its natural spread over +-STEP_SD...
NAMED_EFFECT_LEAD = 1.5  # ...and this many times more than the runner-up, else "style k"


def image_measures(images: np.ndarray) -> dict[str, np.ndarray]:
    """Shape measures of white-on-black digits [N,28,28] in [0,1], each [N]: ink (mean intensity,
    i.e. stroke thickness), slant (horizontal shift per row, from the second moments; positive
    leans right), width and height (the ink's spread in pixels) and the centre of mass x, y."""
    images = np.asarray(images, dtype=np.float64)
    size = images.shape[-1]
    ys, xs = np.mgrid[0:size, 0:size].astype(np.float64)
    mass = images.sum(axis=(1, 2)) + 1e-8
    cx = (images * xs).sum(axis=(1, 2)) / mass
    cy = (images * ys).sum(axis=(1, 2)) / mass
    dx, dy = xs[None] - cx[:, None, None], ys[None] - cy[:, None, None]
    var_x = (images * dx**2).sum(axis=(1, 2)) / mass
    var_y = (images * dy**2).sum(axis=(1, 2)) / mass
    cov_xy = (images * dx * dy).sum(axis=(1, 2)) / mass
    return {
        "ink": images.mean(axis=(1, 2)),
        # rows run downwards, so a right lean means x falls as y grows: negate the regression slope
        "slant": -cov_xy / (var_y + 1e-8),
        "width": np.sqrt(var_x),
        "height": np.sqrt(var_y),
        "x": cx,
        "y": cy,
    }


def name_direction(effects: dict[str, float], index: int) -> tuple[str, str, int]:
    """(name, description, sign) from standardised effects: the sign to multiply the direction by
    so that positive moves increase the named measure (+1 when unnamed)."""
    ranked = sorted(effects, key=lambda m: abs(effects[m]), reverse=True)
    top, runner_up = ranked[0], ranked[1]
    if abs(effects[top]) >= NAMED_EFFECT_MIN and abs(effects[top]) >= NAMED_EFFECT_LEAD * abs(effects[runner_up]):
        name, description = MEANINGS[top]
        return name, description, 1 if effects[top] > 0 else -1
    mix = " and ".join(MEASURE_WORDS[m][effects[m] < 0] for m in ranked[:2])
    return f"style {index + 1}", f"a mix, mostly {mix}", 1


def is_conditional(generator) -> bool:
    """A conditional generator takes (z, label); the primer's takes z alone."""
    return len(inspect.signature(generator.forward).parameters) >= 2


def _run(generator, z: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    return generator(z, labels) if is_conditional(generator) else generator(z)


def _first_feature_map(generator, z: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """`Generator.stem` where the model has one, else the output of its first leaf module that makes
    a feature map (a forward hook): an unconditional generator from elsewhere needs no stem."""
    if hasattr(generator, "stem"):
        return generator.stem(z, labels)
    captured = []
    hooks = [m.register_forward_hook(lambda _m, _a, out: captured.append(out) if not captured and out.dim() == 4 else None)
             for m in generator.modules() if not list(m.children())]
    try:
        _run(generator, z, labels)
    finally:
        for h in hooks:
            h.remove()
    return captured[0]


def _stem_features(generator, z: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """[N, D], centred within each class: the label already controls the class, so the components
    should describe the style that varies inside one (an unconditional generator: centred once)."""
    with torch.no_grad():
        features = _first_feature_map(generator, z, labels).flatten(1)
    groups = labels.unique() if is_conditional(generator) else [None]
    for digit in groups:
        rows = labels == digit if digit is not None else slice(None)
        features[rows] -= features[rows].mean(0)
    return features


def latent_directions(generator, z: torch.Tensor, labels: torch.Tensor, count: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(directions [count, Z] of unit length, explained variance ratio [count]) by PCA of the stem
    features and least squares of z on the PCA coordinates."""
    features = _stem_features(generator, z, labels)
    singular, components = _top_components(features, count)  # [count], [count, D]
    coordinates = features @ components.T  # [N, count]
    mapping = torch.linalg.lstsq(coordinates.double(), z.double()).solution  # [count, Z]: z ~ coordinates @ mapping
    directions = mapping / mapping.norm(dim=1, keepdim=True)
    explained = singular**2 / (features.double() ** 2).sum()
    return directions.float(), explained.float()


def _top_components(features: torch.Tensor, count: int, oversample: int = 10, iterations: int = 4) -> tuple[torch.Tensor, torch.Tensor]:
    """The top singular values and right singular vectors of features [N, D], by randomised
    subspace iteration (Halko et al. 2011) from a seeded sketch: a full SVD of [5000, 4704] takes
    far longer for the same ten components, and this leaves the global random state alone."""
    sketch = torch.randn(features.shape[1], min(count + oversample, *features.shape), generator=torch.Generator().manual_seed(0))
    basis = torch.linalg.qr(features @ sketch).Q  # [N, q]
    for _ in range(iterations):
        basis = torch.linalg.qr(features @ torch.linalg.qr(features.T @ basis).Q).Q
    _, singular, components = torch.linalg.svd(basis.T @ features, full_matrices=False)
    return singular[:count], components[:count]


def _images(generator, z: torch.Tensor, labels: torch.Tensor) -> np.ndarray:
    with torch.no_grad():
        return ((_run(generator, z, labels)[:, 0] + 1) / 2).clamp(0, 1).numpy()


def measure_direction(generator, judge, z: torch.Tensor, labels: torch.Tensor, base_images: np.ndarray,
                      base_measures: dict, base_reads: np.ndarray | None, direction: torch.Tensor) -> dict:
    """The effect of moving every base latent +-STEP_SD along `direction`."""
    plus = _images(generator, z + STEP_SD * direction, labels)
    minus = _images(generator, z - STEP_SD * direction, labels)
    after_plus, after_minus = image_measures(plus), image_measures(minus)
    effects = {
        m: float((after_plus[m] - after_minus[m]).mean() / (base_measures[m].std() + 1e-8)) for m in base_measures
    }
    change = np.concatenate([np.abs(plus - base_images), np.abs(minus - base_images)])
    figures = {
        "effects": {m: round(v, 4) for m, v in effects.items()},
        "mean_pixel_change": float(change.mean()),
        "pixels_changed": float((change > VISIBLE_PIXEL_CHANGE).mean()),
        "class_kept": None,
    }
    if judge is not None:
        labels_np = labels.numpy()
        read_right = base_reads == labels_np  # only moves from digits the CNN read right count
        plus_reads = judge.read(plus[:, None])[0].argmax(1)
        minus_reads = judge.read(minus[:, None])[0].argmax(1)
        kept = np.concatenate([(plus_reads == labels_np)[read_right], (minus_reads == labels_np)[read_right]])
        figures["class_kept"] = float(kept.mean()) if kept.size else 0.0
    return figures


def find(generator, judge=None, samples: int = 5000, measured: int = 200, candidates: int = 10, seed: int = 0) -> dict:
    """Directions for `generator` (eval mode), as a JSON-able dict. `judge` is a
    training.metrics.Judge (the exported CNN); without one no direction can be checked for keeping
    its class, and none is offered."""
    generator.eval()
    z_dim = generator.z_dim
    rng = torch.Generator().manual_seed(seed)
    z = torch.randn(samples, z_dim, generator=rng)
    labels = torch.arange(10).repeat_interleave(samples // 10 + 1)[:samples]
    candidates = min(candidates, z_dim)
    directions, explained = latent_directions(generator, z, labels, candidates)

    base_z = torch.randn(measured, z_dim, generator=rng)
    base_labels = torch.arange(10).repeat_interleave(measured // 10 + 1)[:measured]
    base_images = _images(generator, base_z, base_labels)
    base_measures = image_measures(base_images)
    base_reads = judge.read(base_images[:, None])[0].argmax(1) if judge is not None else None
    if base_reads is not None and not is_conditional(generator):
        base_labels = torch.as_tensor(base_reads)  # no digit was asked for: a move keeps the class if it keeps the reading

    found = []
    for index in range(candidates):
        figures = measure_direction(generator, judge, base_z, base_labels, base_images, base_measures, base_reads, directions[index])
        name, description, sign = name_direction(figures["effects"], index)
        if sign < 0:
            figures["effects"] = {m: -v for m, v in figures["effects"].items()}
        measure = next((m for m, (n, _) in MEANINGS.items() if n == name), None)
        found.append({
            "component": index, "name": name, "description": description, "measure": measure, "offered": False,
            "explained_variance": round(float(explained[index]), 5),
            **figures, "vector": [round(float(v), 6) for v in sign * directions[index]],
        })
    _choose_offered(found)
    _disambiguate([d for d in found if d["offered"]])
    return {
        "method": "GANSpace: PCA of the first feature map (Generator.stem, centred per class), z regressed on the PCA coordinates",
        "z_dim": z_dim, "samples": samples, "measured_on": measured, "step_sd": STEP_SD,
        "class_kept_min": CLASS_KEPT_MIN, "judged": judge is not None, "seed": seed,
        "directions": found,
    }


def _choose_offered(found: list[dict]) -> None:
    """Mark up to MAX_OFFERED directions that keep the class as offered, in PCA order, but a name
    already offered waits until every new name has had its turn: three sliders called "thickness"
    help less than thickness, slant and width."""
    keeps = [d for d in found if d["class_kept"] is not None and d["class_kept"] >= CLASS_KEPT_MIN]
    names, first_pass, repeats = set(), [], []
    for d in keeps:
        (repeats if d["name"] in names else first_pass).append(d)
        names.add(d["name"])
    for d in (first_pass + repeats)[:MAX_OFFERED]:
        d["offered"] = True


def _disambiguate(directions: list[dict]) -> None:
    """Two offered sliders must not share a name: number the repeats ("slant", "slant 2")."""
    seen: dict[str, int] = {}
    for d in directions:
        seen[d["name"]] = seen.get(d["name"], 0) + 1
        if seen[d["name"]] > 1:
            d["name"] = f"{d['name']} {seen[d['name']]}"


def store(onnx_path: str | Path, found: dict) -> None:
    """Write `found` into the .onnx file's metadata (key METADATA_KEY), replacing any earlier
    directions; inference.generator reads them from there."""
    model = onnx.load(str(onnx_path))
    entry = next((p for p in model.metadata_props if p.key == METADATA_KEY), None) or model.metadata_props.add()
    entry.key, entry.value = METADATA_KEY, json.dumps(found)
    onnx.save(model, str(onnx_path))
    onnx.checker.check_model(str(onnx_path), full_check=True)


def summary(found: dict) -> list[dict]:
    """The card's view: every candidate's figures without its vector."""
    return [{k: v for k, v in d.items() if k != "vector"} for d in found["directions"]]
