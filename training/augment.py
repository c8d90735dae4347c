"""Batched, differentiable augmentations on the training device: each image gets its own random
draw in one grid_sample call, so they cost next to nothing on a GPU and keep gradients for the GAN."""
import math

import torch
import torch.nn.functional as F


def random_affine(images: torch.Tensor, rotate_deg=0.0, scale=(1.0, 1.0), shear_deg=0.0, shift=0.0) -> torch.Tensor:
    """Rotate, rescale, shear and shift each image by its own random amount (shift is a fraction of
    the side). Pixels from outside the frame are background (zero)."""
    n = images.shape[0]

    def uniform(low, high):
        return torch.empty(n, device=images.device).uniform_(low, high)

    angle = uniform(-rotate_deg, rotate_deg) * (math.pi / 180)
    shear = torch.tan(uniform(-shear_deg, shear_deg) * (math.pi / 180))
    zoom = 1.0 / uniform(*scale)  # affine_grid maps output to input coordinates: zoom in = shrink
    cos, sin = torch.cos(angle) * zoom, torch.sin(angle) * zoom
    theta = torch.stack(
        [
            torch.stack([cos, -sin + shear * cos, uniform(-2 * shift, 2 * shift)], dim=1),
            torch.stack([sin, cos + shear * sin, uniform(-2 * shift, 2 * shift)], dim=1),
        ],
        dim=1,
    ).to(images.dtype)
    grid = F.affine_grid(theta, list(images.shape), align_corners=False)
    return F.grid_sample(images, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


def _window3(images: torch.Tensor, reduce, fill: float) -> torch.Tensor:
    """The max (reduce=torch.maximum) or min of each pixel's 3x3 neighbourhood, the frame ignored:
    four elementwise ops on shifted views, where max_pool2d on one-channel images is ten times slower."""
    padded = F.pad(images, (1, 1, 1, 1), value=fill)
    rows = reduce(reduce(padded[:, :, :-2], padded[:, :, 1:-1]), padded[:, :, 2:])
    return reduce(reduce(rows[..., :-2], rows[..., 1:-1]), rows[..., 2:])


def random_pen(images: torch.Tensor) -> torch.Tensor:
    """Redraw each digit with a thinner or thicker pen: erode or dilate at twice the resolution, so
    strokes change by half a pixel at a time, from hairline to marker (a 5x5 window is two 3x3s)."""
    big = F.interpolate(images, scale_factor=2, mode="bilinear", align_corners=False)
    thin, thick = _window3(big, torch.minimum, math.inf), _window3(big, torch.maximum, -math.inf)
    candidates = torch.stack(
        [
            _window3(thin, torch.minimum, math.inf),  # hairline
            thin,
            big,
            thick,
            _window3(thick, torch.maximum, -math.inf),  # marker
        ]
    )  # [5,N,1,56,56]
    choice = torch.randint(0, len(candidates), (images.shape[0],), device=images.device)
    picked = candidates[choice, torch.arange(images.shape[0], device=images.device)]
    return F.avg_pool2d(picked, 2)


def canvas_like(images: torch.Tensor, share: float = 1.0) -> torch.Tensor:
    """How people draw on a canvas, after the app has cropped and centred it: any pen, a little
    rotation, slant, size and position change. Each image is redrawn with probability `share`; the
    rest stay as they were written. The whole batch's redrawn images go through in one call each."""

    def redrawn(chosen: torch.Tensor) -> torch.Tensor:
        return random_affine(random_pen(chosen), rotate_deg=15, scale=(0.8, 1.15), shear_deg=20, shift=0.08)

    if share >= 1:
        return redrawn(images)
    picked = (torch.rand(images.shape[0], device=images.device) < share).nonzero().squeeze(1)
    return images.index_copy(0, picked, redrawn(images[picked])) if len(picked) else images


def translate(images: torch.Tensor, shift: float = 0.1) -> torch.Tensor:
    """DiffAugment's translation for the GAN's discriminator (differentiable)."""
    return random_affine(images, shift=shift)
