"""Time the plain and the cached PixelCNN samplers on the preset decoders and write the results as JSON.

Run from the repository root: `python -m benchmarks.sampling --help`.
"""

import argparse
import functools
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from benchmarks.common import Report, check_at_least_one, check_device
from training.config import PRESETS, preset_config
from training.models import GatedPixelCNN, OutputType
from training.models.cached_sampler import sample_cached

IMAGE_SIZE = 28
DEFAULT_OUTPUT = Path("benchmarks/results/sampling.json")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.sampling",
        description=(
            "Time GatedPixelCNN.sample (plain: the whole network per sub-pixel) against sample_cached on "
            f"randomly initialized preset decoders for {IMAGE_SIZE}x{IMAGE_SIZE} Bernoulli images with 1 channel. "
            "Prints a table and writes JSON."
        ),
    )
    parser.add_argument("--presets", nargs="+", default=["cpu", "paper-mnist"], choices=sorted(PRESETS),
                        help="presets whose decoder shape is timed (default: cpu paper-mnist)")
    parser.add_argument("--batches", nargs="+", type=int, default=[1, 8],
                        help="numbers of images drawn at once (default: 1 8)")
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cpu", help="where both samplers run")
    parser.add_argument("--dtype", choices=["float32", "float64"], default="float32",
                        help="decoder precision (default: float32, as the product uses)")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch CPU threads (default: torch's own choice, printed in the results)")
    parser.add_argument("--repeats", type=int, default=1,
                        help="timed runs per sampler; the median is reported (default: 1)")
    parser.add_argument("--plain-rows", type=int, default=None,
                        help=f"time the plain sampler on only this many of the {IMAGE_SIZE} rows and scale its "
                             "time to the whole image, which is exact up to noise because every sub-pixel "
                             "costs one full forward pass (default: all rows, by calling GatedPixelCNN.sample)")
    parser.add_argument("--seed", type=int, default=0, help="seed for the weights, codes and uniforms")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT,
                        help=f"JSON file for the results (default: {DEFAULT_OUTPUT})")
    return parser


def validate_args(args: argparse.Namespace) -> None:
    check_device(args.device)
    check_at_least_one(args, ["repeats", "threads"])
    if any(batch < 1 for batch in args.batches):
        raise SystemExit(f"--batches must all be at least 1, got {args.batches}")
    if args.plain_rows is not None and not 1 <= args.plain_rows <= IMAGE_SIZE:
        raise SystemExit(f"--plain-rows must be between 1 and {IMAGE_SIZE}, got {args.plain_rows}")


def build_decoder(preset: str, device: str, dtype: torch.dtype, seed: int) -> GatedPixelCNN:
    """Build the preset's decoder for 28x28 Bernoulli images with 1 channel, randomly initialized."""
    config = preset_config(preset).model
    config.image_size = IMAGE_SIZE
    config.image_channels = 1
    config.output_type = OutputType.BERNOULLI
    torch.manual_seed(seed)
    return GatedPixelCNN(config).to(device=device, dtype=dtype).eval()


@torch.no_grad()
def sample_plain_rows(decoder: GatedPixelCNN, z: torch.Tensor, uniforms: torch.Tensor, rows: int) -> torch.Tensor:
    """Run a copy of GatedPixelCNN.sample's loop that stops after `rows` rows, leaving later rows 0.

    sample() always draws the whole image, which takes minutes for the larger decoders.
    """
    batch, channels, height, width = uniforms.shape
    images = torch.zeros(batch, channels, height, width, device=uniforms.device)
    for i in range(rows):
        for j in range(width):
            for c in range(channels):
                logits = decoder(images, z)
                images[:, c, i, j] = decoder.draw_level(logits, c, i, j, uniforms[:, c, i, j])
    return images


def time_call(function: Callable[[], torch.Tensor], device: str, repeats: int) -> tuple[float, torch.Tensor]:
    """Return the median wall-clock seconds of `repeats` calls and the last call's result."""
    seconds = []
    for _ in range(repeats):
        if device == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        result = function()
        if device == "cuda":
            torch.cuda.synchronize()
        seconds.append(time.perf_counter() - start)
    return statistics.median(seconds), result


def measure(args: argparse.Namespace, preset: str, batch: int) -> dict[str, Any]:
    """Time both samplers on one decoder and batch size and compare their images."""
    dtype = getattr(torch, args.dtype)
    decoder = build_decoder(preset, args.device, dtype, args.seed)
    generator = torch.Generator().manual_seed(args.seed + 1)
    code_size = preset_config(preset).model.code_size
    z = torch.randn(batch, code_size, generator=generator).to(args.device, dtype)  # (B, D)
    uniforms = torch.rand(batch, 1, IMAGE_SIZE, IMAGE_SIZE, generator=generator).to(args.device)  # (B, 1, H, W)

    rows = args.plain_rows or IMAGE_SIZE
    if rows == IMAGE_SIZE:
        plain_seconds, plain = time_call(lambda: decoder.sample(z, uniforms), args.device, args.repeats)
    else:
        plain_run = functools.partial(sample_plain_rows, decoder, z, uniforms, rows)
        plain_seconds, plain = time_call(plain_run, args.device, args.repeats)
        plain_seconds *= IMAGE_SIZE / rows
    cached_seconds, cached = time_call(lambda: sample_cached(decoder, z, uniforms), args.device, args.repeats)

    differing = int((plain[:, :, :rows] != cached[:, :, :rows]).sum())
    return {
        "decoder": preset,
        "batch": batch,
        "plain_seconds": plain_seconds,
        "plain_rows_timed": rows,
        "cached_seconds": cached_seconds,
        "plain_images_per_second": batch / plain_seconds,
        "cached_images_per_second": batch / cached_seconds,
        "speedup": plain_seconds / cached_seconds,
        "compared_subpixels": batch * rows * IMAGE_SIZE,
        "differing_subpixels": differing,
    }


def print_table(results: list[dict[str, Any]]) -> None:
    header = f"{'decoder':<12} {'batch':>5} {'plain img/s':>12} {'cached img/s':>13} {'speed-up':>9} {'differing':>10}"
    print(header)
    print("-" * len(header))
    for row in results:
        print(
            f"{row['decoder']:<12} {row['batch']:>5} {row['plain_images_per_second']:>12.3f} "
            f"{row['cached_images_per_second']:>13.2f} {row['speedup']:>8.1f}x "
            f"{row['differing_subpixels']:>4}/{row['compared_subpixels']}"
        )


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    validate_args(args)
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    report = Report("benchmarks.sampling", argv, args.device)
    results = []
    for preset in args.presets:
        for batch in args.batches:
            results.append(measure(args, preset, batch))
            print(f"measured {preset} at batch {batch}", file=sys.stderr, flush=True)
    print_table(results)
    report.write(args.output, {"device": args.device, "dtype": args.dtype, "repeats": args.repeats, "results": results})
    return 0


if __name__ == "__main__":
    sys.exit(main())
