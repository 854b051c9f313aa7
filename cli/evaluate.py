"""`acn evaluate`: test-set costs, probes and figures of trained runs, as report.json, report.md and PNG files."""

import argparse
import sys
from pathlib import Path

MIN_SAMPLES = 16  # one round of samples of z per test image


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("runs", nargs="+", type=Path, metavar="RUN_DIR", help="run directories written by `acn train`")
    parser.add_argument(
        "--out", required=True, type=Path, metavar="REPORT_DIR",
        help="directory for report.md, one sub-directory per run (report.json and figures) and, for two or more runs, the cost chart costs.png",
    )  # fmt: skip
    parser.add_argument(
        "--seed", type=int, default=0, help="seed of the prior fit and of every sample of z (default: 0)"
    )
    parser.add_argument(
        "--standard-error", type=float, default=0.05, metavar="NATS",
        help="sample z until the Monte Carlo standard error of every test-set cost is below this, "
        "in nats per image (default: 0.05)",
    )  # fmt: skip
    parser.add_argument(
        "--max-samples", type=int, default=4096, metavar="N",
        help="most samples of z per test image for one cost; a cost that reaches it keeps a larger "
        "standard error (default: 4096)",
    )  # fmt: skip
    parser.add_argument(
        "--prior-fit", choices=["samples", "codes"], default="samples",
        help="fit the unconditional prior p(z) to samples z ~ q(z|x) around the training codes (the aggregate "
        "posterior), or to the mean codes alone (default: samples)",
    )  # fmt: skip
    parser.add_argument(
        "--device", choices=["cpu", "cuda"], default="cpu", help="device to run the models on (default: cpu)"
    )
    parser.add_argument("--quiet", action="store_true", help="hide the progress bars")


def run(args: argparse.Namespace) -> int:
    # Imported here because every `acn` command builds this parser, and these pull in scikit-learn and matplotlib.
    from training.checkpoint import CheckpointError
    from training.data import DatasetError
    from training.evaluate import EvaluationOptions, PriorData, evaluate_runs

    if args.standard_error <= 0:
        print(f"acn evaluate: --standard-error must be positive, got {args.standard_error}", file=sys.stderr)
        return 2
    if args.max_samples < MIN_SAMPLES:
        print(f"acn evaluate: --max-samples must be at least {MIN_SAMPLES}, got {args.max_samples}", file=sys.stderr)
        return 2
    options = EvaluationOptions(
        seed=args.seed,
        target_standard_error=args.standard_error,
        max_samples=args.max_samples,
        prior_data=PriorData(args.prior_fit),
        device=args.device,
        show_progress=not args.quiet,
    )
    try:
        reports = evaluate_runs(args.runs, args.out, options)
    except (CheckpointError, DatasetError, ValueError) as error:
        print(f"acn evaluate: {error}", file=sys.stderr)
        return 2
    for report in reports:
        report_path = args.out / report["run"] / "report.json"
        print(f"{report['run']}: {_cost_summary(report)}; report {report_path}", file=sys.stderr)
    print(f"comparison table: {args.out / 'report.md'}", file=sys.stderr)
    return 0


def _cost_summary(report: dict) -> str:
    parts = [f"reconstruction {report['reconstruction']:.2f}"]
    for field in ("ordered", "unordered"):
        if report[field] is not None:
            parts.append(f"{field} {report[field]:.2f}")
    return ", ".join(parts) + " nats per image"
