"""manifest.json of a model bundle: content hashes, format version and their verification."""

import hashlib
import json
from pathlib import Path
from typing import Any

from training.export.errors import BundleError
from training.export.layout import BUNDLE_FORMAT_VERSION, MANIFEST_NAME, REQUIRED_FILES

HASH_CHUNK_BYTES = 1 << 20
VERSION_HEX_DIGITS = 12


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        while chunk := stream.read(HASH_CHUNK_BYTES):
            digest.update(chunk)
    return digest.hexdigest()


def describe_files(directory: Path) -> dict[str, dict[str, Any]]:
    """Return {name: {"sha256", "bytes"}} for every file in directory except manifest.json."""
    return {
        path.name: {"sha256": sha256_file(path), "bytes": path.stat().st_size}
        for path in sorted(directory.iterdir())
        if path.is_file() and path.name != MANIFEST_NAME
    }


def bundle_version(manifest_bytes: bytes) -> str:
    """Return the short id of a bundle: the first 12 hex digits of the sha256 of its manifest.json."""
    return hashlib.sha256(manifest_bytes).hexdigest()[:VERSION_HEX_DIGITS]


def read_manifest(directory: Path) -> tuple[dict[str, Any], bytes]:
    """Read and parse manifest.json, rejecting a missing or malformed file and an unknown format version."""
    path = directory / MANIFEST_NAME
    if not directory.is_dir():
        raise BundleError(f"bundle directory {directory} not found; write one with `acn export RUN_DIR --bundle {directory}`")
    if not path.is_file():
        raise BundleError(f"{path} is missing, so {directory} is not a complete bundle; export it again with `acn export`")
    raw = path.read_bytes()
    try:
        manifest = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise BundleError(f"{path} is not valid JSON ({error}); export the bundle again") from error
    if not isinstance(manifest, dict):
        raise BundleError(f"{path} must contain a JSON object, got {type(manifest).__name__}; export the bundle again")
    check_format_version(manifest, path)
    return manifest, raw


def check_format_version(manifest: dict[str, Any], path: Path) -> None:
    version = manifest.get("format_version")
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise BundleError(f"{path} has an invalid format_version {version!r}; export the bundle again")
    if version > BUNDLE_FORMAT_VERSION:
        raise BundleError(
            f"{path} has bundle format version {version}, but this acn reads only versions up to "
            f"{BUNDLE_FORMAT_VERSION}; upgrade acn to load it"
        )


def verify_files(directory: Path, manifest: dict[str, Any]) -> None:
    """Check that every required file is listed and that every listed file has its recorded size and sha256.

    Files in the directory that the manifest does not list are ignored.
    """
    manifest_path = directory / MANIFEST_NAME
    files = manifest.get("files")
    if not isinstance(files, dict):
        raise BundleError(f"{manifest_path} has no 'files' table of hashes; export the bundle again")
    unlisted = [name for name in REQUIRED_FILES if name not in files]
    if unlisted:
        raise BundleError(f"{manifest_path} does not list {', '.join(unlisted)}; the bundle is incomplete, export it again")
    for name, entry in files.items():
        _verify_file(directory, manifest_path, name, entry)


def _verify_file(directory: Path, manifest_path: Path, name: str, entry: Any) -> None:
    # A listed name must stay inside the bundle, so a manifest cannot point the loader at other files.
    if not isinstance(name, str) or Path(name).name != name or name in ("", ".", ".."):
        raise BundleError(f"{manifest_path} lists {name!r}, which is not a plain file name; export the bundle again")
    if not isinstance(entry, dict) or not isinstance(entry.get("sha256"), str) or not isinstance(entry.get("bytes"), int):
        raise BundleError(f"{manifest_path} has no valid sha256 and size for {name}; export the bundle again")

    path = directory / name
    if not path.is_file():
        raise BundleError(f"{path} is missing; the bundle is incomplete, export it again")
    size = path.stat().st_size
    if size != entry["bytes"]:
        raise BundleError(
            f"{path} has {size} bytes but {MANIFEST_NAME} records {entry['bytes']}; "
            "the file is truncated or was modified, export the bundle again"
        )
    if sha256_file(path) != entry["sha256"]:
        raise BundleError(f"{path} does not match its sha256 in {MANIFEST_NAME}; the file was modified, export the bundle again")
