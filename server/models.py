"""SQLAlchemy 2 tables: model versions, uploads (one row per content hash) and upload codes per model version."""

import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, DateTime, ForeignKey, Index, Integer, String, UniqueConstraint
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
