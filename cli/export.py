"""`acn export`: write a trained run as a model bundle directory for `acn serve`."""

import argparse
import sys
from pathlib import Path

from training.checkpoint import CheckpointError
from training.export import BundleError, ExportError, export_bundle, load_bundle


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run_dir", type=Path, metavar="RUN_DIR", help="run directory written by `acn train`")
    parser.add_argument(
        "--bundle",
        required=True,
        type=Path,
        metavar="BUNDLE_DIR",
        help="directory to write the bundle to; a bundle already there is replaced once the new one is complete",
    )
    parser.add_argument(
        "--images",
        metavar="NAME_OR_PATH",
        help="data set name or path whose images are all indexed for search (default: the run's training split)",
    )
    parser.add_argument("--quiet", action="store_true", help="hide the progress bar")


def run(args: argparse.Namespace) -> int:
    try:
        path = export_bundle(args.run_dir, args.bundle, images=args.images, show_progress=not args.quiet)
        # Loading the result once proves that the server will accept it.
        bundle = load_bundle(path, device="cpu")
    except (ExportError, CheckpointError, BundleError) as error:
        print(f"acn export: {error}", file=sys.stderr)
        return 2
    except OSError as error:
        print(f"acn export: file access failed ({error}); check the paths, permissions and free disk space", file=sys.stderr)
        return 1
    print(
        f"wrote bundle {path} (version {bundle.version}): {len(bundle.ids)} images from "
        f"{bundle.manifest['images']['source']}, {bundle.config.code_size}-dimensional codes, "
        f"unconditional prior with {bundle.unconditional_prior.components} components",
        file=sys.stderr,
    )
    return 0
