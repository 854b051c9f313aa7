"""Helpers shared by the benchmark scripts: option checks, the machine's description and the JSON report."""

import argparse
import dataclasses
import os
import platform
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import torch

from training.fileio import atomic_write_json


def check_device(device: str) -> None:
    """Exit with a clear message when --device cuda is requested on a torch build without CUDA."""
    # NOTE: no benchmark has been run with --device cuda.
    if device == "cuda" and not torch.cuda.is_available():
        raise SystemExit("--device cuda: CUDA is not available in this torch build, so use --device cpu")


def check_at_least_one(args: argparse.Namespace, names: list[str]) -> None:
    """Stop when one of these options is below 1; an option left unset (None) passes."""
    for name in names:
        value = getattr(args, name)
        if value is not None and value < 1:
            raise SystemExit(f"--{name.replace('_', '-')} must be at least 1, got {value}")


def cpu_model_name() -> str:
    """Return lscpu's "Model name" line, or platform.processor() where lscpu is missing."""
    try:
        listing = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
    except (FileNotFoundError, subprocess.CalledProcessError):
        return platform.processor() or "unknown"
    for line in listing.splitlines():
        if line.startswith("Model name:"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def describe_machine(device: str) -> dict[str, Any]:
    machine = {
        "cpu_model": cpu_model_name(),
        "cpu_cores": os.cpu_count(),
        "torch_version": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "python_version": platform.python_version(),
    }
    if device == "cuda":
        machine["gpu"] = torch.cuda.get_device_name()
    return machine


@dataclasses.dataclass
class Report:
    """JSON results of one benchmark run. Create it before measuring, so that it records the load beforehand."""

    module: str  # e.g. "benchmarks.sampling"
    argv: list[str] | None  # the arguments main() was given, None for the process's own
    device: str = "cpu"
    # One-minute load average: above the core count, other jobs shared the CPUs during the run.
    load_before: float = dataclasses.field(default_factory=lambda: os.getloadavg()[0])

    def write(self, output: Path, fields: dict[str, Any]) -> dict[str, Any]:
        """Write the command, the fields, the machine and the load averages to output; return what was written."""
        arguments = sys.argv[1:] if self.argv is None else self.argv
        report = {
            "command": shlex.join(["python", "-m", self.module, *arguments]),
            **fields,
            "machine": describe_machine(self.device),
            "load_average_before": self.load_before,
            "load_average_after": os.getloadavg()[0],
        }
        atomic_write_json(output, report)
        print(f"wrote {output}")
        return report
