"""Tests for `acn export` and the bundle loader, on runs of tiny models trained for a few steps."""

import gzip
import copy
import hashlib
import importlib
import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from cli.main import main as acn_main
from training.checkpoint import load_averaged_model
from training.codebook import CodeTable
from training.config import TrainConfig, preset_config
from training.data import Split, load_dataset
from training.export import BUNDLE_FORMAT_VERSION, Bundle, BundleError, ExportError, export_bundle, load_bundle
from training.export.onnx_graphs import export_prior, open_session, run_prior
from training.models import ACN, ModelKind, OutputType
from training.preprocess import PreprocessSpec, preprocess_image
from training.train import Trainer
from training.unconditional import PRIOR_NAME, load_unconditional_prior

TOLERANCE = 1e-5  # max abs difference between onnxruntime and PyTorch (the prior in float64)
DIGIT_SIZE = 12
COLOUR_SIZE = 8
REPORT = {"kl": {"k1": 1.5, "unconditional": 2.5}, "reconstruction": 30.0}


# --- helpers that write small data sets and train tiny runs ---


def write_idx(path: Path, array: np.ndarray) -> None:
    header = bytes([0, 0, 0x08, array.ndim]) + np.array(array.shape, dtype=">u4").tobytes()
    path.write_bytes(gzip.compress(header + array.astype(np.uint8).tobytes()))


def write_bar_digits(directory: Path, count: int, seed: int) -> None:
    """Write IDX images of three classes (horizontal bar, vertical bar, square) at random places, with faint speckle."""
    rng = np.random.default_rng(seed)
    labels = np.arange(count) % 3
    speckle = rng.random((count, DIGIT_SIZE, DIGIT_SIZE)) < 0.1
    images = np.where(speckle, 60, 0).astype(np.uint8)
    for image, label in zip(images, labels):
        row, column = rng.integers(2, 9, size=2)
        if label == 0:
            image[row : row + 2, 2:10] = 255
        elif label == 1:
            image[2:10, column : column + 2] = 230
        else:
            image[row : row + 3, column : column + 3] = 255
    directory.mkdir(parents=True)
    write_idx(directory / "train-images-idx3-ubyte.gz", images)
    write_idx(directory / "train-labels-idx1-ubyte.gz", labels)


def write_colour_folder(directory: Path, count: int) -> None:
    """Write count random RGB PNGs in two class sub-folders."""
    rng = np.random.default_rng(3)
    for i in range(count):
        folder = directory / ("red" if i % 2 else "blue")
        folder.mkdir(parents=True, exist_ok=True)
        pixels = rng.integers(0, 256, size=(COLOUR_SIZE, COLOUR_SIZE, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(folder / f"{i:03d}.png")


def tiny_config(data: Path, size: int, kind: ModelKind = ModelKind.ACN, binarize: bool | None = None) -> TrainConfig:
    config = preset_config("cpu")
    model = config.model
    model.kind = kind
    model.image_size = size
    model.code_size = 4
    model.mixture_components = 3
    model.encoder_channels = (8, 8)
    model.encoder_strides = (2, 2)
    model.prior_hidden = 32
    model.decoder_blocks = 1
    model.decoder_filters = 8
    model.conditioning_channels = 8
    config.data = str(data)
    config.binarize = binarize
    config.steps = 20
    config.batch_size = 16
    config.minutes = None
    return config


def train(config: TrainConfig, run_dir: Path) -> Path:
    dataset = load_dataset(config.data, image_size=config.model.image_size, binarize=config.binarize)
    Trainer(config, dataset, run_dir).run(show_progress=False)
    return run_dir


def save_png(path: Path, image: np.ndarray) -> Path:
    """Save uint8 (C, H, W) levels 0..255 as a PNG."""
    pixels = image[0] if image.shape[0] == 1 else image.transpose(1, 2, 0)
    Image.fromarray(np.ascontiguousarray(pixels)).save(path)
    return path


def copy_bundle(source: Path, tmp_path: Path) -> Path:
    target = tmp_path / "copy"
    shutil.copytree(source, target)
    return target


def torch_prior(model: ACN, codes: np.ndarray) -> list[np.ndarray]:
    """The model's prior parameters for codes, evaluated in float64 as the exported graph does."""
    with torch.no_grad():
        params = copy.deepcopy(model).double().prior_params(torch.from_numpy(codes).double())
    return [tensor.detach().numpy() for tensor in params]


def torch_codes(run_dir: Path, images: np.ndarray) -> np.ndarray:
    model = load_averaged_model(run_dir)[0]
    with torch.no_grad():
        return model.encode(torch.from_numpy(images).float()).numpy()


# --- fixtures: one binarized ACN run and one colour VAE run, each exported once ---


@pytest.fixture(scope="module")
def digit_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("digits") / "bars"
    write_bar_digits(directory, count=90, seed=0)
    return directory


@pytest.fixture(scope="module")
def acn_run(tmp_path_factory: pytest.TempPathFactory, digit_data: Path) -> Path:
    run_dir = train(tiny_config(digit_data, DIGIT_SIZE, binarize=True), tmp_path_factory.mktemp("acn") / "run")
    (run_dir / "report.json").write_text(json.dumps(REPORT), encoding="utf-8")
    return run_dir


@pytest.fixture(scope="module")
def acn_bundle_dir(acn_run: Path) -> Path:
    return export_bundle(acn_run, acn_run.parent / "bundle", show_progress=False)


@pytest.fixture(scope="module")
def acn_bundle(acn_bundle_dir: Path) -> Bundle:
    return load_bundle(acn_bundle_dir, device="cpu")


@pytest.fixture(scope="module")
def colour_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("colour")
    write_colour_folder(root / "images", count=24)
    return train(tiny_config(root / "images", COLOUR_SIZE, kind=ModelKind.VAE), root / "run")


@pytest.fixture(scope="module")
def colour_bundle(colour_run: Path) -> Bundle:
    return load_bundle(export_bundle(colour_run, colour_run.parent / "bundle", show_progress=False), device="cpu")


# --- the exported graphs agree with PyTorch ---


@pytest.mark.parametrize("batch", [1, 3, 64])
def test_encode_matches_torch(acn_run: Path, acn_bundle: Bundle, batch: int) -> None:
    images = np.random.default_rng(batch).integers(0, 2, size=(batch, 1, DIGIT_SIZE, DIGIT_SIZE), dtype=np.uint8)
    codes = acn_bundle.encode(images)
    assert codes.shape == (batch, 4)
    assert np.abs(codes - torch_codes(acn_run, images)).max() <= TOLERANCE


@pytest.mark.parametrize("batch", [1, 3, 64])
def test_prior_matches_torch(acn_run: Path, acn_bundle: Bundle, batch: int) -> None:
    codes = np.random.default_rng(batch).normal(size=(batch, 4)).astype(np.float32)
    model = load_averaged_model(acn_run)[0]
    for found, expected in zip(acn_bundle.prior_params(codes), torch_prior(model, codes)):
        assert found.shape == (batch, 4, 3)
        assert found.dtype == np.float32
        assert np.abs(found - expected).max() <= TOLERANCE


def test_prior_matches_torch_at_code_scale(tmp_path: Path, acn_run: Path) -> None:
    """Means near 50, as codes scaled by 30 give, still match to the tolerance: the graph runs in float64."""
    model = load_averaged_model(acn_run)[0]
    output = model.prior.to_output
    with torch.no_grad():
        output.weight.normal_(0.0, 1.0)
        output.bias.mul_(30.0)
    export_prior(model, tmp_path / "prior.onnx")
    session = open_session(tmp_path / "prior.onnx", ["CPUExecutionProvider"])
    codes = (30.0 * np.random.default_rng(0).normal(size=(64, 4))).astype(np.float32)
    found = run_prior(session, codes)
    expected = torch_prior(model, codes)
    assert np.abs(expected[1]).max() > 32.0  # float32 values there are 3.8e-6 apart
    for found_part, expected_part in zip(found, expected):
        assert np.abs(found_part - expected_part).max() <= TOLERANCE


@pytest.mark.parametrize("batch", [1, 3, 64])
def test_colour_encode_matches_torch(colour_run: Path, colour_bundle: Bundle, batch: int) -> None:
    shape = (batch, 3, COLOUR_SIZE, COLOUR_SIZE)
    images = np.random.default_rng(batch).integers(0, 256, size=shape, dtype=np.uint8)
    assert np.abs(colour_bundle.encode(images) - torch_codes(colour_run, images)).max() <= TOLERANCE


def test_colour_vae_prior_matches_torch(colour_run: Path, colour_bundle: Bundle) -> None:
    codes = np.random.default_rng(0).normal(size=(3, 4)).astype(np.float32)
    model = load_averaged_model(colour_run)[0]
    for found, expected in zip(colour_bundle.prior_params(codes), torch_prior(model, codes)):
        assert np.abs(found - expected).max() <= TOLERANCE


def test_indexed_codes_match_torch(acn_run: Path, acn_bundle: Bundle) -> None:
    expected = torch_codes(acn_run, acn_bundle.model_inputs)
    assert np.abs(acn_bundle.codes - expected).max() <= TOLERANCE


def test_decoder_matches_run(acn_run: Path, acn_bundle: Bundle) -> None:
    model = load_averaged_model(acn_run)[0]
    x = torch.randint(0, 2, (3, 1, DIGIT_SIZE, DIGIT_SIZE)).float()
    z = torch.randn(3, 4)
    with torch.no_grad():
        expected = model.decode(x, z)
        found = acn_bundle.decoder(x, z)
    assert not acn_bundle.decoder.training
    assert torch.equal(found, expected)


def test_encode_rejects_bad_levels(acn_bundle: Bundle) -> None:
    with pytest.raises(ValueError, match="0..255"):
        acn_bundle.encode(np.full((1, 1, DIGIT_SIZE, DIGIT_SIZE), 256, dtype=np.int16))


def test_encode_rejects_bad_shape(acn_bundle: Bundle) -> None:
    with pytest.raises(ValueError, match="images\\[None\\]"):
        acn_bundle.encode(np.zeros((1, DIGIT_SIZE, DIGIT_SIZE), dtype=np.uint8))


# --- search ---


def test_index_finds_own_image(acn_bundle: Bundle) -> None:
    # Identical images share a code, so k must cover the largest group of equal codes.
    _, group_sizes = np.unique(acn_bundle.codes, axis=0, return_counts=True)
    hits, distances = acn_bundle.neighbours(acn_bundle.codes, k=int(group_sizes.max()))
    for row, image_id in enumerate(acn_bundle.ids):
        assert image_id in hits[row]
        assert distances[row][list(hits[row]).index(image_id)] == pytest.approx(0.0, abs=1e-6)


def test_neighbours_match_code_table(acn_bundle: Bundle) -> None:
    table = CodeTable(len(acn_bundle.codes), 4, np.random.default_rng(0))
    table.codes = acn_bundle.codes.copy()
    expected = table.nearest(acn_bundle.codes, acn_bundle.ids, 5)
    found, _ = acn_bundle.neighbours(acn_bundle.codes, 5, exclude_ids=list(acn_bundle.ids))
    np.testing.assert_array_equal(found, expected)


def test_neighbours_exclude_by_id(acn_bundle: Bundle) -> None:
    query = acn_bundle.codes[:1]
    hits, distances = acn_bundle.neighbours(query, 4, exclude_ids=[1])
    assert hits[0, 0] == 0
    assert 1 not in hits[0]


def test_neighbour_distances_squared_l2(acn_bundle: Bundle) -> None:
    query = acn_bundle.codes[5:6] + 0.1
    hits, distances = acn_bundle.neighbours(query, 4)
    expected = ((acn_bundle.codes[hits[0]] - query) ** 2).sum(axis=1)
    np.testing.assert_allclose(distances[0], expected, rtol=1e-4, atol=1e-6)
    assert np.all(np.diff(distances[0]) >= 0)


def test_neighbours_padded_when_few(acn_bundle: Bundle) -> None:
    count = len(acn_bundle.ids)
    hits, distances = acn_bundle.neighbours(acn_bundle.codes[:1], count + 2, exclude_ids=[0])
    assert np.all(hits[0, : count - 1] >= 0)
    assert np.all(hits[0, count - 1 :] == -1)
    assert np.all(np.isinf(distances[0, count - 1 :]))


# --- images, labels and the manifest ---


def test_images_are_training_split(digit_data: Path, acn_bundle: Bundle) -> None:
    dataset = load_dataset(str(digit_data), image_size=DIGIT_SIZE, binarize=True)
    np.testing.assert_array_equal(acn_bundle.ids, np.arange(len(dataset.indices[Split.TRAIN])))
    np.testing.assert_array_equal(acn_bundle.source_indices, dataset.indices[Split.TRAIN])
    source = acn_bundle.source_indices[7]
    np.testing.assert_array_equal(acn_bundle.image(7), dataset.raw_images[source])
    # The cpu preset's encoder reads the grey levels, not the bits the decoder models.
    np.testing.assert_array_equal(acn_bundle.model_input(7), dataset.raw_images[source])
    assert acn_bundle.labels[7] == dataset.labels[source]
    assert acn_bundle.class_names == ["0", "1", "2"]


def test_unknown_image_id_raises(acn_bundle: Bundle) -> None:
    with pytest.raises(KeyError, match="999"):
        acn_bundle.image(999)


def test_manifest_records_run(acn_run: Path, acn_bundle: Bundle) -> None:
    manifest = acn_bundle.manifest
    config = load_averaged_model(acn_run)[1]
    assert manifest["format_version"] == BUNDLE_FORMAT_VERSION
    assert manifest["model"] == config.model.to_dict()
    assert manifest["image_shape"] == [1, DIGIT_SIZE, DIGIT_SIZE]
    assert manifest["output_type"] == "bernoulli"
    assert manifest["dataset"] == {"name": config.data, "size": 90}
    assert manifest["metrics"] == REPORT
    assert manifest["checkpoint_step"] == 20
    assert acn_bundle.output_type is OutputType.BERNOULLI
    assert acn_bundle.image_shape == (1, DIGIT_SIZE, DIGIT_SIZE)


def test_manifest_without_report(colour_bundle: Bundle) -> None:
    assert colour_bundle.manifest["metrics"] is None


def test_version_hashes_manifest(acn_bundle_dir: Path, acn_bundle: Bundle) -> None:
    digest = hashlib.sha256((acn_bundle_dir / "manifest.json").read_bytes()).hexdigest()
    assert acn_bundle.version == digest[:12]


def test_prior_fitted_and_saved_in_run(acn_run: Path, acn_bundle: Bundle) -> None:
    saved = load_unconditional_prior(acn_run / PRIOR_NAME)
    np.testing.assert_array_equal(acn_bundle.unconditional_prior.means, saved.means)
    assert acn_bundle.manifest["unconditional_prior"]["components"] == saved.components


def test_fresh_prior_reused(tmp_path: Path, acn_run: Path, acn_bundle: Bundle) -> None:
    run_dir = shutil.copytree(acn_run, tmp_path / "run")
    before = (run_dir / PRIOR_NAME).stat().st_mtime_ns
    export_bundle(run_dir, tmp_path / "bundle", show_progress=False)
    assert (run_dir / PRIOR_NAME).stat().st_mtime_ns == before


def test_stale_prior_fitted_again(tmp_path: Path, acn_run: Path, acn_bundle: Bundle) -> None:
    run_dir = shutil.copytree(acn_run, tmp_path / "run")
    checkpoint_time = (run_dir / "checkpoint.pt").stat().st_mtime
    os.utime(run_dir / PRIOR_NAME, (checkpoint_time - 60, checkpoint_time - 60))
    export_bundle(run_dir, tmp_path / "bundle", show_progress=False)
    assert (run_dir / PRIOR_NAME).stat().st_mtime >= checkpoint_time


# --- the PNG path and the data set path give the same code ---


def test_png_digit_gets_dataset_code(tmp_path: Path, acn_bundle: Bundle) -> None:
    grey = acn_bundle.model_input(4)
    path = save_png(tmp_path / "digit.png", grey)
    with Image.open(path) as upload:
        levels = preprocess_image(upload, PreprocessSpec.from_manifest(acn_bundle.manifest))
    np.testing.assert_array_equal(levels, grey)
    assert np.abs(acn_bundle.encode(levels[None])[0] - acn_bundle.codes[4]).max() <= TOLERANCE


def test_png_colour_gets_dataset_code(tmp_path: Path, colour_bundle: Bundle) -> None:
    path = save_png(tmp_path / "colour.png", colour_bundle.image(2))
    with Image.open(path) as upload:
        levels = preprocess_image(upload, colour_bundle.preprocess_spec)
    np.testing.assert_array_equal(levels, colour_bundle.model_input(2))
    assert np.abs(colour_bundle.encode(levels[None])[0] - colour_bundle.codes[2]).max() <= TOLERANCE


# --- rejected bundles name the bad file ---


def test_truncated_file_rejected(tmp_path: Path, acn_bundle_dir: Path) -> None:
    bundle_dir = copy_bundle(acn_bundle_dir, tmp_path)
    path = bundle_dir / "encoder.onnx"
    path.write_bytes(path.read_bytes()[:100])
    with pytest.raises(BundleError, match="encoder.onnx"):
        load_bundle(bundle_dir, device="cpu")


def test_edited_file_rejected(tmp_path: Path, acn_bundle_dir: Path) -> None:
    bundle_dir = copy_bundle(acn_bundle_dir, tmp_path)
    path = bundle_dir / "codes.npy"
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(BundleError, match="codes.npy.*sha256"):
        load_bundle(bundle_dir, device="cpu")


def test_missing_file_rejected(tmp_path: Path, acn_bundle_dir: Path) -> None:
    bundle_dir = copy_bundle(acn_bundle_dir, tmp_path)
    (bundle_dir / "index.faiss").unlink()
    with pytest.raises(BundleError, match="index.faiss is missing"):
        load_bundle(bundle_dir, device="cpu")


def test_missing_manifest_rejected(tmp_path: Path, acn_bundle_dir: Path) -> None:
    bundle_dir = copy_bundle(acn_bundle_dir, tmp_path)
    (bundle_dir / "manifest.json").unlink()
    with pytest.raises(BundleError, match="manifest.json is missing"):
        load_bundle(bundle_dir, device="cpu")


def test_unlisted_required_file_rejected(tmp_path: Path, acn_bundle_dir: Path) -> None:
    bundle_dir = copy_bundle(acn_bundle_dir, tmp_path)
    manifest = json.loads((bundle_dir / "manifest.json").read_text())
    del manifest["files"]["prior.onnx"]
    (bundle_dir / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(BundleError, match="does not list prior.onnx"):
        load_bundle(bundle_dir, device="cpu")


def test_newer_version_rejected(tmp_path: Path, acn_bundle_dir: Path) -> None:
    bundle_dir = copy_bundle(acn_bundle_dir, tmp_path)
    manifest = json.loads((bundle_dir / "manifest.json").read_text())
    manifest["format_version"] = BUNDLE_FORMAT_VERSION + 1
    (bundle_dir / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(BundleError, match="manifest.json.*upgrade acn"):
        load_bundle(bundle_dir, device="cpu")


def test_extra_file_ignored(tmp_path: Path, acn_bundle_dir: Path) -> None:
    bundle_dir = copy_bundle(acn_bundle_dir, tmp_path)
    (bundle_dir / "notes.txt").write_text("added by hand")
    assert len(load_bundle(bundle_dir, device="cpu").ids) == 63


# --- export writes atomically and rejects what it cannot serve ---


def test_interrupted_export_leaves_nothing(tmp_path: Path, acn_run: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bundle_module = importlib.import_module("training.export.bundle")

    def interrupt(directory: Path) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(bundle_module, "describe_files", interrupt)
    with pytest.raises(KeyboardInterrupt):
        export_bundle(acn_run, tmp_path / "bundle", show_progress=False)
    assert list(tmp_path.iterdir()) == []


def test_interrupted_export_keeps_old_bundle(
    tmp_path: Path, acn_bundle_dir: Path, acn_run: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bundle_dir = copy_bundle(acn_bundle_dir, tmp_path)
    before = (bundle_dir / "manifest.json").read_bytes()
    bundle_module = importlib.import_module("training.export.bundle")

    def interrupt(directory: Path) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(bundle_module, "describe_files", interrupt)
    with pytest.raises(KeyboardInterrupt):
        export_bundle(acn_run, bundle_dir, show_progress=False)
    assert (bundle_dir / "manifest.json").read_bytes() == before
    assert sorted(path.name for path in tmp_path.iterdir()) == ["copy"]


def test_pixelcnn_run_rejected(tmp_path: Path, digit_data: Path) -> None:
    config = tiny_config(digit_data, DIGIT_SIZE, kind=ModelKind.PIXELCNN, binarize=True)
    config.steps = 1
    run_dir = train(config, tmp_path / "run")
    with pytest.raises(ExportError, match="no encoder"):
        export_bundle(run_dir, tmp_path / "bundle", show_progress=False)
    assert not (tmp_path / "bundle").exists()


def test_foreign_directory_not_replaced(tmp_path: Path, acn_run: Path) -> None:
    (tmp_path / "photos").mkdir()
    (tmp_path / "photos" / "cat.jpg").write_bytes(b"not a bundle")
    with pytest.raises(ExportError, match="not a bundle"):
        export_bundle(acn_run, tmp_path / "photos", show_progress=False)
    assert (tmp_path / "photos" / "cat.jpg").read_bytes() == b"not a bundle"


def test_bundle_over_run_rejected(acn_run: Path) -> None:
    with pytest.raises(ExportError, match="would replace it"):
        export_bundle(acn_run, acn_run.parent, show_progress=False)
    assert (acn_run / "checkpoint.pt").is_file()


def test_load_missing_directory(tmp_path: Path) -> None:
    with pytest.raises(BundleError, match="not found"):
        load_bundle(tmp_path / "absent", device="cpu")


def test_cli_exports_other_images(tmp_path: Path, acn_run: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_bar_digits(tmp_path / "more", count=10, seed=5)
    arguments = ["export", str(acn_run), "--bundle", str(tmp_path / "bundle"), "--images", str(tmp_path / "more")]
    assert acn_main([*arguments, "--quiet"]) == 0
    bundle = load_bundle(tmp_path / "bundle", device="cpu")
    assert len(bundle.ids) == 10
    assert bundle.manifest["images"]["part"] == "all"
    assert bundle.labels.tolist() == [0, 1, 2, 0, 1, 2, 0, 1, 2, 0]
    assert "10 images" in capsys.readouterr().err


def test_cli_reports_missing_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert acn_main(["export", str(tmp_path / "none"), "--bundle", str(tmp_path / "bundle")]) == 2
    assert "checkpoint" in capsys.readouterr().err
