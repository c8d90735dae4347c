"""What both training loops share: the device, DistributedDataParallel under torchrun, seeding,
the progress event they yield, and checkpoints written aside then moved into place."""
import contextlib
import ctypes
import ctypes.util
import os
import random
import time
from collections import defaultdict
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Callable

import numpy as np
import torch
import torch.distributed as dist
from torch.optim.swa_utils import AveragedModel

from inference import memory


@dataclass
class Progress:
    """One event of a training run: the loops yield one per optimiser step."""

    step: int
    total_steps: int
    epoch: int
    losses: dict[str, float]  # this step's training losses
    elapsed: float  # seconds since the run started
    snapshot: Callable[[], dict]  # a checkpoint of the run as it stands; call it before the next event
    epoch_end: bool = False  # the last step of an epoch (or of the run): metrics and samples are set
    metrics: dict[str, float] = field(default_factory=dict)  # held-out figures
    samples: np.ndarray | None = None  # GAN only: the fixed-latent grid [100,28,28] in [0,1]
    # GAN only, with samples: D's output on each grid sample [100] (bce: a probability; hinge: the raw score)
    sample_scores: np.ndarray | None = None
    # CNN only, every few steps: each weight layer's gradient norm, input side first
    # ([{"name", "kind", "shape", "gradient_norm"}], training/layer_gradients.py)
    gradients: list[dict] | None = None
    # GAN only, with samples: each sample's dL_G/dx [100,28,28] (train_gan.pixel_gradients)
    sample_gradients: np.ndarray | None = None
    # GAN only, a step a visitor asked for (training/turns.py): {"side": "d"|"g"|"both",
    # "moved": {"generator": norm of its weights' change, "discriminator": ...}}
    turn: dict | None = None


class Phases:
    """Seconds spent in each named part of the training steps, for benchmarks/train_profile.py.
    A loop given none times nothing (`untimed`); on a GPU each phase waits for its kernels, so
    the time lands where the work was queued."""

    def __init__(self, device: torch.device | None = None):
        self.seconds: dict[str, float] = defaultdict(float)
        self.sync = device is not None and device.type == "cuda"

    @contextlib.contextmanager
    def __call__(self, name: str):
        if self.sync:
            torch.cuda.synchronize()
        started = time.perf_counter()
        try:
            yield
        finally:
            if self.sync:
                torch.cuda.synchronize()
            self.seconds[name] += time.perf_counter() - started


_NOTHING = contextlib.nullcontext()


def untimed(name: str):
    return _NOTHING


def timed(items, phase, name: str):
    """`items`, with the time each takes to come counted under `name`."""
    iterator, end = iter(items), object()
    while True:
        with phase(name):
            item = next(iterator, end)
        if item is end:
            return
        yield item


@dataclass
class Runtime:
    device: torch.device
    rank: int = 0
    world: int = 1
    started: float = field(default_factory=time.perf_counter)

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def autocast(self):
        """bf16 mixed precision (no loss scaling needed; the weights and their updates stay float32)
        on CUDA, and on a CPU that does bf16 arithmetic itself (cpu_bf16); full precision elsewhere."""
        enabled = self.device.type == "cuda" or (self.device.type == "cpu" and cpu_bf16())
        return torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=enabled)

    def elapsed(self) -> float:
        return time.perf_counter() - self.started

    def wrap(self, module: torch.nn.Module) -> torch.nn.Module:
        """DistributedDataParallel under torchrun, the module itself otherwise."""
        if self.world == 1:
            return module
        ids = [self.device.index] if self.device.type == "cuda" else None
        return torch.nn.parallel.DistributedDataParallel(module, device_ids=ids)

    def mean(self, value: float) -> float:
        """Average a figure over all processes (each evaluates its own shard)."""
        if self.world == 1:
            return value
        t = torch.tensor([value], dtype=torch.float64, device=self.device)
        dist.all_reduce(t)
        return t.item() / self.world


def cpu_bf16() -> bool:
    """Whether CPU training computes its convolutions and matrix products in bf16: where the CPU has
    bf16 instructions (AVX512-BF16 or AMX; oneDNN emulates them elsewhere, slower than float32),
    unless DIGIT_LAB_CPU_BF16=0. Measured here (AVX512-BF16, 2 threads): 1.23-1.49x the steps a
    second of float32 for the four loops (python -m benchmarks.train_profile --recipe fp32 new); the
    CNN's best held-out accuracy within its seed spread, the GAN at its shipped bar in as many steps
    (python -m benchmarks.train --recipe fp32 new)."""
    wanted = os.environ.get("DIGIT_LAB_CPU_BF16", "auto").strip().lower()
    if wanted in ("0", "false", "no", "off"):
        return False
    return torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported()


def pick_device(name: str) -> torch.device:
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda" and not torch.cuda.is_available():
        raise ValueError("--device cuda asked for, but no CUDA GPU is visible; use --device cpu or auto")
    if name not in ("cpu", "cuda"):
        raise ValueError(f"unknown device {name!r}; choose auto, cpu or cuda")
    return torch.device(name)


def start(device: str, seed: int) -> Runtime:
    """Set up this process: under torchrun join the process group (gloo on the CPU, NCCL on GPUs),
    one GPU per local rank; seed everything so a run can be repeated."""
    chosen = pick_device(device)
    rank, world = int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1))
    if world > 1 and not dist.is_initialized():
        dist.init_process_group("nccl" if chosen.type == "cuda" else "gloo")
    if chosen.type == "cuda":
        chosen = torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)) % torch.cuda.device_count())
        torch.cuda.set_device(chosen)
    random.seed(seed + rank)
    np.random.seed(seed + rank)
    torch.manual_seed(seed + rank)
    return Runtime(chosen, rank, world)


def place(module: torch.nn.Module, device: torch.device, channels_last: bool = False) -> torch.nn.Module:
    """`module` on `device`, its 4-D weights stored channels-last if asked (the images follow them
    through the first convolution)."""
    module = module.to(device)
    return module.to(memory_format=torch.channels_last) if channels_last else module


M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3  # glibc's mallopt options
TRAINING_MMAP_THRESHOLD = 32 * 2**20  # glibc's largest: a step's activations (0.1-6 MiB each) stay in the heap


def _mallopt():
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # not glibc
        return None
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    return mallopt


@contextlib.contextmanager
def reused_buffers(device: torch.device):
    """While a CPU run trains, the buffers of one step are reused by the next. PyTorch's CPU
    allocator is malloc, and glibc maps every block above its threshold (128 KiB at its start; 4
    MiB in the serving process, inference/memory.py) afresh and hands it back when freed, so each
    step faulted in its activations' pages anew: 2,400 page faults and a quarter of a step's time
    for our CNN. Afterwards the serving thresholds come back."""
    mallopt = _mallopt() if device.type == "cpu" else None
    if mallopt is None:
        yield
        return
    mallopt(M_MMAP_THRESHOLD, TRAINING_MMAP_THRESHOLD)
    mallopt(M_TRIM_THRESHOLD, 4 * TRAINING_MMAP_THRESHOLD)
    try:
        yield
    finally:
        mallopt(M_MMAP_THRESHOLD, memory.MMAP_THRESHOLD)
        mallopt(M_TRIM_THRESHOLD, memory.TRIM_THRESHOLD)


def adam(module: torch.nn.Module, decoupled: bool = False, **options) -> torch.optim.Optimizer:
    """Adam (AdamW if `decoupled`) over `module`'s parameters, with torch's fused kernel where it
    has one for the device (CPU from torch 2.4, CUDA): one pass over all the weights, not a few
    small ops per tensor. The same algorithm and state, so checkpoints load either way."""
    kind = torch.optim.AdamW if decoupled else torch.optim.Adam
    parameters = list(module.parameters())
    try:
        return kind(parameters, fused=True, **options)
    except (RuntimeError, TypeError, ValueError):  # an older torch, or a device without the kernel
        return kind(parameters, **options)


def unwrap(module: torch.nn.Module) -> torch.nn.Module:
    return getattr(module, "module", module)


def save_checkpoint(checkpoint: dict, path: str | Path) -> Path:
    """Write aside, then move into place: a crash mid-write never leaves a torn checkpoint."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".tmp")
    torch.save(checkpoint, partial)
    os.replace(partial, path)
    return path


class CheckpointError(RuntimeError):
    pass


def load_checkpoint(path: str | Path, kind: str | None = None) -> dict:
    """A checkpoint written by save_checkpoint, or a one-line CheckpointError saying what is wrong."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"no checkpoint at {path}")
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:
        raise CheckpointError(f"{path} is not a readable checkpoint ({type(error).__name__})") from None
    if not isinstance(checkpoint, dict) or checkpoint.get("kind") not in ("cnn", "gan"):
        raise CheckpointError(f"{path} is not a Digit Lab checkpoint (no 'kind' of cnn or gan)")
    if kind and checkpoint["kind"] != kind:
        raise CheckpointError(f"{path} holds a {checkpoint['kind']} checkpoint, not a {kind} one")
    return checkpoint


def is_main_process() -> bool:
    return not dist.is_initialized() or dist.get_rank() == 0


def finish() -> None:
    """Leave the process group, if this process joined one."""
    if dist.is_initialized():
        dist.destroy_process_group()


def warmed_decay(decay: float, updates: int) -> float:
    """The EMA's decay warms up, (1+n)/(10+n), so short runs are not dominated by the random first weights."""
    return min(decay, (1 + updates) / (10 + updates))


@torch.no_grad()
def ema_update_all(averages: list[torch.Tensor], currents: list[torch.Tensor], updates: torch.Tensor, decay: float) -> None:
    """Move a group of averaged tensors (one device and dtype) towards the model's: one lerp
    kernel for all the floating ones, not a few small ops and a read of the step count each."""
    warm = warmed_decay(decay, updates.item())
    if averages[0].is_floating_point():
        torch._foreach_lerp_(averages, currents, 1 - warm)
    else:  # integer buffers (batch norm's count), rounded down as copy_ does
        for average, current in zip(averages, currents):
            average.copy_(warm * average + (1 - warm) * current)


def moving_average(model: torch.nn.Module, decay: float) -> AveragedModel:
    """A copy of `model` that follows its weights (and batch-norm statistics) as an EMA."""
    return AveragedModel(model, multi_avg_fn=partial(ema_update_all, decay=decay), use_buffers=True)
