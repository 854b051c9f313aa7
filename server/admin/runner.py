"""The job runner: a dispatcher thread that starts queued training runs, each in a worker thread driving subprocesses.

Training, evaluation and export never run in the server process: each is `python -m cli ...` in its own
process group. A run left running by a stopped server is marked failed at the next start, not resumed.
A server killed without shutting down leaves its step processes running, because they are in their own
session; they may finish writing their run directory, but nothing registers or activates their bundle.
"""

import json
import logging
import threading
from pathlib import Path
from typing import Any

from server.admin.policy import decide_swap
from server.admin.progress import overall_progress, read_metrics, training_fraction
from server.admin.store import RunState, claim_next, fail_interrupted, finish_run, update_run
from server.admin.subprocesses import StepCancelled, StepFailed, read_tail, run_step
from server.admin.swap import activate_bundle, register_bundle
from server.models import TrainingRun
from server.services import Services
from training.export import BundleError

logger = logging.getLogger(__name__)

DISPATCH_SECONDS = 1.0
EVALUATION_DIR = "evaluation"
LOG_NAME = "server-steps.log"


class JobRunner:
    """Executes queued training runs, at most Settings.max_concurrent_runs at a time."""

    def __init__(self, services: Services) -> None:
        self._services = services
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._cancels: dict[int, threading.Event] = {}
        self._workers: dict[int, threading.Thread] = {}
        self._lock = threading.Lock()
        self._dispatcher: threading.Thread | None = None

    def start(self) -> None:
        """Fail the runs a previous server process left running, then start dispatching queued runs."""
        interrupted = fail_interrupted(self._services.sessions)
        if interrupted:
            logger.warning("marked training runs %s failed: the server stopped while they were running", interrupted)
        self._dispatcher = threading.Thread(target=self._dispatch, name="training-dispatcher", daemon=True)
        self._dispatcher.start()

    def stop(self, timeout: float = 30.0) -> None:
        """Stop running steps, mark their runs failed and wait for the worker threads."""
        self._stopping.set()
        self._wake.set()
        with self._lock:
            for event in self._cancels.values():
                event.set()
            workers = list(self._workers.values())
        for worker in workers:
            worker.join(timeout=timeout)
        if self._dispatcher is not None:
            self._dispatcher.join(timeout=timeout)

    def wake(self) -> None:
        """Look for queued runs now instead of at the next poll."""
        self._wake.set()

    def cancel_running(self, run_id: int) -> bool:
        """Stop a run that this process is executing; return False when it runs elsewhere or not at all."""
        with self._lock:
            event = self._cancels.get(run_id)
        if event is None:
            return False
        event.set()
        return True

    def _dispatch(self) -> None:
        while not self._stopping.is_set():
            try:
                self._start_queued()
            except Exception:
                logger.exception("the training dispatcher failed to start queued runs; retrying in %.0f s", DISPATCH_SECONDS)
            self._wake.wait(DISPATCH_SECONDS)
            self._wake.clear()

    def _start_queued(self) -> None:
        while True:
            # Claiming under the lock means a cancel request finds the run's cancel event as soon as it is running,
            # and stop() cannot miss a run claimed at the same moment.
            with self._lock:
                if self._stopping.is_set() or len(self._workers) >= self._services.settings.max_concurrent_runs:
                    return
                row = claim_next(self._services.sessions)
                if row is None:
                    return
                cancel = threading.Event()
                worker = threading.Thread(target=self._work, args=(row, cancel), name=f"training-run-{row.id}", daemon=True)
                self._cancels[row.id] = cancel
                self._workers[row.id] = worker
            worker.start()

    def _work(self, row: TrainingRun, cancel: threading.Event) -> None:
        try:
            RunJob(self._services, row, cancel, self._stopping).execute()
        finally:
            with self._lock:
                self._cancels.pop(row.id, None)
                self._workers.pop(row.id, None)
            self._wake.set()


class RunJob:
    """One training run: train, optionally evaluate, export, then register and maybe activate its bundle."""

    def __init__(self, services: Services, row: TrainingRun, cancel: threading.Event, stopping: threading.Event) -> None:
        self.services = services
        self.run_id = row.id
        self.request: dict[str, Any] = row.request
        self.run_dir = Path(row.run_dir)
        self.log_path = self.run_dir.parent / f"run-{row.id}.log"
        self.cancel = cancel
        self.stopping = stopping

    def execute(self) -> None:
        """Run every step and record the outcome; no exception escapes, because the worker thread has no caller."""
        logger.info("training run %d started: %s", self.run_id, self.request)
        try:
            self._steps()
        except StepCancelled as error:
            state = RunState.FAILED if self.stopping.is_set() else RunState.CANCELLED
            message = "the server stopped during this run; start a new run" if self.stopping.is_set() else str(error)
            self._finish(state, message)
        except (StepFailed, BundleError, OSError, ValueError) as error:
            self._finish(RunState.FAILED, str(error))
        except Exception as error:
            logger.exception("training run %d failed unexpectedly", self.run_id)
            self._finish(RunState.FAILED, f"the run failed unexpectedly: {error!r}; see the server log")

    def _steps(self) -> None:
        # NOTE: only `acn train` has a time budget (the request's minutes); evaluate and export run until they end or are cancelled.
        self._run("train", self.request["train_arguments"])
        report = None
        if self.request.get("evaluate", True):
            evaluation_dir = self.run_dir / EVALUATION_DIR
            self._run("evaluate", ["evaluate", str(self.run_dir), "--out", str(evaluation_dir), "--quiet"])
            report = self._read_report()
        bundle_path = self.services.settings.bundles_dir.resolve() / f"run-{self.run_id}"
        self._run("export", ["export", str(self.run_dir), "--bundle", str(bundle_path), "--quiet"])
        self._swap(bundle_path, report)

    def _run(self, stage: str, arguments: list[str]) -> None:
        if self.cancel.is_set():
            raise StepCancelled(f"the run was cancelled before acn {stage}")
        update_run(self.services.sessions, self.run_id, stage=stage, progress=overall_progress(stage, 0.0))
        full = arguments if stage != "train" else ["train", *arguments]
        run_step(full, self.log_path, self.cancel, lambda: self._record(stage))

    def _record(self, stage: str) -> None:
        values: dict[str, Any] = {"log_tail": read_tail(self.log_path)}
        if stage == "train":
            rows = read_metrics(self.run_dir)
            values["metrics"] = rows
            values["progress"] = overall_progress(stage, training_fraction(self.run_dir, rows))
        update_run(self.services.sessions, self.run_id, **values)

    def _read_report(self) -> dict[str, Any]:
        path = self.run_dir / "report.json"
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except (FileNotFoundError, json.JSONDecodeError) as error:
            raise StepFailed(f"acn evaluate finished but {path} could not be read ({error})") from None

    def _swap(self, bundle_path: Path, report: dict[str, Any] | None) -> None:
        update_run(self.services.sessions, self.run_id, stage="swap", progress=overall_progress("swap", 0.0), report=report)
        decision = decide_swap(report, self.services.settings)
        if decision.activate:
            snapshot = activate_bundle(self.services, bundle_path)
            version_id = snapshot.model_version_id
        else:
            version_id = register_bundle(self.services, bundle_path).id
        logger.info("training run %d succeeded: bundle %s, activated %s", self.run_id, bundle_path, decision.activate)
        finish_run(
            self.services.sessions, self.run_id, RunState.SUCCEEDED,
            progress=1.0, swap=decision.to_dict(), bundle_path=str(bundle_path), model_version_id=version_id,
            log_tail=read_tail(self.log_path),
        )  # fmt: skip

    def _finish(self, state: RunState, message: str) -> None:
        logger.warning("training run %d %s: %s", self.run_id, state.value, message)
        finish_run(self.services.sessions, self.run_id, state, error=message, log_tail=read_tail(self.log_path))
