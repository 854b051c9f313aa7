"""Migrations, SQLite pragmas and the one-active-version rule of the database."""

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text
from sqlalchemy.exc import IntegrityError

from server.db import alembic_config, make_engine, make_session_factory, transaction, upgrade_database
from server.models import ModelVersion


@pytest.fixture
def database_url(tmp_path):
    url = f"sqlite:///{tmp_path / 'nested' / 'acn.sqlite3'}"
    upgrade_database(url)
    return url


def test_upgrade_creates_tables(database_url):
    engine = make_engine(database_url)
    tables = set(inspect(engine).get_table_names())
    engine.dispose()
    assert {"model_versions", "uploads", "upload_codes", "alembic_version"} <= tables


def test_upgrade_twice_is_harmless(database_url):
    upgrade_database(database_url)
    engine = make_engine(database_url)
    with engine.connect() as connection:
        revision = connection.execute(text("SELECT version_num FROM alembic_version")).scalar_one()
    engine.dispose()
    assert revision == ScriptDirectory.from_config(alembic_config(database_url)).get_current_head()


def test_sqlite_pragmas_on_connection(database_url):
    engine = make_engine(database_url, busy_timeout_ms=1234)
    with engine.connect() as connection:
        journal = connection.exec_driver_sql("PRAGMA journal_mode").scalar_one()
        timeout = connection.exec_driver_sql("PRAGMA busy_timeout").scalar_one()
    engine.dispose()
    assert journal == "wal"
    assert timeout == 1234


def test_two_active_versions_rejected(database_url):
    engine = make_engine(database_url)
    sessions = make_session_factory(engine)
    with transaction(sessions) as session:
        session.add(ModelVersion(version="a", bundle_path="/a", summary={}, active=True))
    with pytest.raises(IntegrityError):
        with transaction(sessions) as session:
            session.add(ModelVersion(version="b", bundle_path="/b", summary={}, active=True))
    engine.dispose()


def test_many_inactive_versions_allowed(database_url):
    engine = make_engine(database_url)
    sessions = make_session_factory(engine)
    with transaction(sessions) as session:
        session.add_all([ModelVersion(version=name, bundle_path="/x", summary={}, active=None) for name in "xyz"])
    with transaction(sessions) as session:
        count = session.query(ModelVersion).count()
    engine.dispose()
    assert count == 3
