"""Activate or register an exported bundle from the admin side, keeping added images in the served index."""

import logging
from pathlib import Path

from server.admin.added_images import refresh_added_images
from server.models import ModelVersion
from server.registry import Snapshot, register_version
from server.services import Services
from training.export import load_bundle

logger = logging.getLogger(__name__)


def activate_bundle(services: Services, bundle_path: Path) -> Snapshot:
    """Make a bundle the active version, then index the added images in it.

    Requests in flight finish on the snapshot they took. The registry drops its reference to the old
    snapshot, so Python frees it once the last of those requests returns.
    """
    services.registry.activate(bundle_path)
    # NOTE: until this refresh finishes, new requests see the new version without the added images.
    snapshot = refresh_added_images(services)
    services.metrics.index_size.set(len(snapshot.bundle.ids))
    services.metrics.model_swaps.inc()
    return snapshot


def register_bundle(services: Services, bundle_path: Path) -> ModelVersion:
    """Record a verified bundle as an inactive version, which an admin can compare and activate later."""
    bundle = load_bundle(bundle_path, device="cpu")
    row = register_version(services.sessions, bundle, activate=False)
    logger.info("registered model version %s (id %d) from %s without activating it", bundle.version, row.id, bundle_path)
    return row
