"""Images an admin adds to the searchable collection without retraining, indexed by a derived snapshot.

Bundles are read-only, so added images live under DATA_DIR/added-images and in the added_images table.
Each activation encodes them with the new version's encoder and serves a snapshot that shares the
bundle's networks but has a copy of its faiss index with their codes appended.
"""

import dataclasses
import logging
from pathlib import Path

import faiss
import numpy as np
from PIL import Image
from sqlalchemy import select

from server.db import transaction
from server.images import DecodedUpload, decode_upload
from server.models import AddedImage, utc_now
from server.registry import Snapshot
from server.services import Services
from training.export import Bundle
from training.preprocess import preprocess_image

logger = logging.getLogger(__name__)

# Added image ids start here, far above any bundle's 0..N-1, so ids stay stable across versions.
ADDED_ID_BASE = 1_000_000_000


def added_image_id(row_id: int) -> int:
    return ADDED_ID_BASE + row_id


def store_added_images(services: Services, decoded: list[DecodedUpload], label: int | None) -> list[AddedImage]:
    """Save decoded images as PNG files and rows; an image whose pixels are already added keeps its row."""
    directory = services.settings.added_images_dir
    directory.mkdir(parents=True, exist_ok=True)
    rows = []
    with transaction(services.sessions) as session:
        for upload in decoded:
            row = session.scalars(select(AddedImage).where(AddedImage.sha256 == upload.sha256)).one_or_none()
            if row is None:
                relative = Path("added-images") / f"{upload.sha256}.png"
                upload.stored_image.save(services.settings.data_dir / relative, format="PNG")
                row = AddedImage(sha256=upload.sha256, stored_path=str(relative), source=upload.name or "upload", label=label, created_at=utc_now())
                session.add(row)
                session.flush()
            rows.append(row)
    return rows


def decode_files(services: Services, snapshot: Snapshot, files: list[tuple[str | None, bytes]]) -> list[DecodedUpload]:
    settings = services.settings
    spec = snapshot.bundle.preprocess_spec
    return [
        decode_upload(index, name, data, spec, settings.max_upload_bytes, settings.max_image_pixels)
        for index, (name, data) in enumerate(files)
    ]


def refresh_added_images(services: Services) -> Snapshot:
    """Swap in a snapshot of the active version with every added image indexed, and return it."""
    registry = services.registry
    # NOTE: Registry has no public method to install a derived snapshot, so this takes its activation
    # lock and assigns its snapshot reference directly, the same single assignment that activate() uses.
    with registry._activation_lock:
        current = registry.current()
        with transaction(services.sessions) as session:
            rows = list(session.scalars(select(AddedImage).order_by(AddedImage.id)))
        derived = _derive(current, rows, services.settings.data_dir)
        registry._snapshot = derived
    services.metrics.index_size.set(len(derived.bundle.ids))
    return derived


def _derive(snapshot: Snapshot, rows: list[AddedImage], data_dir: Path) -> Snapshot:
    base = _base_bundle(snapshot.bundle)
    usable = [row for row in rows if _label_fits(base, row)]
    if not usable:
        return dataclasses.replace(snapshot, bundle=base)
    inputs, displays = _load_pixels(base, usable, data_dir)  # (N, C, H, W) each
    codes = base.encode(inputs)  # (N, D)
    index = faiss.clone_index(base.index)
    index.add(codes)
    labels = None if base.labels is None else np.concatenate([base.labels, [row.label for row in usable]]).astype(np.int64)
    bundle = dataclasses.replace(
        base,
        ids=np.concatenate([base.ids, [added_image_id(row.id) for row in usable]]).astype(np.int64),
        source_indices=np.concatenate([base.source_indices, np.full(len(usable), -1)]).astype(np.int64),
        labels=labels,
        codes=np.concatenate([base.codes, codes]),
        index=index,
        model_inputs=np.concatenate([base.model_inputs, inputs]),
        display_images=np.concatenate([base.display_images, displays]),
    )
    bundle.base_bundle = base  # type: ignore[attr-defined]
    return dataclasses.replace(snapshot, bundle=bundle)


def _base_bundle(bundle: Bundle) -> Bundle:
    """Return the bundle as loaded from disk, so that images are never added twice."""
    return getattr(bundle, "base_bundle", bundle)


def _label_fits(bundle: Bundle, row: AddedImage) -> bool:
    if bundle.labels is None:
        return True
    classes = len(bundle.class_names or []) or int(bundle.labels.max()) + 1
    if row.label is None or not 0 <= row.label < classes:
        logger.warning("added image %d has label %s, outside this model's classes 0..%d; it is not indexed", row.id, row.label, classes - 1)
        return False
    return True


def _load_pixels(bundle: Bundle, rows: list[AddedImage], data_dir: Path) -> tuple[np.ndarray, np.ndarray]:
    spec = bundle.preprocess_spec
    display_spec = dataclasses.replace(spec, binarize_threshold=None)
    inputs, displays = [], []
    for row in rows:
        with Image.open(data_dir / row.stored_path) as image:
            image.load()
            inputs.append(preprocess_image(image, spec))  # (C, H, W)
            displays.append(preprocess_image(image, display_spec))  # (C, H, W)
    return np.stack(inputs).astype(np.uint8), np.stack(displays).astype(np.uint8)
