"""Time one daydream frame of a trained model: encode, draw z from p(z|c), cached decode of one image.

Run from the repository root: `python -m benchmarks.daydream --help`.
"""

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from benchmarks.common import Report
from training.checkpoint import load_averaged_model
from training.data import Split, load_dataset
from training.export import load_bundle
from training.models import MixtureParams
from training.models.cached_sampler import sample_cached
from training.models.prior import sample_mixture
from training.sampling import daydream

DEFAULT_OUTPUT = Path("benchmarks/results/daydream.json")
FrameRunner = Callable[[np.ndarray, torch.Generator], np.ndarray]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.daydream",
        description=(
            "Time daydream frames of one test image. The run path is training.sampling.daydream on the "
            "PyTorch model. The bundle path is what the server does per frame: onnxruntime encoder and "
            "prior, then the cached sampler on the bundle's decoder. Prints a table and writes JSON."
        ),
    )
    parser.add_argument("run", type=Path, help="run directory with checkpoint.pt, e.g. runs/default")
    parser.add_argument("--bundle", type=Path, help="also time the server's path on this bundle, e.g. bundles/default")
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2], help="torch thread counts to time (default: 1 2)")
    parser.add_argument("--chains", type=int, default=5, help="chains timed per path and thread count (default: 5)")
    parser.add_argument("--length", type=int, default=10, help="frames per chain (default: 10)")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, help=f"JSON file for the results (default: {DEFAULT_OUTPUT})")
    return parser


def run_path(run: Path) -> tuple[FrameRunner, np.ndarray]:
    """Return a frame runner on the run's averaged PyTorch model and the first test image."""
    model, config, _ = load_averaged_model(run)
    dataset = load_dataset(config.data, image_size=config.model.image_size, binarize=config.binarize)
    start = dataset.part(Split.TEST)[0][:1]

    def frame(image: np.ndarray, generator: torch.Generator) -> np.ndarray:
        return daydream(model, image, 1, generator).images[:, -1]

    return frame, start


def bundle_path(bundle_dir: Path) -> FrameRunner:
    """Return a frame runner that encodes and draws z through onnxruntime, as the server does."""
    bundle = load_bundle(bundle_dir, device="cpu")

    def frame(image: np.ndarray, generator: torch.Generator) -> np.ndarray:
        codes = bundle.encode(bundle.encoder_input(image))
        params = MixtureParams(*(torch.from_numpy(part) for part in bundle.prior_params(codes)))
        z = sample_mixture(params, generator)
        uniforms = torch.rand((len(image), *bundle.image_shape), generator=generator)
        return sample_cached(bundle.decoder, z, uniforms).to(torch.uint8).numpy()

    return frame


def time_frames(frame: FrameRunner, start: np.ndarray, chains: int, length: int) -> list[float]:
    """Return the mean seconds per frame of each chain, after one warm-up frame."""
    generator = torch.Generator().manual_seed(0)
    frame(start, generator)
    per_chain = []
    for _ in range(chains):
        image = start
        started = time.perf_counter()
        for _ in range(length):
            image = frame(image, generator)
        per_chain.append((time.perf_counter() - started) / length)
    return per_chain


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    report = Report("benchmarks.daydream", argv)
    run_frame, start = run_path(args.run)
    paths = {"run (PyTorch)": run_frame}
    if args.bundle is not None:
        paths["bundle (server)"] = bundle_path(args.bundle)

    results: list[dict[str, Any]] = []
    print(f"{'path':<16} {'threads':>7} {'median ms per frame':>20} {'max ms':>7}")
    for threads in args.threads:
        torch.set_num_threads(threads)
        for name, frame in paths.items():
            per_chain = time_frames(frame, start, args.chains, args.length)
            results.append({
                "path": name,
                "threads": threads,
                "median_ms_per_frame": statistics.median(per_chain) * 1000,
                "max_ms_per_frame": max(per_chain) * 1000,
                "chains": args.chains,
                "frames_per_chain": args.length,
            })
            print(f"{name:<16} {threads:>7} {results[-1]['median_ms_per_frame']:>20.0f} {results[-1]['max_ms_per_frame']:>7.0f}")

    report.write(args.output, {"results": results})
    return 0


if __name__ == "__main__":
    sys.exit(main())
