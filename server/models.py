"""SQLAlchemy 2 tables: model versions, uploads (one row per content hash) and upload codes per model version."""

import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, DateTime, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


def utc_now() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc)


class Base(DeclarativeBase):
    pass


class ModelVersion(Base):
    """A registered model bundle; at most one row is active, and that is the bundle the server loads."""

    __tablename__ = "model_versions"
    __table_args__ = (
        # Inactive rows hold NULL, which a unique index does not compare, so only one row can hold True.
        Index("ix_model_versions_one_active", "active", unique=True),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    version: Mapped[str] = mapped_column(String(64), unique=True)  # Bundle.version, a hash of manifest.json
    bundle_path: Mapped[str] = mapped_column(String(1024))
    summary: Mapped[dict[str, Any]] = mapped_column(JSON)  # data set, image shape, code size, index size, metrics
    active: Mapped[bool | None] = mapped_column(Boolean, nullable=True)  # True or NULL, never False
    registered_at: Mapped[datetime.datetime] = mapped_column(DateTime(timezone=True), default=utc_now)
    activated_at: Mapped[datetime.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class Upload(Base):
    """An uploaded image, stored once per content hash as uploads/<sha256>.png under the data directory."""

    __tablename__ = "uploads"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64), unique=True)  # of the decoded, normalised pixels
    stored_path: Mapped[str] = mapped_column(String(1024))  # relative to the data directory
    size_bytes: Mapped[int] = mapped_column(Integer)  # of the file as it was sent
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime.datetime] = mapped_column(DateTime(timezone=True), default=utc_now)

    codes: Mapped[list["UploadCode"]] = relationship(back_populates="upload")


class UploadCode(Base):
    """The code of an upload under one model version: the mean of q(z|x) from that version's encoder."""

    __tablename__ = "upload_codes"
    __table_args__ = (UniqueConstraint("upload_id", "model_version_id", name="uq_upload_codes_upload_version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    upload_id: Mapped[int] = mapped_column(ForeignKey("uploads.id", ondelete="CASCADE"))
    model_version_id: Mapped[int] = mapped_column(ForeignKey("model_versions.id", ondelete="CASCADE"))
    code: Mapped[list[float]] = mapped_column(JSON)
    created_at: Mapped[datetime.datetime] = mapped_column(DateTime(timezone=True), default=utc_now)

    upload: Mapped[Upload] = relationship(back_populates="codes")


class TrainingRun(Base):
    """An admin-requested retraining: `acn train`, `acn evaluate` and `acn export` run as subprocesses, then the swap."""

    __tablename__ = "training_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    state: Mapped[str] = mapped_column(String(16), index=True)  # RunState: queued, running, succeeded, failed, cancelled
    stage: Mapped[str | None] = mapped_column(String(16), nullable=True)  # train, evaluate, export or swap while running
    request: Mapped[dict[str, Any]] = mapped_column(JSON)  # TrainingRunRequest fields, resolved_data and train_arguments
    run_dir: Mapped[str] = mapped_column(String(1024))
    progress: Mapped[float] = mapped_column(Float, default=0.0)  # 0..1 over all stages
    metrics: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)  # training rows of metrics.jsonl, newest last
    log_tail: Mapped[str] = mapped_column(Text, default="")  # last lines of the subprocess output
    report: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)  # report.json of `acn evaluate`
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    swap: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)  # policy decision: activated and reasons
    bundle_path: Mapped[str | None] = mapped_column(String(1024), nullable=True)
    model_version_id: Mapped[int | None] = mapped_column(ForeignKey("model_versions.id", ondelete="SET NULL"), nullable=True)
    created_at: Mapped[datetime.datetime] = mapped_column(DateTime(timezone=True), default=utc_now)
    started_at: Mapped[datetime.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    finished_at: Mapped[datetime.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class AddedImage(Base):
    """An image an admin added to the searchable collection; encoded and indexed by every active version."""

    __tablename__ = "added_images"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64), unique=True)  # of the decoded, normalised pixels
    stored_path: Mapped[str] = mapped_column(String(1024))  # relative to the data directory
    source: Mapped[str] = mapped_column(String(1024))  # upload file name or server-side path
    label: Mapped[int | None] = mapped_column(Integer, nullable=True)  # class index, for models whose index has labels
    created_at: Mapped[datetime.datetime] = mapped_column(DateTime(timezone=True), default=utc_now)
