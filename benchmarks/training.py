"""Time training steps of each preset beside the machine's measured float32 matrix-multiply rate, and write JSON.

Run from the repository root: `python -m benchmarks.training --help`.
"""

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.flop_counter import FlopCounterMode

from benchmarks.common import Report, check_at_least_one, check_device
from training.config import PRESETS, TrainConfig, preset_config
from training.data import ImageDataset, load_dataset
from training.data.splits import make_splits
from training.models import OutputType
from training.train import Trainer

DEFAULT_OUTPUT = Path("benchmarks/results/training.json")
SYNTHETIC = "synthetic"
SYNTHETIC_IMAGES = 1000
MATMUL_SIZE = 2048


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.training",
        description=(
            "Time training.train.Trainer.train_step (forward, backward, optimizer step, Polyak averaging, code table "
            "update and neighbour search) for each preset from a fresh initialization, and measure the machine's float32 "
            f"torch.mm rate on {MATMUL_SIZE}x{MATMUL_SIZE} matrices in the same run. The MNIST presets train "
            "on --data; paper-cifar always trains on random 32x32 colour images with 256 levels, because no "
            "CIFAR-10 copy ships with the project. Prints a table and writes JSON."
        ),
    )
    parser.add_argument("--presets", nargs="+", default=["cpu", "paper-mnist"], choices=sorted(PRESETS),
                        help="presets to time (default: cpu paper-mnist)")
    parser.add_argument("--data", default="mnist-5k",
                        help=f"data set for the MNIST presets: a name or path that load_dataset accepts, or "
                             f"'{SYNTHETIC}' for {SYNTHETIC_IMAGES} random binary 28x28 images (default: mnist-5k)")
    parser.add_argument("--batch-size", type=int, default=None,
                        help="images per step for every preset (default: each preset's own batch size)")
    parser.add_argument("--steps", type=int, default=20,
                        help="timed steps per preset at most; the median step time is reported (default: 20)")
    parser.add_argument("--warmup-steps", type=int, default=1,
                        help="untimed steps per preset before timing, besides the one that counts FLOPs (default: 1)")
    parser.add_argument("--max-seconds", type=float, default=60.0,
                        help="stop timing a preset after this many seconds, keeping at least 2 steps (default: 60)")
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cpu", help="where training and torch.mm run")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch CPU threads (default: torch's own choice, printed in the results)")
    parser.add_argument("--seed", type=int, default=0, help="seed for the weights, batches and synthetic images")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT,
                        help=f"JSON file for the results (default: {DEFAULT_OUTPUT})")
    return parser


def validate_args(args: argparse.Namespace) -> None:
    check_device(args.device)
    check_at_least_one(args, ["batch_size", "steps", "threads"])
    if args.warmup_steps < 0:
        raise SystemExit(f"--warmup-steps must be 0 or more, got {args.warmup_steps}")
    if args.max_seconds <= 0:
        raise SystemExit(f"--max-seconds must be positive, got {args.max_seconds}")


def synchronize(device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()


def matmul_gflops(device: str, repeats: int = 5) -> float:
    """Return the median float32 rate of torch.mm on two 2048x2048 matrices, in GFLOP/s (2 n^3 FLOPs per product)."""
    generator = torch.Generator().manual_seed(0)
    a = torch.randn(MATMUL_SIZE, MATMUL_SIZE, generator=generator).to(device)  # (n, n)
    b = torch.randn(MATMUL_SIZE, MATMUL_SIZE, generator=generator).to(device)  # (n, n)
    torch.mm(a, b)
    seconds = []
    for _ in range(repeats):
        synchronize(device)
        start = time.perf_counter()
        torch.mm(a, b)
        synchronize(device)
        seconds.append(time.perf_counter() - start)
    return 2 * MATMUL_SIZE**3 / statistics.median(seconds) / 1e9


def synthetic_dataset(channels: int, size: int, output_type: OutputType, seed: int) -> ImageDataset:
    """Return SYNTHETIC_IMAGES random images (N, C, H, W) with the project's fixed split and no labels."""
    rng = np.random.default_rng(seed)
    shape = (SYNTHETIC_IMAGES, channels, size, size)
    images = rng.integers(0, output_type.levels, size=shape, dtype=np.uint8)  # (N, C, H, W)
    raw = images * 255 if output_type is OutputType.BERNOULLI else images
    return ImageDataset(
        name=SYNTHETIC,
        images=images,
        raw_images=raw,
        labels=None,
        class_names=None,
        output_type=output_type,
        indices=make_splits(SYNTHETIC_IMAGES, None),
    )


def preset_dataset(config: TrainConfig, data: str, seed: int) -> ImageDataset:
    """Return the data a preset trains on here: random colour images for paper-cifar, else `data`."""
    if config.model.image_channels == 3:
        return synthetic_dataset(3, config.model.image_size, OutputType.CATEGORICAL, seed)
    if data == SYNTHETIC:
        return synthetic_dataset(1, config.model.image_size, OutputType.BERNOULLI, seed)
    return load_dataset(data, image_size=config.model.image_size, binarize=config.binarize)


def count_step_flops(trainer: Trainer, ids: np.ndarray) -> float:
    """Run one training step under FlopCounterMode and return the FLOPs it counted (matmuls and convolutions)."""
    with FlopCounterMode(display=False) as counter:
        trainer.train_step(ids)
    return float(counter.get_total_flops())


def measure(args: argparse.Namespace, preset: str, run_dir: Path) -> dict[str, Any]:
    """Build a fresh Trainer for one preset and time its training steps."""
    config = preset_config(preset)
    config.device = args.device
    config.seed = args.seed
    if args.batch_size is not None:
        config.batch_size = args.batch_size
    dataset = preset_dataset(config, args.data, args.seed)
    trainer = Trainer(config, dataset, run_dir)
    rng = np.random.default_rng(args.seed)
    batch_size = min(config.batch_size, len(trainer.images))

    def next_ids() -> np.ndarray:
        return rng.choice(len(trainer.images), size=batch_size, replace=False)

    flops = count_step_flops(trainer, next_ids())
    for _ in range(args.warmup_steps):
        trainer.train_step(next_ids())
    seconds: list[float] = []
    started = time.perf_counter()
    while len(seconds) < args.steps and (len(seconds) < 2 or time.perf_counter() - started < args.max_seconds):
        ids = next_ids()
        synchronize(args.device)
        start = time.perf_counter()
        trainer.train_step(ids)
        synchronize(args.device)
        seconds.append(time.perf_counter() - start)
    step_seconds = statistics.median(seconds)
    return {
        "preset": preset,
        "data": dataset.name,
        "image_shape": list(dataset.image_shape),
        "output_type": dataset.output_type.value,
        "batch_size": batch_size,
        "steps_timed": len(seconds),
        "step_seconds": step_seconds,
        "images_per_second": batch_size / step_seconds,
        "step_flops": flops,
        "achieved_gflops": flops / step_seconds / 1e9,
    }


def print_table(results: list[dict[str, Any]], matmul: float) -> None:
    header = (f"{'preset':<12} {'data':<10} {'batch':>5} {'steps':>5} {'step s':>8} {'img/s':>8} "
              f"{'GFLOP/step':>10} {'GFLOP/s':>8} {'of mm':>6}")
    print(header)
    print("-" * len(header))
    for row in results:
        print(
            f"{row['preset']:<12} {row['data']:<10} {row['batch_size']:>5} {row['steps_timed']:>5} "
            f"{row['step_seconds']:>8.3f} {row['images_per_second']:>8.1f} {row['step_flops'] / 1e9:>10.2f} "
            f"{row['achieved_gflops']:>8.2f} {row['achieved_gflops'] / matmul:>6.1%}"
        )
    print(f"torch.mm {MATMUL_SIZE}x{MATMUL_SIZE} float32: {matmul:.1f} GFLOP/s")


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    validate_args(args)
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    report = Report("benchmarks.training", argv, args.device)
    matmul_before = matmul_gflops(args.device)
    results = []
    with tempfile.TemporaryDirectory(prefix="acn-training-benchmark-") as directory:
        for preset in args.presets:
            results.append(measure(args, preset, Path(directory) / preset))
            print(f"measured {preset}", file=sys.stderr, flush=True)
    # Measured before and after the presets, because other jobs on a shared machine change the rate.
    matmul_after = matmul_gflops(args.device)
    print_table(results, statistics.fmean([matmul_before, matmul_after]))
    report.write(args.output, {
        "device": args.device,
        "warmup_steps": args.warmup_steps,
        "matmul_gflops_before": matmul_before,
        "matmul_gflops_after": matmul_after,
        "results": results,
    })
    return 0


if __name__ == "__main__":
    sys.exit(main())
