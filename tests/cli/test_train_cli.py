import json
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from cli.main import main
from training.checkpoint import load_checkpoint

TINY = [
    "--encoder-channels", "8,8", "--encoder-strides", "2,2", "--prior-hidden", "16",
    "--decoder-blocks", "1", "--decoder-filters", "8", "--conditioning-channels", "4",
    "--batch-size", "4", "--quiet",
]  # fmt: skip


@pytest.fixture
def image_folder(tmp_path):
    rng = np.random.default_rng(0)
    for label in ("circles", "squares"):
        (tmp_path / "images" / label).mkdir(parents=True)
        for index in range(10):
            pixels = (rng.random((8, 8)) * 255).astype(np.uint8)
            Image.fromarray(pixels).save(tmp_path / "images" / label / f"{index}.png")
    return tmp_path / "images"


def test_train_on_folder_then_resume(tmp_path, image_folder):
    run_dir = tmp_path / "run"
    args = ["train", "--data", str(image_folder), "--out", str(run_dir), "--image-size", "8", *TINY]
    assert main([*args, "--steps", "3"]) == 0
    assert load_checkpoint(run_dir)["step"] == 3
    assert main(["train", "--out", str(run_dir), "--resume", "--steps", "5", "--quiet"]) == 0
    assert load_checkpoint(run_dir)["step"] == 5
    config = json.loads((run_dir / "config.json").read_text())["config"]
    assert config["model"]["output_type"] == "categorical"
    assert config["model"]["decoder_blocks"] == 1


def test_resume_rejects_changed_options(tmp_path, image_folder, capsys):
    run_dir = tmp_path / "run"
    main(["train", "--data", str(image_folder), "--out", str(run_dir), "--image-size", "8", "--steps", "2", *TINY])
    assert main(["train", "--out", str(run_dir), "--resume", "--batch-size", "8", "--quiet"]) == 2
    assert "drop --batch-size" in capsys.readouterr().err


def test_resume_accepts_repeated_options(tmp_path, image_folder):
    run_dir = tmp_path / "run"
    main(["train", "--data", str(image_folder), "--out", str(run_dir), "--image-size", "8", "--steps", "2", *TINY])
    repeated = ["--data", str(image_folder), "--batch-size", "4", "--encoder-channels", "8,8", "--seed", "0"]
    assert main(["train", "--out", str(run_dir), "--resume", "--steps", "3", *repeated, "--quiet"]) == 0
    assert load_checkpoint(run_dir)["step"] == 3


def test_existing_run_not_replaced(tmp_path, image_folder, capsys):
    run_dir = tmp_path / "run"
    args = ["train", "--data", str(image_folder), "--out", str(run_dir), "--image-size", "8", *TINY]
    assert main([*args, "--steps", "3"]) == 0
    assert main([*args, "--steps", "1"]) == 2
    error = capsys.readouterr().err
    assert "already contains a training run" in error
    assert "--resume" in error
    assert load_checkpoint(run_dir)["step"] == 3


def test_overwrite_replaces_run(tmp_path, image_folder):
    run_dir = tmp_path / "run"
    args = ["train", "--data", str(image_folder), "--out", str(run_dir), "--image-size", "8", *TINY]
    assert main([*args, "--steps", "3"]) == 0
    assert main([*args, "--steps", "1", "--overwrite"]) == 0
    assert load_checkpoint(run_dir)["step"] == 1


def test_missing_data_path_is_named(tmp_path, capsys):
    missing = tmp_path / "nowhere"
    assert main(["train", "--data", str(missing), "--out", str(tmp_path / "run"), "--steps", "1"]) == 2
    assert str(missing) in capsys.readouterr().err


def test_resume_without_checkpoint_fails_clearly(tmp_path, capsys):
    assert main(["train", "--out", str(tmp_path / "empty"), "--resume"]) == 2
    assert "not found" in capsys.readouterr().err


def test_bad_override_value_is_explained(tmp_path, capsys):
    with pytest.raises(SystemExit):
        main(["train", "--out", str(tmp_path), "--encoder-channels", "a,b"])
    assert "comma-separated integers" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("flags", "expected"),
    [
        (["--shift-pixels", "-1"], "--shift-pixels must be 0 or more, got -1"),
        (["--code-size", "0"], "--code-size must be at least 1, got 0"),
        (["--decoder-kernel", "4"], "--decoder-kernel must be odd"),
    ],
)
def test_invalid_option_names_its_flag(tmp_path, image_folder, capsys, flags, expected):
    code = main(["train", "--data", str(image_folder), "--out", str(tmp_path / "run"), *flags, *TINY])
    assert code == 2
    assert expected in capsys.readouterr().err
    assert not (tmp_path / "run" / "checkpoint.pt").exists()


def test_train_help_lists_units():
    result = subprocess.run([sys.executable, "-m", "cli", "train", "--help"], capture_output=True, text=True, check=True)
    assert "--minutes" in result.stdout
    assert "stop after this many minutes" in result.stdout
    help_text = " ".join(result.stdout.split())  # argparse wraps lines
    assert "dimensions D of the code and latent z (cpu preset: 32)" in help_text
    assert "(cpu preset: 32,32,64,64,128)" in help_text
