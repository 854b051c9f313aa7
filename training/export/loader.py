"""`load_bundle`: open a model bundle for serving after verifying its format version and every file's hash."""

import dataclasses
import logging
import operator
import zipfile
from pathlib import Path
from typing import Any

import faiss
import numpy as np
import onnxruntime
import torch
from safetensors import SafetensorError
from safetensors.torch import load_file

from training.export.errors import BundleError
from training.export.layout import (
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
    PRIOR_INPUT,
    PRIOR_NAME,
    PRIOR_OUTPUTS,
    SOURCE_INDICES_NAME,
    UNCONDITIONAL_PRIOR_NAME,
)
from training.export.manifest import bundle_version, read_manifest, verify_files
from training.export.onnx_graphs import SESSION_ERRORS, onnx_providers, open_session, run_encoder, run_prior
from training.export.search import search_excluding
from training.models import GatedPixelCNN, ModelConfig, OutputType
from training.preprocess import PreprocessSpec
from training.unconditional import UnconditionalPrior, load_unconditional_prior

logger = logging.getLogger(__name__)

BATCH = 256  # images or codes per onnxruntime call, which bounds the memory one call takes


@dataclasses.dataclass(eq=False)
class Bundle:
    """A verified model bundle, ready to encode, search and decode.

    Ids are stable per bundle: export numbers the indexed images 0..N-1 in ascending data set index
    (of the training split by default), and source_indices maps each id back to its data set index.
    """

    path: Path
    manifest: dict[str, Any] = dataclasses.field(repr=False)
    version: str  # first 12 hex digits of the sha256 of manifest.json
    config: ModelConfig
    image_shape: tuple[int, int, int]  # (C, H, W)
    output_type: OutputType
    preprocess_spec: PreprocessSpec
    device: torch.device  # where the decoder runs
    decoder: GatedPixelCNN = dataclasses.field(repr=False)  # eval mode, gradients off
    unconditional_prior: UnconditionalPrior = dataclasses.field(repr=False)
    ids: np.ndarray = dataclasses.field(repr=False)  # int64 (N,), strictly increasing
    source_indices: np.ndarray = dataclasses.field(repr=False)  # int64 (N,)
    labels: np.ndarray | None = dataclasses.field(repr=False)  # int64 (N,)
    class_names: list[str] | None
    codes: np.ndarray = dataclasses.field(repr=False)  # float32 (N, D), row i belongs to ids[i]
    encoder_session: onnxruntime.InferenceSession = dataclasses.field(repr=False)
    prior_session: onnxruntime.InferenceSession = dataclasses.field(repr=False)
    index: faiss.Index = dataclasses.field(repr=False)
    model_inputs: np.ndarray = dataclasses.field(repr=False)  # uint8 (N, C, H, W)
    display_images: np.ndarray = dataclasses.field(repr=False)  # uint8 (N, C, H, W)

    def encode(self, images: np.ndarray) -> np.ndarray:
        """Encode integer pixel levels (N, C, H, W), as preprocess_image gives them, into codes (N, D) float32."""
        pixels = self._check_levels(np.asarray(images))
        if len(pixels) == 0:
            return np.zeros((0, self.config.code_size), dtype=np.float32)
        batches = [run_encoder(self.encoder_session, pixels[start : start + BATCH]) for start in range(0, len(pixels), BATCH)]
        return np.concatenate(batches)

    def encoder_input(self, images: np.ndarray) -> np.ndarray:
        """Turn decoded images (N, C, H, W) of the decoder's levels into encoder levels: 0/1 bits become 0/255 for a grey-reading encoder."""
        if self.config.encoder_levels == self.output_type.levels:
            return images
        factor = (self.config.encoder_levels - 1) // (self.output_type.levels - 1)
        return (np.asarray(images, dtype=np.uint8) * factor).astype(np.uint8)

    def prior_params(self, codes: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Return p(z|ĉ) for neighbour codes (N, D): mixture logits, means and scales, each (N, D, M) float32."""
        codes = self._check_codes(codes)
        if len(codes) == 0:
            empty = np.zeros((0, self.config.code_size, self.config.mixture_components), dtype=np.float32)
            return empty, empty.copy(), empty.copy()
        batches = [run_prior(self.prior_session, codes[start : start + BATCH]) for start in range(0, len(codes), BATCH)]
        logits, means, scales = (np.concatenate(parts) for parts in zip(*batches))
        return logits, means, scales

    def neighbours(
        self, codes: np.ndarray, k: int, exclude_ids: list[int | None] | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Return the ids (B, k) and squared L2 distances (B, k) of the k nearest indexed images to each code.

        exclude_ids gives, per query, the id to leave out (the query's own id when it is an indexed
        image) or None. Rows are padded with id -1 and distance inf when fewer than k images remain.
        """
        codes = self._check_codes(codes)
        if isinstance(k, bool) or not isinstance(k, int) or k < 1:
            raise ValueError(f"k must be a positive whole number, got {k!r}")
        excluded = [None] * len(codes) if exclude_ids is None else list(exclude_ids)
        if len(excluded) != len(codes):
            raise ValueError(f"exclude_ids has {len(excluded)} entries for {len(codes)} codes; give one per code")
        return search_excluding(self.index, self.ids, codes, k, excluded)

    def image(self, image_id: int) -> np.ndarray:
        """Return the display image of an indexed image: uint8 (C, H, W) grey levels 0..255."""
        return self.display_images[self._row(image_id)].copy()

    def model_input(self, image_id: int) -> np.ndarray:
        """Return an indexed image as the encoder saw it: uint8 (C, H, W), 0/1 when the encoder reads bits."""
        return self.model_inputs[self._row(image_id)].copy()

    def _row(self, image_id: int) -> int:
        value = operator.index(image_id)
        row = int(np.searchsorted(self.ids, value))
        if row >= len(self.ids) or self.ids[row] != value:
            raise KeyError(f"image id {value} is not in bundle {self.version}, whose {len(self.ids)} ids run {self.ids[0]}..{self.ids[-1]}")
        return row

    def _check_levels(self, pixels: np.ndarray) -> np.ndarray:
        channels, height, width = self.image_shape
        if pixels.ndim != 4 or pixels.shape[1:] != self.image_shape:
            raise ValueError(
                f"images must have shape (N, {channels}, {height}, {width}), got {pixels.shape}; "
                "add a batch axis with images[None] for one image"
            )
        if not (np.issubdtype(pixels.dtype, np.integer) or pixels.dtype == bool):
            raise ValueError(f"images must contain integer pixel levels such as uint8, got {pixels.dtype}")
        top = self.config.encoder_levels - 1
        if pixels.size and (pixels.min() < 0 or pixels.max() > top):
            raise ValueError(
                f"pixel levels must lie in 0..{top} for this model's encoder, got "
                f"{pixels.min()}..{pixels.max()}; pre-process uploads with preprocess_image"
            )
        return pixels

    def _check_codes(self, codes: np.ndarray) -> np.ndarray:
        codes = np.asarray(codes, dtype=np.float32)
        if codes.ndim != 2 or codes.shape[1] != self.config.code_size:
            raise ValueError(f"codes must have shape (N, {self.config.code_size}), got {codes.shape}")
        return codes


def load_bundle(bundle_dir: Path | str, device: str | None = None) -> Bundle:
    """Verify and open a bundle written by export_bundle, raising BundleError that names the bad file.

    device chooses where the decoder runs: None for CUDA when torch.cuda.is_available(), else the CPU. The onnxruntime
    sessions use CUDA only when that device is CUDA and the installed onnxruntime has CUDAExecutionProvider.
    """
    path = Path(bundle_dir)
    manifest, manifest_bytes = read_manifest(path)
    verify_files(path, manifest)
    config, image_shape, output_type, spec = _read_model_description(path, manifest)
    resolved_device = _resolve_device(device)
    providers = onnx_providers(resolved_device)

    encoder_session = _open_graph(path / ENCODER_NAME, providers, [ENCODER_INPUT], [ENCODER_OUTPUT])
    prior_session = _open_graph(path / PRIOR_NAME, providers, [PRIOR_INPUT], list(PRIOR_OUTPUTS))
    arrays = _load_arrays(path, manifest, config, image_shape)
    bundle = Bundle(
        path=path,
        manifest=manifest,
        version=bundle_version(manifest_bytes),
        config=config,
        image_shape=image_shape,
        output_type=output_type,
        preprocess_spec=spec,
        device=resolved_device,
        decoder=_load_decoder(path / DECODER_NAME, config, resolved_device),
        unconditional_prior=_load_prior(path / UNCONDITIONAL_PRIOR_NAME, config),
        ids=arrays[IDS_NAME],
        source_indices=arrays[SOURCE_INDICES_NAME],
        labels=arrays.get(LABELS_NAME),
        class_names=manifest.get("class_names"),
        codes=arrays[CODES_NAME],
        encoder_session=encoder_session,
        prior_session=prior_session,
        index=_load_index(path / INDEX_NAME, arrays[CODES_NAME]),
        model_inputs=arrays[MODEL_INPUTS_NAME],
        display_images=arrays[DISPLAY_IMAGES_NAME],
    )
    logger.info(
        "loaded bundle %s (version %s): %d images, decoder on %s, onnxruntime on %s",
        path, bundle.version, len(bundle.ids), resolved_device, providers[0],
    )  # fmt: skip
    return bundle


def _read_model_description(
    path: Path, manifest: dict[str, Any]
) -> tuple[ModelConfig, tuple[int, int, int], OutputType, PreprocessSpec]:
    manifest_path = path / MANIFEST_NAME
    try:
        config = ModelConfig.from_dict(manifest["model"])
        image_shape = tuple(int(size) for size in manifest["image_shape"])
        output_type = OutputType(manifest["output_type"])
        spec = PreprocessSpec.from_manifest(manifest)
    except (KeyError, TypeError, ValueError) as error:
        raise BundleError(f"{manifest_path} has an invalid model description ({error!r}); export the bundle again") from error
    expected_shape = (config.image_channels, config.image_size, config.image_size)
    if image_shape != expected_shape or spec.image_shape != expected_shape or output_type is not config.output_type:
        raise BundleError(
            f"{manifest_path} disagrees with itself: image_shape {image_shape}, output_type {output_type.value} and "
            f"pre-processing {spec.image_shape} against the model's {expected_shape}; export the bundle again"
        )
    return config, image_shape, output_type, spec  # type: ignore[return-value]


def _resolve_device(device: str | None) -> torch.device:
    if device is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        resolved = torch.device(device)
    except RuntimeError as error:
        raise ValueError(f"device {device!r} is invalid; use 'cpu', 'cuda' or None") from error
    if resolved.type not in ("cpu", "cuda"):
        raise ValueError(f"device {device!r} is not supported; use 'cpu', 'cuda' or None")
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {device!r} was requested but CUDA is not available to torch; use 'cpu' or None")
    return resolved


def _open_graph(
    path: Path, providers: list[str], inputs: list[str], outputs: list[str]
) -> onnxruntime.InferenceSession:
    try:
        session = open_session(path, providers)
    except SESSION_ERRORS as error:
        raise BundleError(f"{path} could not be loaded by onnxruntime ({error}); export the bundle again") from error
    found_inputs = [node.name for node in session.get_inputs()]
    found_outputs = [node.name for node in session.get_outputs()]
    if found_inputs != inputs or found_outputs != outputs:
        raise BundleError(
            f"{path} has inputs {found_inputs} and outputs {found_outputs}, expected {inputs} and {outputs}; "
            "export the bundle again"
        )
    return session


def _load_decoder(path: Path, config: ModelConfig, device: torch.device) -> GatedPixelCNN:
    decoder = GatedPixelCNN(config, is_conditional=config.has_encoder)
    try:
        decoder.load_state_dict(load_file(str(path)))
    except (SafetensorError, RuntimeError) as error:
        raise BundleError(f"{path} does not contain this model's decoder weights ({error}); export the bundle again") from error
    return decoder.to(device).eval().requires_grad_(False)


def _load_prior(path: Path, config: ModelConfig) -> UnconditionalPrior:
    try:
        prior = load_unconditional_prior(path)
    except (OSError, KeyError, ValueError, zipfile.BadZipFile) as error:
        raise BundleError(f"{path} is not a valid unconditional prior ({error}); export the bundle again") from error
    if prior.means.ndim != 2 or prior.means.shape[1] != config.code_size:
        raise BundleError(f"{path} has means {prior.means.shape}, not over {config.code_size}-dimensional codes; export the bundle again")
    return prior


def _load_arrays(path: Path, manifest: dict[str, Any], config: ModelConfig, image_shape: tuple[int, int, int]) -> dict[str, np.ndarray]:
    """Load the .npy files of the indexed images and check their shapes, types and ids."""
    names = [CODES_NAME, IDS_NAME, SOURCE_INDICES_NAME, MODEL_INPUTS_NAME, DISPLAY_IMAGES_NAME]
    if LABELS_NAME in manifest["files"]:
        names.append(LABELS_NAME)
    arrays = {name: _load_npy(path / name) for name in names}
    count = len(arrays[IDS_NAME])
    expected = {
        CODES_NAME: (np.float32, (count, config.code_size)),
        IDS_NAME: (np.int64, (count,)),
        SOURCE_INDICES_NAME: (np.int64, (count,)),
        MODEL_INPUTS_NAME: (np.uint8, (count, *image_shape)),
        DISPLAY_IMAGES_NAME: (np.uint8, (count, *image_shape)),
        LABELS_NAME: (np.int64, (count,)),
    }
    for name, array in arrays.items():
        dtype, shape = expected[name]
        if array.dtype != dtype or array.shape != shape:
            raise BundleError(f"{path / name} is {array.dtype} {array.shape}, expected {np.dtype(dtype)} {shape}; export the bundle again")
    if count == 0 or np.any(np.diff(arrays[IDS_NAME]) <= 0):
        raise BundleError(f"{path / IDS_NAME} must contain at least one id in strictly increasing order; export the bundle again")
    return arrays


def _load_npy(path: Path) -> np.ndarray:
    try:
        return np.load(path, allow_pickle=False)
    except (OSError, ValueError) as error:
        raise BundleError(f"{path} is not a valid .npy array ({error}); export the bundle again") from error


def _load_index(path: Path, codes: np.ndarray) -> faiss.Index:
    try:
        index = faiss.read_index(str(path))
    except RuntimeError as error:
        raise BundleError(f"{path} could not be read by faiss ({error}); export the bundle again") from error
    if index.metric_type != faiss.METRIC_L2 or index.ntotal != len(codes) or index.d != codes.shape[1]:
        raise BundleError(
            f"{path} contains {index.ntotal} vectors of {index.d} dimensions, expected {len(codes)} of {codes.shape[1]} "
            "under L2; export the bundle again"
        )
    return index
