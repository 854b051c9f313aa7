"""The image a request starts from: an upload, an indexed image of the active model, or an uploaded file."""

import dataclasses

import numpy as np
from PIL import Image

from server.errors import ApiError, ErrorKind
from server.registry import Snapshot
from server.services import Services
from server.uploads import find_upload
from training.preprocess import preprocess_image


@dataclasses.dataclass(frozen=True, eq=False)
class Source:
    kind: str  # "upload" or "image"
    id: int
    model_input: np.ndarray  # uint8 (C, H, W) levels for the snapshot's encoder
    exclude_id: int | None  # the index entry to leave out of neighbour searches: the image itself


def check_one_of(**values: object) -> str:
    """Return the name of the one given (non-None) value, or raise WRONG_QUERY_COUNT."""
    given = [name for name, value in values.items() if value is not None]
    if len(given) != 1:
        raise ApiError(ErrorKind.WRONG_QUERY_COUNT, names=", ".join(values), given=", ".join(given) or "none")
    return given[0]


def image_source(snapshot: Snapshot, image_id: int) -> Source:
    try:
        model_input = snapshot.bundle.model_input(image_id)
    except KeyError:
        raise image_not_found(snapshot, image_id) from None
    return Source("image", image_id, model_input, exclude_id=image_id)


def image_not_found(snapshot: Snapshot, image_id: int) -> ApiError:
    ids = snapshot.bundle.ids
    return ApiError(ErrorKind.IMAGE_NOT_FOUND, image_id=image_id, version=snapshot.version, low=int(ids[0]), high=int(ids[-1]))


def upload_source(services: Services, snapshot: Snapshot, upload_id: int) -> Source:
    """Pre-process a stored upload again for the snapshot's model, which may differ from the one it was posted to."""
    row = find_upload(services.sessions, upload_id)
    if row is None:
        raise ApiError(ErrorKind.UPLOAD_NOT_FOUND, upload_id=upload_id)
    with Image.open(services.settings.data_dir / row.stored_path) as stored:
        stored.load()
        model_input = preprocess_image(stored, snapshot.bundle.preprocess_spec)  # (C, H, W)
    return Source("upload", upload_id, model_input, exclude_id=None)


def resolve_source(services: Services, snapshot: Snapshot, upload_id: int | None, image_id: int | None) -> Source:
    """Return the source named by exactly one of upload_id and image_id."""
    if check_one_of(upload_id=upload_id, image_id=image_id) == "upload_id":
        assert upload_id is not None
        return upload_source(services, snapshot, upload_id)
    assert image_id is not None
    return image_source(snapshot, image_id)
