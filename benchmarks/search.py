"""Time faiss IndexFlatL2 against a brute-force k-nearest-neighbour search, beside the memory-bandwidth floor.

Run from the repository root: `python -m benchmarks.search --help`.
"""

import argparse
import itertools
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import faiss
import numpy as np
import threadpoolctl
import torch

from benchmarks.common import Report, check_at_least_one, check_device

DEFAULT_OUTPUT = Path("benchmarks/results/search.json")
BYTES_PER_MIB = 2**20


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.search",
        description=(
            "Search random float32 codes for the k nearest by Euclidean distance: faiss IndexFlatL2 against a "
            "brute force (||q||^2 - 2 q.X^T + ||X||^2, then argpartition; numpy on the CPU, torch.topk on "
            "CUDA), one query at a time and in batches. Beside them, the floor that memory bandwidth sets: "
            "the index's bytes over the copy bandwidth measured with np.copyto. Prints a table and writes JSON."
        ),
    )
    parser.add_argument("--sizes", nargs="+", type=int, default=[10_000, 100_000, 1_000_000],
                        help="numbers of codes in the index (default: 10000 100000 1000000)")
    parser.add_argument("--dims", nargs="+", type=int, default=[16, 128],
                        help="code dimensions (default: 16 128)")
    parser.add_argument("--k", type=int, default=10, help="neighbours per query (default: 10)")
    parser.add_argument("--batch", type=int, default=64, help="queries per batched search (default: 64)")
    parser.add_argument("--queries", type=int, default=50,
                        help="timed single-query searches per case; the median is reported (default: 50)")
    parser.add_argument("--batch-repeats", type=int, default=5,
                        help="timed batched searches per case; the median is reported (default: 5)")
    parser.add_argument("--max-seconds", type=float, default=10.0,
                        help="stop the repeats of one measurement after this many seconds, keeping at least "
                             "3 (default: 10)")
    parser.add_argument("--copy-mib", type=int, default=512,
                        help="size in MiB of each of the two arrays np.copyto copies between (default: 512)")
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cpu",
                        help="where both searches run; cuda needs a faiss build with GPU support")
    parser.add_argument("--threads", type=int, default=None,
                        help="threads for faiss (OpenMP), numpy's BLAS and torch "
                             "(default: each library's own choice, printed in the results)")
    parser.add_argument("--seed", type=int, default=0, help="seed for the codes and queries")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT,
                        help=f"JSON file for the results (default: {DEFAULT_OUTPUT})")
    return parser


def validate_args(args: argparse.Namespace) -> None:
    check_device(args.device)
    if args.device == "cuda" and not hasattr(faiss, "StandardGpuResources"):
        raise SystemExit("--device cuda: this faiss build has no GPU support; install faiss-gpu or use --device cpu")
    check_at_least_one(args, ["k", "batch", "queries", "batch_repeats", "copy_mib", "threads"])
    if args.max_seconds <= 0:
        raise SystemExit(f"--max-seconds must be positive, got {args.max_seconds}")
    if any(size <= args.k for size in args.sizes):
        raise SystemExit(f"--sizes must all be larger than --k {args.k}, got {args.sizes}")
    if any(dim < 1 for dim in args.dims):
        raise SystemExit(f"--dims must all be at least 1, got {args.dims}")


def time_bounded(function: Callable[[], Any], repeats: int, max_seconds: float, device: str) -> tuple[float, int]:
    """Return the median seconds of up to `repeats` calls after one warm-up, and how many were timed.

    Calls stop early once `max_seconds` have passed, but never before 3 are timed.
    """
    function()
    seconds: list[float] = []
    started = time.perf_counter()
    while len(seconds) < repeats and (len(seconds) < 3 or time.perf_counter() - started < max_seconds):
        start = time.perf_counter()
        function()
        if device == "cuda":
            torch.cuda.synchronize()
        seconds.append(time.perf_counter() - start)
    return statistics.median(seconds), len(seconds)


def copy_bandwidth(mebibytes: int) -> float:
    """Return the copy bandwidth in bytes per second, counting read and written bytes as STREAM does."""
    source = np.ones(mebibytes * BYTES_PER_MIB // 4, dtype=np.float32)
    target = np.zeros_like(source)
    seconds, _ = time_bounded(lambda: np.copyto(target, source), repeats=5, max_seconds=10.0, device="cpu")
    return 2 * source.nbytes / seconds


class BruteForce:
    """Exact k-nearest search by one matrix product per batch: numpy on the CPU, torch on CUDA."""

    def __init__(self, codes: np.ndarray, device: str) -> None:
        self.device = device
        if device == "cuda":
            self.codes = torch.from_numpy(codes).cuda()  # (N, D)
            self.squared_norms = (self.codes * self.codes).sum(1)  # (N,)
        else:
            self.codes = codes
            self.squared_norms = np.einsum("nd,nd->n", codes, codes)  # (N,)

    def search(self, queries: np.ndarray, k: int) -> np.ndarray:
        """Return the ids (B, k) of each query's k nearest codes, nearest first."""
        if self.device == "cuda":
            return self._search_torch(torch.from_numpy(queries).cuda(), k).cpu().numpy()
        query_norms = np.einsum("bd,bd->b", queries, queries)  # (B,)
        distances = query_norms[:, None] - 2 * (queries @ self.codes.T) + self.squared_norms[None, :]  # (B, N)
        nearest = np.argpartition(distances, k - 1, axis=1)[:, :k]  # (B, k), unordered
        order = np.argsort(np.take_along_axis(distances, nearest, axis=1), axis=1)
        return np.take_along_axis(nearest, order, axis=1)

    def _search_torch(self, queries: torch.Tensor, k: int) -> torch.Tensor:
        query_norms = (queries * queries).sum(1)  # (B,)
        distances = query_norms[:, None] - 2 * (queries @ self.codes.T) + self.squared_norms[None, :]  # (B, N)
        return distances.topk(k, dim=1, largest=False).indices  # (B, k), nearest first


def flat_index(codes: np.ndarray, device: str) -> faiss.Index:
    index = faiss.IndexFlatL2(codes.shape[1])
    index.add(codes)
    if device == "cuda":
        return faiss.index_cpu_to_gpu(faiss.StandardGpuResources(), 0, index)
    return index


def overlap(first: np.ndarray, second: np.ndarray) -> float:
    """Return the mean fraction of each row's ids that both searches found."""
    shared = [len(np.intersect1d(a, b)) / len(a) for a, b in zip(first, second)]
    return float(np.mean(shared))


def measure(args: argparse.Namespace, size: int, dim: int, bandwidth: float) -> dict[str, Any]:
    """Time both searches on one index, single queries and batches, and compare their neighbours."""
    rng = np.random.default_rng(args.seed)
    codes = rng.standard_normal((size, dim), dtype=np.float32)  # (N, D)
    queries = rng.standard_normal((max(args.queries, args.batch), dim), dtype=np.float32)  # (Q, D)
    batch = queries[: args.batch]  # (B, D)
    index = flat_index(codes, args.device)
    brute = BruteForce(codes, args.device)

    row: dict[str, Any] = {"size": size, "dim": dim, "index_bytes": codes.nbytes}
    for name, search in (("faiss", lambda q: index.search(q, args.k)[1]), ("brute", lambda q: brute.search(q, args.k))):
        counter = itertools.count()
        single, single_count = time_bounded(
            lambda: search(queries[next(counter) % len(queries)][None]), args.queries, args.max_seconds, args.device
        )
        batched, batch_count = time_bounded(lambda: search(batch), args.batch_repeats, args.max_seconds, args.device)
        row |= {
            f"{name}_single_seconds": single,
            f"{name}_single_timed": single_count,
            f"{name}_batch_seconds": batched,
            f"{name}_batch_timed": batch_count,
        }
    row["floor_seconds"] = codes.nbytes / bandwidth
    row["neighbour_overlap"] = overlap(index.search(batch, args.k)[1], brute.search(batch, args.k))
    return row


def library_threads() -> dict[str, Any]:
    """Return the thread counts that faiss, torch and numpy's BLAS run with."""
    # faiss-cpu wheels bundle their own OpenBLAS beside numpy's, so each library file is listed.
    blas = {Path(pool["filepath"]).name: pool["num_threads"] for pool in threadpoolctl.threadpool_info() if pool["user_api"] == "blas"}
    return {"faiss_omp_threads": faiss.omp_get_max_threads(), "torch_threads": torch.get_num_threads(), "blas_threads": blas}


def print_table(results: list[dict[str, Any]], batch: int) -> None:
    header = (f"{'codes':>9} {'dim':>4} {'MB':>7} {'floor ms':>9} {'faiss 1q ms':>12} {'brute 1q ms':>12} "
              f"{f'faiss {batch}q ms':>14} {f'brute {batch}q ms':>14} {'overlap':>8}")
    print(header)
    print("-" * len(header))
    for row in results:
        print(
            f"{row['size']:>9} {row['dim']:>4} {row['index_bytes'] / 1e6:>7.1f} {row['floor_seconds'] * 1e3:>9.3f} "
            f"{row['faiss_single_seconds'] * 1e3:>12.3f} {row['brute_single_seconds'] * 1e3:>12.3f} "
            f"{row['faiss_batch_seconds'] * 1e3:>14.2f} {row['brute_batch_seconds'] * 1e3:>14.2f} "
            f"{row['neighbour_overlap']:>8.3f}"
        )


def run(args: argparse.Namespace) -> dict[str, Any]:
    bandwidth = copy_bandwidth(args.copy_mib)
    print(f"copy bandwidth {bandwidth / 1e9:.2f} GB/s", file=sys.stderr, flush=True)
    results = []
    for size in args.sizes:
        for dim in args.dims:
            results.append(measure(args, size, dim, bandwidth))
            print(f"measured {size} codes of {dim} dimensions", file=sys.stderr, flush=True)
    return {
        "device": args.device,
        "k": args.k,
        "batch": args.batch,
        "faiss_version": faiss.__version__,
        "numpy_version": np.__version__,
        "threads": library_threads(),
        "copy_bandwidth_bytes_per_second": bandwidth,
        "copy_mib": args.copy_mib,
        "results": results,
    }


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    validate_args(args)
    if args.threads is not None:
        torch.set_num_threads(args.threads)
        faiss.omp_set_num_threads(args.threads)
    report = Report("benchmarks.search", argv, args.device)
    with threadpoolctl.threadpool_limits(limits=args.threads, user_api="blas"):
        fields = run(args)
    print_table(fields["results"], args.batch)
    print(f"copy bandwidth {fields['copy_bandwidth_bytes_per_second'] / 1e9:.2f} GB/s (read plus written bytes)")
    report.write(args.output, fields)
    return 0


if __name__ == "__main__":
    sys.exit(main())
