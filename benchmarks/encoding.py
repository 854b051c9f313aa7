"""Time the exported ONNX encoder in onnxruntime against the PyTorch encoder in eager mode, and write JSON.

Run from the repository root: `python -m benchmarks.encoding --help`.
"""

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime
import torch

from benchmarks.common import Report, check_at_least_one, check_device
from training.config import PRESETS, preset_config
from training.export.layout import ENCODER_INPUT, ENCODER_OUTPUT
from training.export.onnx_graphs import export_encoder, onnx_providers
from training.models import ACN, ModelConfig, OutputType

DEFAULT_OUTPUT = Path("benchmarks/results/encoding.json")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.encoding",
        description=(
            "Export the encoder of a randomly initialized preset model with the project's ONNX exporter, then "
            "time onnxruntime.InferenceSession.run against torch.no_grad() eager encoding on the same float32 "
            "inputs. The MNIST presets get 28x28 Bernoulli images with 1 channel, paper-cifar 32x32 colour "
            "images with 256 levels. Prints a table and writes JSON."
        ),
    )
    parser.add_argument("--presets", nargs="+", default=["cpu", "paper-mnist"], choices=sorted(PRESETS),
                        help="presets whose encoder is timed (default: cpu paper-mnist)")
    parser.add_argument("--batches", nargs="+", type=int, default=[1, 256],
                        help="images encoded per call (default: 1 256)")
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cpu",
                        help="where PyTorch runs; onnxruntime uses its CUDA provider only where it is installed")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch CPU threads, also given to onnxruntime as intra-op threads "
                             "(default: torch's own choice, printed in the results)")
    parser.add_argument("--repeats", type=int, default=20,
                        help="timed calls per case; the median is reported (default: 20)")
    parser.add_argument("--warmup", type=int, default=3, help="untimed calls before timing each case (default: 3)")
    parser.add_argument("--seed", type=int, default=0, help="seed for the weights and the input images")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT,
                        help=f"JSON file for the results (default: {DEFAULT_OUTPUT})")
    return parser


def validate_args(args: argparse.Namespace) -> None:
    # Without onnxruntime's CUDA provider, the ONNX side stays on the CPU under --device cuda.
    check_device(args.device)
    check_at_least_one(args, ["repeats", "threads"])
    if args.warmup < 0:
        raise SystemExit(f"--warmup must be 0 or more, got {args.warmup}")
    if any(batch < 1 for batch in args.batches):
        raise SystemExit(f"--batches must all be at least 1, got {args.batches}")


def model_config(preset: str) -> ModelConfig:
    """Return the preset's model shape with the image type it is trained on in this project."""
    config = preset_config(preset).model
    # The CIFAR preset already names 32x32 colour images, which have 256 levels per sub-pixel.
    if config.image_channels == 3:
        config.output_type = OutputType.CATEGORICAL
    return config


def random_pixels(config: ModelConfig, batch: int, rng: np.random.Generator) -> np.ndarray:
    """Return random float32 pixel levels (B, C, H, W): 0/1 for Bernoulli images, else 0..255."""
    shape = (batch, config.image_channels, config.image_size, config.image_size)
    return rng.integers(0, config.output_type.levels, size=shape).astype(np.float32)  # (B, C, H, W)


def open_timed_session(path: Path, device: torch.device, threads: int) -> onnxruntime.InferenceSession:
    """Open the ONNX graph with as many intra-op threads as torch uses, so that both get the same cores."""
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    return onnxruntime.InferenceSession(str(path), sess_options=options, providers=onnx_providers(device))


def time_median(function: Callable[[], Any], device: str, warmup: int, repeats: int) -> tuple[float, Any]:
    """Return the median wall-clock seconds of `repeats` calls after `warmup` untimed ones, and the last result."""
    for _ in range(warmup):
        function()
    seconds = []
    result = None
    for _ in range(repeats):
        if device == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        result = function()
        if device == "cuda":
            torch.cuda.synchronize()
        seconds.append(time.perf_counter() - start)
    return statistics.median(seconds), result


def measure(args: argparse.Namespace, preset: str, model: ACN, session: onnxruntime.InferenceSession,
            batch: int) -> dict[str, Any]:
    """Time both runtimes on one batch size and compare their codes."""
    rng = np.random.default_rng(args.seed + batch)
    pixels = random_pixels(model.config, batch, rng)  # (B, C, H, W) float32
    tensor = torch.from_numpy(pixels).to(args.device)  # (B, C, H, W), moved before timing

    def run_eager() -> torch.Tensor:
        with torch.no_grad():
            return model.encode(tensor)  # (B, D)

    def run_onnx() -> np.ndarray:
        (codes,) = session.run([ENCODER_OUTPUT], {ENCODER_INPUT: pixels})
        return codes  # (B, D)

    eager_seconds, eager_codes = time_median(run_eager, args.device, args.warmup, args.repeats)
    onnx_seconds, onnx_codes = time_median(run_onnx, "cpu", args.warmup, args.repeats)
    eager_codes = eager_codes.cpu().numpy()
    return {
        "preset": preset,
        "batch": batch,
        "eager_seconds": eager_seconds,
        "onnx_seconds": onnx_seconds,
        "eager_images_per_second": batch / eager_seconds,
        "onnx_images_per_second": batch / onnx_seconds,
        "onnx_speedup": eager_seconds / onnx_seconds,
        "max_abs_difference": float(np.abs(eager_codes - onnx_codes).max()),
        "max_abs_code": float(np.abs(eager_codes).max()),
    }


def measure_preset(args: argparse.Namespace, preset: str) -> tuple[list[dict[str, Any]], list[str]]:
    """Export one preset's encoder to a temporary directory and time it at every batch size."""
    torch.manual_seed(args.seed)
    model = ACN(model_config(preset)).eval()
    with tempfile.TemporaryDirectory(prefix="acn-encoding-") as directory:
        path = Path(directory) / "encoder.onnx"
        export_encoder(model, path)  # before moving to --device, because the exporter's example input is on the CPU
        model.to(args.device)
        session = open_timed_session(path, torch.device(args.device), torch.get_num_threads())
        rows = []
        for batch in args.batches:
            rows.append(measure(args, preset, model, session, batch))
            print(f"measured {preset} at batch {batch}", file=sys.stderr, flush=True)
    return rows, session.get_providers()


def print_table(results: list[dict[str, Any]]) -> None:
    header = (f"{'preset':<12} {'batch':>5} {'eager img/s':>12} {'onnx img/s':>11} {'onnx/eager':>10} "
              f"{'max |diff|':>10} {'max |code|':>10}")
    print(header)
    print("-" * len(header))
    for row in results:
        print(
            f"{row['preset']:<12} {row['batch']:>5} {row['eager_images_per_second']:>12.1f} "
            f"{row['onnx_images_per_second']:>11.1f} {row['onnx_speedup']:>9.2f}x "
            f"{row['max_abs_difference']:>10.2e} {row['max_abs_code']:>10.3g}"
        )


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    validate_args(args)
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    report = Report("benchmarks.encoding", argv, args.device)
    results: list[dict[str, Any]] = []
    providers: dict[str, list[str]] = {}
    for preset in args.presets:
        rows, providers[preset] = measure_preset(args, preset)
        results.extend(rows)
    print_table(results)
    print(f"onnxruntime providers: {providers}")
    report.write(args.output, {
        "device": args.device,
        "onnxruntime_version": onnxruntime.__version__,
        "onnxruntime_providers": providers,
        "onnxruntime_intra_op_threads": torch.get_num_threads(),
        "warmup": args.warmup,
        "repeats": args.repeats,
        "results": results,
    })
    return 0


if __name__ == "__main__":
    sys.exit(main())
