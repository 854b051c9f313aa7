"""Load test of a running ACN server: requests per second and p50/p99 latency of /api/encode and /api/neighbours.

Run against your own server on this machine only, for example:

    acn serve --bundle BUNDLE_DIR --port 8000 &
    python -m benchmarks.load --url http://127.0.0.1:8000 --requests 500 --concurrency 8

Each phase stops at --requests requests or --seconds seconds, whichever comes first.
"""

import argparse
import asyncio
import dataclasses
import io
import statistics
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import numpy as np
from PIL import Image

from benchmarks.common import Report, describe_machine

LOCAL_HOSTS = {"127.0.0.1", "localhost"}
MAX_REQUESTS = 20_000
MAX_SECONDS = 300.0
MAX_CONCURRENCY = 64
DEFAULT_OUTPUT = Path("benchmarks/results/load.json")


@dataclasses.dataclass
class PhaseResult:
    route: str
    latencies: list[float]  # seconds, of the successful requests
    errors: int
    elapsed: float

    def to_dict(self) -> dict[str, Any]:
        """Return the phase's figures for the JSON file; latencies are None without a successful request."""
        milliseconds = np.asarray(self.latencies) * 1000
        has_latencies = len(self.latencies) > 0
        return {
            "route": self.route,
            "requests": len(self.latencies),
            "errors": self.errors,
            "seconds": self.elapsed,
            "requests_per_second": len(self.latencies) / self.elapsed if self.elapsed > 0 else None,
            "p50_ms": float(np.percentile(milliseconds, 50)) if has_latencies else None,
            "p99_ms": float(np.percentile(milliseconds, 99)) if has_latencies else None,
            "mean_ms": statistics.fmean(milliseconds) if has_latencies else None,
        }


def print_table(results: list[PhaseResult]) -> None:
    header = f"{'route':<44} {'requests':>8} {'errors':>6} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8}"
    print(header)
    print("-" * len(header))
    for result in results:
        row = result.to_dict()
        figures = [row[key] for key in ("requests_per_second", "p50_ms", "p99_ms")]
        cells = ["n/a" if value is None else f"{value:.1f}" for value in figures]
        print(f"{row['route']:<44} {row['requests']:>8} {row['errors']:>6} {cells[0]:>8} {cells[1]:>8} {cells[2]:>8}")


def digit_pngs(count: int, size: int = 28) -> list[bytes]:
    """Make distinct grey PNGs: a bright bar at a varying place on black, like a crude digit stroke."""
    rng = np.random.default_rng(0)
    images = []
    for _ in range(count):
        pixels = np.zeros((size, size), dtype=np.uint8)
        top, left = rng.integers(4, size // 2, size=2)
        pixels[top : top + size // 3, left : left + 4] = 255
        buffer = io.BytesIO()
        Image.fromarray(pixels).save(buffer, format="PNG")
        images.append(buffer.getvalue())
    return images


async def run_phase(client: httpx.AsyncClient, route: str, make_request, requests: int, seconds: float, concurrency: int) -> PhaseResult:
    """Send requests from `concurrency` workers until `requests` are sent or `seconds` have passed."""
    latencies: list[float] = []
    errors = 0
    issued = 0
    start = time.perf_counter()
    deadline = start + seconds

    async def worker() -> None:
        nonlocal issued, errors
        while issued < requests and time.perf_counter() < deadline:
            number = issued
            issued += 1
            began = time.perf_counter()
            response = await make_request(client, number)
            if response.status_code == 200:
                latencies.append(time.perf_counter() - began)
            else:
                errors += 1

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return PhaseResult(route, latencies, errors, time.perf_counter() - start)


async def benchmark(args: argparse.Namespace) -> list[PhaseResult]:
    pngs = digit_pngs(64)
    async with httpx.AsyncClient(base_url=args.url, timeout=60) as client:
        models = (await client.get("/api/models")).json()
        active = next(version for version in models["versions"] if version["active"])
        index_size = active["summary"]["indexed_images"]
        print(f"model {active['version']}: {index_size} indexed images, code size {active['summary']['code_size']}", file=sys.stderr)

        async def encode(client: httpx.AsyncClient, number: int) -> httpx.Response:
            files = [("files", (f"{number}.png", pngs[(number + offset) % len(pngs)], "image/png")) for offset in range(args.batch)]
            return await client.post("/api/encode", files=files)

        async def neighbours(client: httpx.AsyncClient, number: int) -> httpx.Response:
            return await client.get("/api/neighbours", params={"image_id": (number * 7919) % index_size, "k": args.k})

        results = []
        for route, make_request in ((f"POST /api/encode ({args.batch} image(s) per request)", encode), (f"GET /api/neighbours (k={args.k})", neighbours)):
            await run_phase(client, route, make_request, min(args.concurrency * 2, args.requests), args.seconds, args.concurrency)  # warm-up
            results.append(await run_phase(client, route, make_request, args.requests, args.seconds, args.concurrency))
    return results


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.load",
        description="Measure /api/encode and /api/neighbours of a running ACN server on this machine. Prints a table and writes JSON.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--url", default="http://127.0.0.1:8000", help="server URL; only 127.0.0.1 or localhost is accepted")
    parser.add_argument("--requests", type=int, default=500, help=f"requests per route, at most {MAX_REQUESTS}")
    parser.add_argument("--seconds", type=float, default=60.0, help=f"time limit per route in seconds, at most {MAX_SECONDS:g}")
    parser.add_argument("--concurrency", type=int, default=8, help=f"requests in flight at once, at most {MAX_CONCURRENCY}")
    parser.add_argument("--batch", type=int, default=1, help="images per /api/encode request")
    parser.add_argument("--k", type=int, default=10, help="neighbours per /api/neighbours request")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, help="JSON file for the results")
    args = parser.parse_args(argv)
    host = urlsplit(args.url).hostname
    if host not in LOCAL_HOSTS:
        parser.error(f"--url host {host!r} is not this machine; load-test only your own server on 127.0.0.1")
    if not 1 <= args.requests <= MAX_REQUESTS:
        parser.error(f"--requests must be 1..{MAX_REQUESTS}, got {args.requests}")
    if not 0 < args.seconds <= MAX_SECONDS:
        parser.error(f"--seconds must be in (0, {MAX_SECONDS:g}], got {args.seconds}")
    if not 1 <= args.concurrency <= MAX_CONCURRENCY:
        parser.error(f"--concurrency must be 1..{MAX_CONCURRENCY}, got {args.concurrency}")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    report = Report("benchmarks.load", argv)
    results = asyncio.run(benchmark(args))
    machine = describe_machine("cpu")
    print(f"machine: {machine['cpu_model']}, {machine['cpu_cores']} CPU cores, Python {machine['python_version']}")
    print_table(results)
    report.write(args.output, {
        "url": args.url,
        "concurrency": args.concurrency,
        "batch": args.batch,
        "k": args.k,
        "results": [result.to_dict() for result in results],
    })
    return 0


if __name__ == "__main__":
    sys.exit(main())
