"""`acn sample`: unconditional samples, reconstructions or daydream chains of a trained run, as a PNG grid."""

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from training.evaluate import TrainedRun

MODES = ("unconditional", "reconstruction", "daydream")  # the values of training.sampling.SamplingMode
DEFAULT_SAMPLES = 64  # unconditional images
DEFAULT_ROWS = 8  # test images for reconstruction and daydream


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run_dir", type=Path, metavar="RUN_DIR", help="run directory written by `acn train`")
    parser.add_argument(
        "--mode", required=True, choices=MODES,
        help="unconditional: z from the fitted prior p(z); reconstruction: decode the codes of test images; "
        "daydream: encode, draw z from p(z|c), decode, repeat",
    )  # fmt: skip
    parser.add_argument("--out", required=True, type=Path, metavar="FILE.png", help="PNG file for the image grid")
    parser.add_argument(
        "--count", type=int, default=None, metavar="N",
        help=f"unconditional: images to draw (default: {DEFAULT_SAMPLES}); reconstruction and daydream: "
        f"random test images, one per row (default: {DEFAULT_ROWS})",
    )  # fmt: skip
    parser.add_argument(
        "--length", type=int, default=8, metavar="L",
        help="images generated after the real one in each row: daydream steps or reconstructions per image "
        "(default: 8)",
    )  # fmt: skip
    parser.add_argument(
        "--images", type=_id_list, metavar="IDS",
        help="comma-separated positions in the test split (0-based) to start rows from, instead of random ones",
    )  # fmt: skip
    parser.add_argument(
        "--seed", type=int, default=0, help="random seed for the choice of test images and every sample (default: 0)"
    )
    parser.add_argument(
        "--arrays", type=Path, metavar="FILE.npz", help="also save the raw arrays (pixel levels, codes, z) here"
    )
    parser.add_argument(
        "--scale", type=int, default=3, help="enlargement of each image in the grid, in pixels per pixel (default: 3)"
    )
    parser.add_argument(
        "--device", choices=["cpu", "cuda"], default="cpu", help="device to run the model on (default: cpu)"
    )
    parser.add_argument("--quiet", action="store_true", help="hide the progress bars")


def _id_list(text: str) -> list[int]:
    try:
        ids = [int(part) for part in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated test-image positions such as 0,5,17, got {text!r}"
        ) from None
    if any(index < 0 for index in ids):
        raise argparse.ArgumentTypeError(f"test-image positions start at 0, got {text!r}")
    return ids


def _check_arguments(args: argparse.Namespace) -> None:
    for name in ("count", "length", "scale"):
        value = getattr(args, name)
        if value is not None and value < 1:
            raise ValueError(f"--{name} must be at least 1, got {value}")
    if args.images is not None and args.mode == "unconditional":
        raise ValueError("--images selects test images for reconstruction or daydream; unconditional samples use none")
    if args.images is not None and args.count is not None:
        raise ValueError("give either --images or --count for the rows, not both")


def _test_rows(run: "TrainedRun", args: argparse.Namespace) -> tuple[np.ndarray, np.ndarray]:
    """Return the chosen positions in the test split and their images (N, C, H, W)."""
    from training.data import Split

    test_images, _ = run.dataset.part(Split.TEST)
    if args.images is not None:
        positions = np.asarray(args.images, dtype=np.int64)
        if positions.max() >= len(test_images):
            raise ValueError(
                f"--images {positions.max()} is outside the test split of {len(test_images)} images; "
                f"use 0..{len(test_images) - 1}"
            )
    else:
        count = min(args.count or DEFAULT_ROWS, len(test_images))
        positions = np.sort(np.random.default_rng(args.seed).choice(len(test_images), count, replace=False))
    return positions, test_images[positions]


def _sample(run: "TrainedRun", args: argparse.Namespace) -> tuple[np.ndarray, dict[str, np.ndarray], tuple[int, ...]]:
    """Return the grid rows (R, K, C, H, W), the arrays to save and the columns followed by a wider gap."""
    import torch

    from training.data import Split
    from training.encoding import encoder_images
    from training.evaluate import load_or_fit_run_prior
    from training.models import ModelKind
    from training.sampling import SamplingMode, daydream, reconstruct, sample_unconditional, square_rows

    mode = SamplingMode(args.mode)
    generator = torch.Generator(device=run.device).manual_seed(args.seed)
    show = not args.quiet
    model_config = run.config.model
    if mode is SamplingMode.UNCONDITIONAL:
        prior = load_or_fit_run_prior(run, seed=args.seed) if model_config.kind is ModelKind.ACN else None
        images, z = sample_unconditional(run.model, prior, args.count or DEFAULT_SAMPLES, generator, show)
        arrays = {"images": images} if z is None else {"images": images, "latents": z}
        return square_rows(images), arrays, ()

    if not model_config.has_encoder:
        raise ValueError(f"a {model_config.kind.value} run has no encoder, so it supports only --mode unconditional")
    positions, images = _test_rows(run, args)
    encoder_inputs = encoder_images(run.dataset, Split.TEST, model_config)[positions]
    arrays = {"test_positions": positions, "dataset_indices": run.dataset.indices[Split.TEST][positions]}
    if mode is SamplingMode.RECONSTRUCTION:
        rows = reconstruct(run.model, images, args.length, generator, show, encoder_inputs)
        return rows, {**arrays, "images": rows}, (0,)
    chains = daydream(run.model, images, args.length, generator, show, encoder_inputs)
    chain_arrays = {"images": chains.images, "codes": chains.codes, "latents": chains.latents}
    return chains.images, {**arrays, **chain_arrays}, (0,)


def run(args: argparse.Namespace) -> int:
    # Imported here because every `acn` command builds this parser, and these pull in torch and scikit-learn.
    from training.checkpoint import CheckpointError
    from training.data import DatasetError
    from training.evaluate import load_run
    from training.sampling import image_grid, save_arrays, save_png

    try:
        _check_arguments(args)
        trained = load_run(args.run_dir, args.device)
        rows, arrays, gap_after = _sample(trained, args)
    except (CheckpointError, DatasetError, ValueError) as error:
        print(f"acn sample: {error}", file=sys.stderr)
        return 2
    levels = trained.config.model.output_type.levels
    save_png(args.out, image_grid(rows, levels, scale=args.scale, gap_after=gap_after))
    if args.arrays is not None:
        save_arrays(args.arrays, {**arrays, "mode": np.array(args.mode), "seed": np.array(args.seed)})
    print(f"wrote {args.mode} samples of {trained.name} to {args.out}", file=sys.stderr)
    return 0
