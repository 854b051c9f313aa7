"""Tests for `acn evaluate` on tiny trained runs of every model kind."""

import json
from pathlib import Path

import pytest

from cli.main import main

KL_KEYS = {"k1", "k5", "k10", "greedy_tour", "unconditional"}


@pytest.fixture(scope="module")
def report_dir(tmp_path_factory, trained_runs) -> Path:
    out = tmp_path_factory.mktemp("report")
    runs = [str(trained_runs[kind]) for kind in ("acn", "vae", "pixelcnn")]
    # The runs are barely trained, so their KL estimates converge slowly, and 64 samples bound the time.
    assert main(["evaluate", *runs, "--out", str(out), "--max-samples", "64", "--quiet"]) == 0
    return out


def _report(report_dir: Path, kind: str) -> dict:
    return json.loads((report_dir / kind / "report.json").read_text())


def test_evaluate_writes_report_files(report_dir):
    assert (report_dir / "report.md").is_file()
    assert (report_dir / "costs.png").is_file()
    for kind in ("acn", "vae", "pixelcnn"):
        assert (report_dir / kind / "report.json").is_file()


def test_run_directory_gets_same_report(report_dir, trained_runs):
    in_run = json.loads((trained_runs["acn"] / "report.json").read_text())
    assert in_run == _report(report_dir, "acn")


def test_prior_saved_in_run(report_dir, trained_runs):
    assert (trained_runs["acn"] / "unconditional_prior.npz").is_file()


def test_acn_figures_written(report_dir):
    report = _report(report_dir, "acn")
    assert report["figures"] == ["codes_pca.png", "neighbours.png"]
    for name in report["figures"]:
        assert (report_dir / "acn" / name).stat().st_size > 0


def test_acn_report_contract(report_dir):
    report = _report(report_dir, "acn")
    assert set(report["kl"]) == KL_KEYS
    assert set(report["kl_standard_error"]) == KL_KEYS
    assert all(error > 0 for error in report["kl_standard_error"].values())
    assert all(16 <= samples <= 64 for samples in report["kl_samples_per_image"].values())
    assert set(report["linear_probe"]) == {"codes", "pixels", "pca"}
    assert set(report["knn_accuracy"]["codes"]) == {"k1", "k5"}
    assert set(report["knn_accuracy"]["pixels"]) == {"k1", "k5"}
    assert report["test_images"] == 16
    assert report["step"] == 3
    assert report["kind"] == "acn"
    assert report["unconditional_prior"]["fitted_to"] == "samples"


def test_acn_totals_add_up(report_dir):
    report = _report(report_dir, "acn")
    assert report["ordered"] == pytest.approx(report["kl"]["greedy_tour"] + report["reconstruction"])
    assert report["unordered"] == pytest.approx(report["kl"]["unconditional"] + report["reconstruction"])


def test_vae_kl_fields_share_prior(report_dir):
    kl = _report(report_dir, "vae")["kl"]
    assert len(set(kl.values())) == 1


def test_pixelcnn_reports_reconstruction_only(report_dir):
    report = _report(report_dir, "pixelcnn")
    assert all(value is None for value in report["kl"].values())
    assert report["unordered"] == report["reconstruction"]
    assert report["ordered"] is None
    assert report["linear_probe"]["codes"] is None
    assert report["linear_probe"]["pixels"] is not None
    assert report["figures"] == []


def test_markdown_has_row_per_run(report_dir):
    text = (report_dir / "report.md").read_text()
    for kind in ("acn", "vae", "pixelcnn"):
        assert f"| {kind} | {kind} |" in text


def test_missing_run_fails_clearly(tmp_path, capsys):
    code = main(["evaluate", str(tmp_path / "absent"), "--out", str(tmp_path / "report"), "--quiet"])
    assert code == 2
    assert "not found" in capsys.readouterr().err


def test_repeated_run_names_rejected(tmp_path, trained_runs, capsys):
    copy = tmp_path / "elsewhere" / "acn"
    copy.mkdir(parents=True)
    code = main(["evaluate", str(trained_runs["acn"]), str(copy), "--out", str(tmp_path / "report"), "--quiet"])
    assert code == 2
    assert "named acn" in capsys.readouterr().err
