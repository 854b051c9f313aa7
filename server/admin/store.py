"""Training-run rows: create, read, claim the next queued run, record progress and finish."""

import enum
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from server.db import transaction
from server.models import TrainingRun, utc_now


class RunState(str, enum.Enum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def is_final(self) -> bool:
        return self in (RunState.SUCCEEDED, RunState.FAILED, RunState.CANCELLED)


def create_run(factory: sessionmaker[Session], runs_dir: Path, make_request: Callable[[Path], dict[str, Any]]) -> TrainingRun:
    """Insert a queued run; make_request(run_dir) builds its stored request in the same transaction, so no runner can claim it half-built."""
    with transaction(factory) as session:
        row = TrainingRun(state=RunState.QUEUED.value, request={}, run_dir="", progress=0.0, metrics=[], log_tail="")
        session.add(row)
        session.flush()
        run_dir = (runs_dir / f"run-{row.id}").resolve()
        row.run_dir = str(run_dir)
        row.request = make_request(run_dir)
        session.flush()
        session.refresh(row)
        return row


def get_run(factory: sessionmaker[Session], run_id: int) -> TrainingRun | None:
    with transaction(factory) as session:
        return session.get(TrainingRun, run_id)


def list_runs(factory: sessionmaker[Session]) -> list[TrainingRun]:
    with transaction(factory) as session:
        return list(session.scalars(select(TrainingRun).order_by(TrainingRun.id.desc())))


def claim_next(factory: sessionmaker[Session]) -> TrainingRun | None:
    """Move the oldest queued run to running and return it; the conditional update lets one claimer win."""
    with transaction(factory) as session:
        row = session.scalars(
            select(TrainingRun).where(TrainingRun.state == RunState.QUEUED.value).order_by(TrainingRun.id).limit(1)
        ).one_or_none()
        if row is None:
            return None
        claimed = session.execute(
            update(TrainingRun)
            .where(TrainingRun.id == row.id, TrainingRun.state == RunState.QUEUED.value)
            .values(state=RunState.RUNNING.value, started_at=utc_now())
        )
        if claimed.rowcount != 1:
            return None
        session.refresh(row)
        return row


def update_run(factory: sessionmaker[Session], run_id: int, **values: Any) -> None:
    with transaction(factory) as session:
        session.execute(update(TrainingRun).where(TrainingRun.id == run_id).values(**values))


def finish_run(factory: sessionmaker[Session], run_id: int, state: RunState, **values: Any) -> None:
    update_run(factory, run_id, state=state.value, stage=None, finished_at=utc_now(), **values)


def cancel_if_queued(factory: sessionmaker[Session], run_id: int) -> bool:
    """Cancel a run that has not started; return False when it was no longer queued."""
    with transaction(factory) as session:
        result = session.execute(
            update(TrainingRun)
            .where(TrainingRun.id == run_id, TrainingRun.state == RunState.QUEUED.value)
            .values(state=RunState.CANCELLED.value, finished_at=utc_now(), error="cancelled before it started")
        )
        return result.rowcount == 1


def fail_interrupted(factory: sessionmaker[Session]) -> list[int]:
    """Mark runs left running by a stopped server as failed, and return their ids; they are not resumed."""
    # NOTE: this assumes one server process per database. A second process starting next to a live one
    # would fail the live one's runs, so scaling out needs an owner and heartbeat column first.
    with transaction(factory) as session:
        ids = list(session.scalars(select(TrainingRun.id).where(TrainingRun.state == RunState.RUNNING.value)))
        if ids:
            session.execute(
                update(TrainingRun)
                .where(TrainingRun.id.in_(ids))
                .values(
                    state=RunState.FAILED.value,
                    stage=None,
                    finished_at=utc_now(),
                    error="the server stopped while this run was going; the active model is unchanged, start a new run",
                )
            )
        return ids
