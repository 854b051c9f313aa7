"""`export_bundle`: write a trained run as a model bundle directory that the server loads and nothing else."""

import datetime
import json
import logging
from pathlib import Path
from typing import Any

import faiss
import numpy as np
from safetensors.torch import save_file
from tqdm import tqdm

from training.export.errors import ExportError
from training.export.indexed_images import IndexedImages, other_collection, training_split
from training.export.layout import (
    BUNDLE_FORMAT_VERSION,
    CODES_NAME,
    DECODER_NAME,
    DISPLAY_IMAGES_NAME,
    ENCODER_INPUT,
    ENCODER_NAME,
    ENCODER_OUTPUT,
    IDS_NAME,
    INDEX_NAME,
    LABELS_NAME,
    MANIFEST_NAME,
    MODEL_INPUTS_NAME,
    ONNX_OPSET,
    PRIOR_INPUT,
    PRIOR_NAME,
    PRIOR_OUTPUTS,
    SOURCE_INDICES_NAME,
    UNCONDITIONAL_PRIOR_NAME,
)
from training.export.manifest import describe_files
from training.export.onnx_graphs import export_encoder, export_prior, open_session, run_encoder
from training.export.run_contents import RunContents, ensure_unconditional_prior, load_run, read_report
from training.fileio import atomic_replace_directory
from training.preprocess import MANIFEST_KEY as PREPROCESS_KEY
from training.preprocess import PreprocessSpec
from training.unconditional import UnconditionalPrior, save_unconditional_prior

logger = logging.getLogger(__name__)

ENCODE_BATCH = 256  # images per onnxruntime call while encoding the indexed images
NEIGHBOUR_DISTANCE = "squared_l2"  # what faiss IndexFlatL2 returns


def export_bundle(run_dir: Path | str, bundle_dir: Path | str, images: str | None = None, show_progress: bool = True) -> Path:
    """Write the bundle of a trained run to bundle_dir and return bundle_dir.

    images names the collection to index: None for the training split of the run's data set, else a
    data set name or path whose images are all indexed. The bundle is built in a temporary directory
    beside bundle_dir and renamed into place only when complete. So an interrupted export leaves
    either no bundle or the previous one. A run without unconditional_prior.npz gets one fitted and
    saved in the run first.
    """
    run_dir, bundle_dir = Path(run_dir), Path(bundle_dir)
    _check_target(run_dir, bundle_dir)
    run = load_run(run_dir)
    indexed = training_split(run.dataset, run.config) if images is None else other_collection(images, run.config)
    prior = ensure_unconditional_prior(run)
    report = read_report(run_dir)
    spec = PreprocessSpec.for_model(run.config.model, run.config.data)

    def build(directory: Path) -> None:
        _write_bundle(directory, run, indexed, prior, report, spec, show_progress)

    atomic_replace_directory(bundle_dir, build)
    logger.info("wrote bundle %s: %d indexed images from %s", bundle_dir, len(indexed.ids), indexed.name)
    return bundle_dir


def _check_target(run_dir: Path, bundle_dir: Path) -> None:
    """Reject a target whose replacement would delete the run or a directory that is not a bundle."""
    run, target = run_dir.resolve(), bundle_dir.resolve()
    if target == run or target in run.parents:
        raise ExportError(f"--bundle {bundle_dir} contains the run {run_dir} and would replace it; choose another directory")
    if target.exists() and not target.is_dir():
        raise ExportError(f"--bundle {bundle_dir} is a file; choose a directory path")
    if target.is_dir() and any(target.iterdir()) and not (target / MANIFEST_NAME).is_file():
        raise ExportError(
            f"--bundle {bundle_dir} is a non-empty directory without {MANIFEST_NAME}, so it is not a bundle "
            "that export may replace; choose a new path or empty it"
        )


def _write_bundle(
    directory: Path,
    run: RunContents,
    indexed: IndexedImages,
    prior: UnconditionalPrior,
    report: dict[str, Any] | None,
    spec: PreprocessSpec,
    show_progress: bool,
) -> None:
    export_encoder(run.model, directory / ENCODER_NAME)
    export_prior(run.model, directory / PRIOR_NAME)
    decoder_weights = {name: tensor.contiguous() for name, tensor in run.model.decoder.state_dict().items()}
    save_file(decoder_weights, str(directory / DECODER_NAME))
    save_unconditional_prior(directory / UNCONDITIONAL_PRIOR_NAME, prior)

    # The codes come from the exported graph, so that the server's encodings of the same images match them.
    codes = _encode(directory / ENCODER_NAME, indexed.model_inputs, show_progress)
    _save_array(directory / CODES_NAME, codes)
    index = faiss.IndexFlatL2(codes.shape[1])
    index.add(codes)
    faiss.write_index(index, str(directory / INDEX_NAME))

    _save_array(directory / IDS_NAME, indexed.ids)
    _save_array(directory / SOURCE_INDICES_NAME, indexed.source_indices)
    _save_array(directory / MODEL_INPUTS_NAME, indexed.model_inputs)
    _save_array(directory / DISPLAY_IMAGES_NAME, indexed.display_images)
    if indexed.labels is not None:
        _save_array(directory / LABELS_NAME, indexed.labels.astype(np.int64))

    manifest = _manifest(directory, run, indexed, prior, report, spec)
    (directory / MANIFEST_NAME).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    _make_readable(directory)


def _encode(encoder_path: Path, images: np.ndarray, show_progress: bool) -> np.ndarray:
    """Encode images (N, C, H, W) with the exported encoder graph, in batches, with a progress bar."""
    session = open_session(encoder_path, ["CPUExecutionProvider"])
    codes = []
    with tqdm(total=len(images), desc="encoding", unit="image", disable=not show_progress, dynamic_ncols=True) as progress:
        for start in range(0, len(images), ENCODE_BATCH):
            batch = images[start : start + ENCODE_BATCH]
            codes.append(run_encoder(session, batch))
            progress.update(len(batch))
    return np.ascontiguousarray(np.concatenate(codes), dtype=np.float32)  # (N, D)


def _make_readable(directory: Path) -> None:
    """Let every user read the bundle, as server processes may run as another user.

    The temporary directory (tempfile.mkdtemp) and unconditional_prior.npz (written through tempfile.mkstemp)
    start readable by their owner only.
    """
    directory.chmod(0o755)
    for path in directory.iterdir():
        path.chmod(0o644)


def _save_array(path: Path, array: np.ndarray) -> None:
    with open(path, "wb") as stream:
        np.save(stream, np.ascontiguousarray(array), allow_pickle=False)


def _manifest(
    directory: Path,
    run: RunContents,
    indexed: IndexedImages,
    prior: UnconditionalPrior,
    report: dict[str, Any] | None,
    spec: PreprocessSpec,
) -> dict[str, Any]:
    config = run.config
    return {
        "format_version": BUNDLE_FORMAT_VERSION,
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "model": config.model.to_dict(),
        "train_config": config.to_dict(),
        "checkpoint_step": run.checkpoint_step,
        "image_shape": list(spec.image_shape),
        "output_type": config.model.output_type.value,
        "dataset": {"name": config.data, "size": len(run.dataset.images)},
        "images": {
            "source": indexed.name,
            "part": indexed.part,
            "count": len(indexed.ids),
            "ids": f"0..N-1 in data set order; {SOURCE_INDICES_NAME} maps each id to its index in {indexed.name}",
        },
        "class_names": indexed.class_names,
        PREPROCESS_KEY: spec.to_dict(),
        "unconditional_prior": {"components": prior.components},
        "neighbour_distance": NEIGHBOUR_DISTANCE,
        "onnx": {
            "opset": ONNX_OPSET,
            "encoder": {"input": ENCODER_INPUT, "output": ENCODER_OUTPUT},
            "prior": {"input": PRIOR_INPUT, "outputs": list(PRIOR_OUTPUTS)},
        },
        "metrics": report,
        "files": describe_files(directory),
    }
