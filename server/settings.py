"""The one settings object of the server, read from environment variables with the prefix ACN_."""

import functools
from pathlib import Path
from typing import Any

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

MEBIBYTE = 1 << 20
DATABASE_NAME = "acn.sqlite3"


class Settings(BaseSettings):
    """Every tunable of `acn serve`; each field is also the environment variable ACN_<FIELD NAME>."""

    model_config = SettingsConfigDict(env_prefix="ACN_", extra="forbid")

    data_dir: Path = Field(Path("data"), description="directory for the database, uploads, bootstrap run and bundles")
    database_url: str | None = Field(None, description="SQLAlchemy URL; default: SQLite file acn.sqlite3 in data_dir")
    bundle: Path | None = Field(None, description="model bundle directory to serve; default: the active registered one")
    host: str = "127.0.0.1"
    port: int = Field(8000, ge=0, le=65535)
    admin_token: str | None = Field(None, description="bearer token for administrative routes; unset disables them")
    log_level: str = "INFO"

    # Input limits.
    max_upload_bytes: int = Field(8 * MEBIBYTE, ge=1, description="largest accepted image file, in bytes")
    max_request_bytes: int = Field(64 * MEBIBYTE, ge=1, description="largest accepted request body, in bytes")
    max_image_pixels: int = Field(4096 * 4096, ge=1, description="largest width x height accepted before decoding")
    max_batch: int = Field(512, ge=1, le=1000, description="maximum images in one /api/encode request")
    max_neighbours: int = Field(100, ge=1, description="largest k of /api/neighbours")
    max_daydream_length: int = Field(32, ge=1, description="maximum images in one daydream stream")
    max_samples: int = Field(64, ge=1, description="maximum images of one /api/samples or /api/reconstructions request")

    # Administration: retraining runs and the swap policy.
    data_root: Path | None = Field(None, description="directory that training data paths must lie inside; default: data_dir/datasets")
    max_concurrent_runs: int = Field(1, ge=1, description="training runs executed at once; further runs wait in the queue")
    min_probe_accuracy: float | None = Field(
        None, ge=0, le=1, description="linear probe accuracy on codes that a run needs to be activated; unset: no minimum"
    )
    max_ordered_nats: float | None = Field(
        None, gt=0, description="largest ordered compression cost, in nats per image, of a run to be activated; unset: no maximum"
    )
    admin_session_hours: float = Field(12.0, gt=0, description="lifetime of an admin login session cookie, in hours")

    # Database.
    sqlite_busy_timeout_ms: int = Field(10_000, ge=0, description="how long SQLite waits for a lock before failing")

    # First start: the model trained when no bundle is configured or registered.
    bootstrap_preset: str = "cpu"
    bootstrap_data: str = "mnist-5k"
    bootstrap_steps: int | None = Field(None, ge=1, description="training steps; default: the preset's")
    bootstrap_minutes: float | None = Field(None, gt=0, description="training wall-clock budget; default: the preset's")
    bootstrap_model: dict[str, Any] = Field(default_factory=dict, description="ModelConfig overrides, as JSON")
    bootstrap_train: dict[str, Any] = Field(default_factory=dict, description="TrainConfig overrides, as JSON")

    @field_validator("bundle")
    @classmethod
    def _bundle_exists(cls, bundle: Path | None) -> Path | None:
        if bundle is None:
            return bundle
        fix = "pass a directory written by `acn export` (--bundle or ACN_BUNDLE), or neither to serve the registered model"
        if not bundle.is_dir():
            raise ValueError(f"bundle directory {bundle} not found; {fix}")
        if not (bundle / "manifest.json").is_file():
            raise ValueError(f"bundle directory {bundle} has no manifest.json; {fix}")
        return bundle

    @field_validator("log_level")
    @classmethod
    def _known_level(cls, level: str) -> str:
        names = ("DEBUG", "INFO", "WARNING", "ERROR")
        if level.upper() not in names:
            raise ValueError(f"log level {level!r} is invalid; use one of {', '.join(names)}")
        return level.upper()

    @model_validator(mode="after")
    def _request_fits_one_file(self) -> "Settings":
        if self.max_request_bytes < self.max_upload_bytes:
            raise ValueError(
                f"max_request_bytes ({self.max_request_bytes}) is below max_upload_bytes ({self.max_upload_bytes}), "
                "so no file of the allowed size could be sent; raise ACN_MAX_REQUEST_BYTES"
            )
        return self

    @property
    def resolved_database_url(self) -> str:
        if self.database_url is not None:
            return self.database_url
        return f"sqlite:///{(self.data_dir / DATABASE_NAME).resolve()}"

    @property
    def uploads_dir(self) -> Path:
        return self.data_dir / "uploads"

    @property
    def bootstrap_run_dir(self) -> Path:
        return self.data_dir / "runs" / "bootstrap"

    @property
    def bundles_dir(self) -> Path:
        return self.data_dir / "bundles"

    @property
    def resolved_data_root(self) -> Path:
        root = self.data_root if self.data_root is not None else self.data_dir / "datasets"
        return root.resolve()

    @property
    def training_runs_dir(self) -> Path:
        return self.data_dir / "training-runs"

    @property
    def added_images_dir(self) -> Path:
        return self.data_dir / "added-images"


@functools.cache
def get_settings() -> Settings:
    """Read the settings from the environment once per process."""
    return Settings()
