"""Time one daydream frame of a trained run: encode, draw z from p(z|c), cached decode of one image."""

import argparse
import statistics
import sys
import time

import torch

from training.checkpoint import load_averaged_model
from training.data import Split, load_dataset
from training.sampling import daydream


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("run", help="run directory with checkpoint.pt, e.g. runs/default")
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2], help="torch thread counts to time")
    parser.add_argument("--chains", type=int, default=3, help="chains timed per thread count")
    parser.add_argument("--length", type=int, default=10, help="frames per chain")
    args = parser.parse_args(argv)

    model, config, _ = load_averaged_model(args.run)
    dataset = load_dataset(config.data, image_size=config.model.image_size, binarize=config.binarize)
    start_image = dataset.part(Split.TEST)[0][:1]
    print(f"{'threads':>7}  {'median ms per frame':>19}")
    for threads in args.threads:
        torch.set_num_threads(threads)
        generator = torch.Generator().manual_seed(0)
        daydream(model, start_image, 2, generator)  # warm-up
        per_frame = []
        for _ in range(args.chains):
            started = time.perf_counter()
            daydream(model, start_image, args.length, generator)
            per_frame.append((time.perf_counter() - started) / args.length)
        print(f"{threads:>7}  {statistics.median(per_frame) * 1000:>19.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
