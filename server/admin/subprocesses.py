"""Run one `acn` step as a subprocess, reporting progress and the log tail while it runs and stopping it on cancel."""

import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path

POLL_SECONDS = 0.5
TERMINATE_GRACE_SECONDS = 10.0
LOG_TAIL_LINES = 40
REPOSITORY_ROOT = Path(__file__).resolve().parents[2]


class StepFailed(Exception):
    """An `acn` step exited with a non-zero status; the message names the step and the last line of its output."""


class StepCancelled(Exception):
    """The run was cancelled while a step was running; the step's process was stopped."""


def read_tail(path: Path, lines: int = LOG_TAIL_LINES) -> str:
    """Return the last lines of a text file, or "" when it does not exist yet."""
    try:
        with open(path, "rb") as file:
            file.seek(0, os.SEEK_END)
            size = file.tell()
            file.seek(max(0, size - 64 * 1024))
            text = file.read().decode("utf-8", errors="replace")
    except FileNotFoundError:
        return ""
    return "\n".join(text.replace("\r", "\n").splitlines()[-lines:])


def run_step(
    arguments: list[str], log_path: Path, cancel: threading.Event, on_poll: Callable[[], None]
) -> None:
    """Run `python -m cli ARGUMENTS` with its output appended to log_path; call on_poll about every POLL_SECONDS."""
    command = [sys.executable, "-m", "cli", *arguments]
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "ab") as log:
        log.write(f"$ acn {' '.join(arguments)}\n".encode())
        log.flush()
        # A new session, so that stopping the step also stops any worker processes it started.
        process = subprocess.Popen(
            command, cwd=REPOSITORY_ROOT, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        try:
            while process.poll() is None:
                if cancel.wait(POLL_SECONDS):
                    stop_process(process)
                    raise StepCancelled(f"acn {arguments[0]} was stopped by a cancel request")
                on_poll()
        finally:
            if process.poll() is None:
                stop_process(process)
    on_poll()
    if process.returncode != 0:
        last = read_tail(log_path, 1) or "no output"
        raise StepFailed(f"acn {arguments[0]} exited with status {process.returncode}: {last}")


def stop_process(process: subprocess.Popen[bytes]) -> None:
    """Send SIGTERM to the step's process group, then SIGKILL after a grace period."""
    for sig, wait in ((signal.SIGTERM, TERMINATE_GRACE_SECONDS), (signal.SIGKILL, None)):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        try:
            process.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            continue
    process.wait()
