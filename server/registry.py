"""Model versions in the database, and the active model held as one immutable snapshot swapped by reference."""

import dataclasses
import datetime
import logging
import threading
from pathlib import Path
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from server.db import transaction
from server.errors import ApiError, ErrorKind
from server.models import ModelVersion, utc_now
from training.export import Bundle, load_bundle

logger = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True, eq=False)
class Snapshot:
    """Encoder, prior, decoder and index of one model version; a request takes one and uses it throughout."""

    bundle: Bundle
    model_version_id: int  # ModelVersion.id in the database
    loaded_at: datetime.datetime

    @property
    def version(self) -> str:
        return self.bundle.version


def summarise(bundle: Bundle) -> dict[str, Any]:
    """Return the manifest facts stored with a model version and listed by GET /api/models."""
    manifest = bundle.manifest
    return {
        "dataset": manifest.get("dataset"),
        "image_shape": list(bundle.image_shape),
        "output_type": bundle.output_type.value,
        "code_size": bundle.config.code_size,
        "indexed_images": int(len(bundle.ids)),
        "created": manifest.get("created"),
        "checkpoint_step": manifest.get("checkpoint_step"),
        "metrics": manifest.get("metrics"),
    }


def register_version(factory: sessionmaker[Session], bundle: Bundle, activate: bool) -> ModelVersion:
    """Insert or update the row of a bundle's version; with activate, make it the only active row."""
    with transaction(factory) as session:
        row = session.scalars(select(ModelVersion).where(ModelVersion.version == bundle.version)).one_or_none()
        if row is None:
            row = ModelVersion(version=bundle.version, bundle_path=str(bundle.path.resolve()), summary=summarise(bundle))
            session.add(row)
        else:
            row.bundle_path = str(bundle.path.resolve())
        if activate:
            session.execute(update(ModelVersion).where(ModelVersion.active.is_(True)).values(active=None))
            session.flush()
            row.active = True
            row.activated_at = utc_now()
        session.flush()
        session.refresh(row)
        return row


def active_version(factory: sessionmaker[Session]) -> ModelVersion | None:
    with transaction(factory) as session:
        return session.scalars(select(ModelVersion).where(ModelVersion.active.is_(True))).one_or_none()


def list_versions(factory: sessionmaker[Session]) -> list[ModelVersion]:
    with transaction(factory) as session:
        return list(session.scalars(select(ModelVersion).order_by(ModelVersion.id)))


def get_version(factory: sessionmaker[Session], model_id: int) -> ModelVersion | None:
    with transaction(factory) as session:
        return session.get(ModelVersion, model_id)


class Registry:
    """The active snapshot of a server process; activate() replaces it whole, never in parts."""

    def __init__(self, factory: sessionmaker[Session], device: str | None = None) -> None:
        self._factory = factory
        self._device = device
        self._snapshot: Snapshot | None = None
        self._activation_lock = threading.Lock()  # one load at a time; readers never take it

    @property
    def is_ready(self) -> bool:
        return self._snapshot is not None

    def current(self) -> Snapshot:
        """Return the active snapshot, or raise NOT_READY (503) before the first model is loaded."""
        snapshot = self._snapshot
        if snapshot is None:
            raise ApiError(ErrorKind.NOT_READY)
        return snapshot

    def activate(self, bundle_dir: Path) -> Snapshot:
        """Load and verify a bundle, record it as the active version, then swap it in for new requests."""
        with self._activation_lock:
            bundle = load_bundle(bundle_dir, device=self._device)
            row = register_version(self._factory, bundle, activate=True)
            snapshot = Snapshot(bundle=bundle, model_version_id=row.id, loaded_at=utc_now())
            # One reference assignment, so a request gets either the old snapshot or the new one, never a mix.
            self._snapshot = snapshot
        logger.info("serving model version %s (id %d) from %s", bundle.version, row.id, bundle_dir)
        return snapshot
