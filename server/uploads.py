"""Upload storage: one PNG file and one row per content hash, and one code row per upload and model version."""

from pathlib import Path

import numpy as np
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from server.db import transaction
from server.images import DecodedUpload, png_bytes
from server.models import Upload, UploadCode
from training.fileio import atomic_write


def stored_name(sha256: str) -> str:
    return f"uploads/{sha256}.png"


def write_upload_file(data_dir: Path, upload: DecodedUpload) -> str:
    """Write the normalised image as uploads/<sha256>.png unless that file exists; return its relative path."""
    relative = stored_name(upload.sha256)
    path = data_dir / relative
    if not path.is_file():
        content = png_bytes(upload.stored_image)
        atomic_write(path, lambda temporary: temporary.write_bytes(content))
    return relative


def store_uploads(
    factory: sessionmaker[Session], data_dir: Path, uploads: list[DecodedUpload], codes: np.ndarray, model_version_id: int
) -> list[int]:
    """Record uploads with their codes under one model version and return their upload ids, in order."""
    paths = {upload.sha256: write_upload_file(data_dir, upload) for upload in uploads}
    with transaction(factory) as session:
        rows = _upload_rows(session, uploads, paths)
        ids = [rows[upload.sha256].id for upload in uploads]
        _store_codes(session, ids, codes, model_version_id)
    return ids


def _upload_rows(session: Session, uploads: list[DecodedUpload], paths: dict[str, str]) -> dict[str, Upload]:
    """Return the row of every content hash, inserting the missing ones."""
    hashes = sorted(paths)
    rows = {row.sha256: row for row in session.scalars(select(Upload).where(Upload.sha256.in_(hashes)))}
    for upload in uploads:
        if upload.sha256 in rows:
            continue
        row = Upload(
            sha256=upload.sha256,
            stored_path=paths[upload.sha256],
            size_bytes=upload.size_bytes,
            width=upload.stored_image.width,
            height=upload.stored_image.height,
        )
        rows[upload.sha256] = _insert_or_fetch(session, row, Upload.sha256 == upload.sha256)
    return rows


def _insert_or_fetch(session: Session, row: Upload, same: object) -> Upload:
    """Insert row in a savepoint; if a concurrent writer inserted the same hash first, return that row.

    SQLite transactions here start with BEGIN IMMEDIATE and never race; this covers PostgreSQL.
    """
    try:
        with session.begin_nested():
            session.add(row)
            session.flush()
        return row
    except IntegrityError:
        return session.scalars(select(Upload).where(same)).one()


def _store_codes(session: Session, ids: list[int], codes: np.ndarray, model_version_id: int) -> None:
    existing = set(
        session.scalars(
            select(UploadCode.upload_id).where(UploadCode.model_version_id == model_version_id, UploadCode.upload_id.in_(ids))
        )
    )
    for upload_id, code in zip(ids, codes):
        if upload_id in existing:
            continue
        existing.add(upload_id)
        session.add(UploadCode(upload_id=upload_id, model_version_id=model_version_id, code=[float(value) for value in code]))


def find_upload(factory: sessionmaker[Session], upload_id: int) -> Upload | None:
    with transaction(factory) as session:
        return session.get(Upload, upload_id)


def find_code(factory: sessionmaker[Session], upload_id: int, model_version_id: int) -> list[float] | None:
    with transaction(factory) as session:
        statement = select(UploadCode.code).where(
            UploadCode.upload_id == upload_id, UploadCode.model_version_id == model_version_id
        )
        return session.scalars(statement).one_or_none()
