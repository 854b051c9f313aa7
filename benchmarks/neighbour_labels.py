"""Post grey mnist-5k test digits to a running server and count neighbours that share their label.

Run from the repository root: `python -m benchmarks.neighbour_labels --help`.
"""

import argparse
import io
import sys
import urllib.parse
from pathlib import Path
from typing import Any

import httpx
import numpy as np
from PIL import Image

from training.data import Split, load_dataset
from training.data.named import load_mnist_5k

DEFAULT_OUTPUT = Path("benchmarks/results/neighbour-labels.json")
LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1"}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.neighbour_labels",
        description=(
            "Post the grey mnist-5k test digits as PNG files to POST /api/encode of a server on this machine, "
            "ask GET /api/neighbours for each upload, and report how often the nearest neighbour, and the k "
            "nearest, have the digit's label. The server must serve a bundle of mnist-5k's training split."
        ),
    )
    parser.add_argument("--url", default="http://127.0.0.1:8000", help="server address on 127.0.0.1 (default: http://127.0.0.1:8000)")
    parser.add_argument("--digits", type=int, default=1000, help="test digits posted, in split order (default: 1000, all of them)")
    parser.add_argument("--k", type=int, default=10, help="neighbours asked for per digit (default: 10)")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, help=f"JSON file for the results (default: {DEFAULT_OUTPUT})")
    return parser


def check_local(url: str) -> None:
    host = urllib.parse.urlparse(url).hostname
    if host not in LOCAL_HOSTS:
        raise SystemExit(f"--url must point at this machine (127.0.0.1 or localhost), got {url!r}")


def png_bytes(levels: np.ndarray) -> bytes:
    """Encode uint8 grey levels (H, W) as a PNG file."""
    buffer = io.BytesIO()
    Image.fromarray(levels).save(buffer, format="PNG")
    return buffer.getvalue()


def neighbour_labels(client: httpx.Client, image: np.ndarray, k: int) -> list[int | None]:
    """Upload one digit and return the labels of its k nearest indexed images, nearest first."""
    response = client.post("/api/encode", files={"files": ("digit.png", png_bytes(image), "image/png")})
    response.raise_for_status()
    upload_id = response.json()["items"][0]["upload_id"]
    response = client.get("/api/neighbours", params={"upload_id": upload_id, "k": k})
    response.raise_for_status()
    return [hit["label"] for hit in response.json()["neighbours"]]


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    check_local(args.url)
    if args.digits < 1 or args.k < 1:
        raise SystemExit(f"--digits and --k must be at least 1, got {args.digits} and {args.k}")
    report = Report("benchmarks.neighbour_labels", argv)
    source = load_mnist_5k()  # grey levels before binarization, in data set order
    grey, labels = source.images[:, 0], source.labels  # (N, 28, 28) uint8, (N,)
    test = load_dataset("mnist-5k").indices[Split.TEST][: args.digits]

    first_same = 0
    same = 0
    returned = 0
    with httpx.Client(base_url=args.url, timeout=60) as client:
        for index in test:
            found = neighbour_labels(client, grey[index], args.k)
            first_same += bool(found) and found[0] == labels[index]
            same += sum(label == labels[index] for label in found)
            returned += len(found)

    results: dict[str, Any] = {
        "digits": len(test),
        "k": args.k,
        "nearest_same_label": first_same / len(test),
        "k_nearest_same_label": same / max(returned, 1),
    }
    print(f"{'digits':>6} {'nearest same label':>19} {f'{args.k} nearest same label':>21}")
    print(f"{results['digits']:>6} {results['nearest_same_label']:>18.1%} {results['k_nearest_same_label']:>21.1%}")
    report.write(args.output, {"url": args.url, "results": results})
    return 0


if __name__ == "__main__":
    sys.exit(main())
