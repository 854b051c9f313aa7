"""Training-run rows: queue order, claiming, and what a restart does to runs left running."""

from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

from server.admin.policy import decide_swap
from server.admin.store import RunState, cancel_if_queued, claim_next, create_run, fail_interrupted, get_run
from server.db import make_engine, make_session_factory, upgrade_database
from server.settings import Settings


@pytest.fixture
def sessions(tmp_path: Path) -> sessionmaker[Session]:
    url = f"sqlite:///{tmp_path / 'runs.sqlite3'}"
    upgrade_database(url)
    return make_session_factory(make_engine(url))


def new_run(sessions: sessionmaker[Session], tmp_path: Path) -> int:
    return create_run(sessions, tmp_path, lambda run_dir: {"data": "digits", "run_dir": str(run_dir)}).id


def test_claim_takes_oldest_first(sessions: sessionmaker[Session], tmp_path: Path) -> None:
    first = new_run(sessions, tmp_path)
    second = new_run(sessions, tmp_path)
    claimed = claim_next(sessions)
    assert claimed is not None
    assert claimed.id == first
    assert claimed.state == RunState.RUNNING.value
    assert get_run(sessions, second).state == RunState.QUEUED.value


def test_restart_fails_running_runs(sessions: sessionmaker[Session], tmp_path: Path) -> None:
    running = new_run(sessions, tmp_path)
    queued = new_run(sessions, tmp_path)
    claim_next(sessions)
    assert fail_interrupted(sessions) == [running]
    row = get_run(sessions, running)
    assert row.state == RunState.FAILED.value
    assert "server stopped" in row.error
    assert get_run(sessions, queued).state == RunState.QUEUED.value


def test_cancel_only_queued(sessions: sessionmaker[Session], tmp_path: Path) -> None:
    running = new_run(sessions, tmp_path)
    queued = new_run(sessions, tmp_path)
    claim_next(sessions)
    assert not cancel_if_queued(sessions, running)
    assert cancel_if_queued(sessions, queued)
    assert get_run(sessions, queued).state == RunState.CANCELLED.value


def test_swap_policy_thresholds(tmp_path: Path) -> None:
    report = {"linear_probe": {"codes": 0.9}, "ordered": 100.0}
    assert decide_swap(None, Settings(data_dir=tmp_path)).activate
    assert not decide_swap(None, Settings(data_dir=tmp_path, min_probe_accuracy=0.5)).activate
    assert decide_swap(report, Settings(data_dir=tmp_path, min_probe_accuracy=0.5)).activate
    assert not decide_swap(report, Settings(data_dir=tmp_path, min_probe_accuracy=0.95)).activate
    assert not decide_swap(report, Settings(data_dir=tmp_path, max_ordered_nats=90.0)).activate
    assert not decide_swap({"linear_probe": {"codes": None}}, Settings(data_dir=tmp_path, min_probe_accuracy=0.1)).activate
