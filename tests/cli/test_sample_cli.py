"""Tests for `acn sample` in its three modes on tiny trained runs."""

import numpy as np
from PIL import Image

from cli.main import main
from training.data import Split, load_dataset


def _sample(run_dir, tmp_path, *flags) -> tuple[int, dict]:
    arrays_path = tmp_path / "arrays.npz"
    output = ["--out", str(tmp_path / "grid.png"), "--arrays", str(arrays_path)]
    code = main(["sample", str(run_dir), *output, "--quiet", *flags])
    if code != 0:
        return code, {}
    with np.load(arrays_path, allow_pickle=False) as arrays:
        return code, dict(arrays)


def test_unconditional_grid_and_arrays(tmp_path, trained_runs):
    code, arrays = _sample(trained_runs["acn"], tmp_path, "--mode", "unconditional", "--count", "5")
    assert code == 0
    assert arrays["images"].shape == (5, 1, 8, 8)
    assert arrays["latents"].shape == (5, 4)
    # Five images fill a 3-wide grid of two rows, each cell 8 pixels times the default scale of 3.
    with Image.open(tmp_path / "grid.png") as grid:
        assert grid.size == (3 * 24 + 2 * 2, 2 * 24 + 2)


def test_unconditional_fits_missing_prior(tmp_path, trained_runs):
    prior = trained_runs["acn"] / "unconditional_prior.npz"
    prior.unlink(missing_ok=True)
    code, _ = _sample(trained_runs["acn"], tmp_path, "--mode", "unconditional", "--count", "2")
    assert code == 0
    assert prior.is_file()


def test_sampling_repeats_under_seed(tmp_path, trained_runs):
    flags = ["--mode", "daydream", "--count", "2", "--length", "2", "--seed", "3"]
    _, first = _sample(trained_runs["acn"], tmp_path, *flags)
    _, second = _sample(trained_runs["acn"], tmp_path, *flags)
    assert np.array_equal(first["images"], second["images"])
    assert np.array_equal(first["test_positions"], second["test_positions"])


def test_reconstruction_rows_start_real(tmp_path, trained_runs, stripes_dir):
    flags = ["--mode", "reconstruction", "--images", "0,3", "--length", "2"]
    code, arrays = _sample(trained_runs["acn"], tmp_path, *flags)
    test_images, _ = load_dataset(str(stripes_dir), image_size=8, binarize=True).part(Split.TEST)
    assert code == 0
    assert arrays["images"].shape == (2, 3, 1, 8, 8)
    assert np.array_equal(arrays["images"][:, 0], test_images[[0, 3]])


def test_daydream_arrays_hold_chain(tmp_path, trained_runs):
    code, arrays = _sample(trained_runs["vae"], tmp_path, "--mode", "daydream", "--images", "1", "--length", "3")
    assert code == 0
    assert arrays["images"].shape == (1, 4, 1, 8, 8)
    assert arrays["codes"].shape == (1, 4, 4)
    assert arrays["latents"].shape == (1, 3, 4)


def test_pixelcnn_daydream_rejected(tmp_path, trained_runs, capsys):
    code, _ = _sample(trained_runs["pixelcnn"], tmp_path, "--mode", "daydream")
    assert code == 2
    assert "only --mode unconditional" in capsys.readouterr().err


def test_pixelcnn_unconditional_samples(tmp_path, trained_runs):
    code, arrays = _sample(trained_runs["pixelcnn"], tmp_path, "--mode", "unconditional", "--count", "2")
    assert code == 0
    assert set(arrays) == {"images", "mode", "seed"}


def test_image_id_out_of_range(tmp_path, trained_runs, capsys):
    code, _ = _sample(trained_runs["acn"], tmp_path, "--mode", "reconstruction", "--images", "99")
    assert code == 2
    assert "outside the test split of 16 images" in capsys.readouterr().err
