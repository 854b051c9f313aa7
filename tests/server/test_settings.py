"""The ACN_ settings: environment variables, validation at start-up and derived paths."""

import pytest
from pydantic import ValidationError

from server.settings import Settings


def test_environment_prefix(monkeypatch, tmp_path):
    monkeypatch.setenv("ACN_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("ACN_MAX_NEIGHBOURS", "7")
    settings = Settings()
    assert settings.max_neighbours == 7
    assert settings.resolved_database_url == f"sqlite:///{tmp_path.resolve() / 'acn.sqlite3'}"


def test_missing_bundle_fails(tmp_path):
    with pytest.raises(ValidationError, match="absent not found"):
        Settings(bundle=tmp_path / "absent")


def test_bundle_without_manifest_fails(tmp_path):
    with pytest.raises(ValidationError, match="has no manifest.json"):
        Settings(bundle=tmp_path)


def test_cli_prints_setting_errors(tmp_path, capsys):
    from cli.main import main

    assert main(["serve", "--bundle", str(tmp_path / "absent"), "--data-dir", str(tmp_path)]) == 2
    error = capsys.readouterr().err
    assert "acn serve: invalid bundle: bundle directory" in error
    assert "errors.pydantic.dev" not in error


def test_request_limit_below_file_limit():
    with pytest.raises(ValidationError, match="max_request_bytes"):
        Settings(max_upload_bytes=100, max_request_bytes=10)


def test_unknown_log_level():
    with pytest.raises(ValidationError, match="log level"):
        Settings(log_level="chatty")


def test_bootstrap_overrides_from_json(monkeypatch):
    monkeypatch.setenv("ACN_BOOTSTRAP_MODEL", '{"image_size": 12}')
    assert Settings().bootstrap_model == {"image_size": 12}
