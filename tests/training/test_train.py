import json
import math

import numpy as np
import pytest
import torch

from tests.training.conftest import make_dataset, tiny_config
from training.checkpoint import CheckpointError, load_averaged_model, load_checkpoint
from training.data import Split
from training.models import ModelKind, OutputType
from training.train import Trainer, read_metrics


def _state_equal(first: dict, second: dict) -> bool:
    return first.keys() == second.keys() and all(torch.equal(first[key], second[key]) for key in first)


@pytest.mark.parametrize("kind", list(ModelKind))
def test_training_gives_finite_costs(tmp_path, dataset, kind):
    config = tiny_config()
    config.model.kind = kind
    summary = Trainer(config, dataset, tmp_path).run(False)
    assert summary["step"] == 6
    assert all(math.isfinite(value) for value in summary.values())


def test_categorical_colour_training_runs(tmp_path):
    dataset = make_dataset(channels=3, output_type=OutputType.CATEGORICAL)
    summary = Trainer(tiny_config(), dataset, tmp_path).run(False)
    assert math.isfinite(summary["validation_reconstruction"])


def test_run_directory_contents(tmp_path, dataset):
    Trainer(tiny_config(), dataset, tmp_path).run(False)
    config = json.loads((tmp_path / "config.json").read_text())
    assert config["config"]["model"]["image_size"] == 8
    assert config["dataset"] == {"name": "synthetic", "size": 40}
    steps = [row["step"] for row in read_metrics(tmp_path) if "kl" in row]
    assert steps == [2, 4, 6]


def test_checkpoint_reloads_to_identical_outputs(tmp_path, dataset):
    trainer = Trainer(tiny_config(), dataset, tmp_path)
    trainer.run(False)
    model, config, _ = load_averaged_model(tmp_path)
    x = torch.from_numpy(dataset.part(Split.TEST)[0]).float()
    with torch.no_grad():
        expected_codes = trainer.averaged_model.encode(x)
        codes = model.encode(x)
        assert torch.equal(codes, expected_codes)
        assert torch.equal(model.decode(x, codes), trainer.averaged_model.decode(x, codes))
        assert torch.equal(model.prior_params(codes).means, trainer.averaged_model.prior_params(codes).means)
    assert config.model == trainer.config.model


def test_checkpoint_holds_the_contract(tmp_path, dataset):
    Trainer(tiny_config(), dataset, tmp_path).run(False)
    state = load_checkpoint(tmp_path / "checkpoint.pt")
    for key in ("model", "averaged_model", "optimizer", "code_table", "step", "config", "torch_rng", "numpy_rng"):
        assert key in state
    assert state["step"] == 6
    assert state["code_table"]["codes"].shape == (28, 16)


@pytest.mark.parametrize("unique", [False, True])
def test_resume_matches_uninterrupted_run(tmp_path, dataset, unique):
    torch.set_num_threads(1)
    straight = Trainer(tiny_config(steps=10, unique_neighbours=unique), dataset, tmp_path / "straight")
    straight.run(False)

    Trainer(tiny_config(steps=5, unique_neighbours=unique), dataset, tmp_path / "split").run(False)
    resumed = Trainer(tiny_config(steps=10, unique_neighbours=unique), dataset, tmp_path / "split", resume=True)
    assert resumed.step == 5
    resumed.run(False)

    assert _state_equal(straight.model.state_dict(), resumed.model.state_dict())
    assert _state_equal(straight.averaged_model.state_dict(), resumed.averaged_model.state_dict())
    assert np.array_equal(straight.code_table.codes, resumed.code_table.codes)
    straight_rows = [row for row in read_metrics(tmp_path / "straight") if "kl" in row]
    resumed_rows = [row for row in read_metrics(tmp_path / "split") if "kl" in row and row["step"] != 5]
    assert [row["kl"] for row in straight_rows[3:]] == [row["kl"] for row in resumed_rows[3:]]  # steps 8 and 10


def test_interrupt_writes_checkpoint(tmp_path, dataset, monkeypatch):
    trainer = Trainer(tiny_config(steps=50, checkpoint_every=1000), dataset, tmp_path)
    original = trainer.train_step

    def interrupted(ids):
        if trainer.step == 3:
            raise KeyboardInterrupt
        return original(ids)

    monkeypatch.setattr(trainer, "train_step", interrupted)
    with pytest.raises(KeyboardInterrupt):
        trainer.run(False)
    assert load_checkpoint(tmp_path)["step"] == 3


def test_kl_warmup_weight_rises_linearly(tmp_path, dataset):
    trainer = Trainer(tiny_config(kl_warmup_steps=4), dataset, tmp_path)
    weights = []
    for _ in range(6):
        weights.append(trainer.train_step(trainer._next_batch())["kl_weight"])
        trainer.step += 1
    assert weights == [0.25, 0.5, 0.75, 1.0, 1.0, 1.0]


def test_missing_checkpoint_names_the_path(tmp_path):
    with pytest.raises(CheckpointError, match="checkpoint.pt not found"):
        load_checkpoint(tmp_path / "checkpoint.pt")


def test_truncated_checkpoint_is_rejected(tmp_path, dataset):
    Trainer(tiny_config(), dataset, tmp_path).run(False)
    path = tmp_path / "checkpoint.pt"
    path.write_bytes(path.read_bytes()[:1000])
    with pytest.raises(CheckpointError, match="could not be read"):
        load_checkpoint(path)


def test_failed_checkpoint_write_keeps_the_old_one(tmp_path, dataset, monkeypatch):
    trainer = Trainer(tiny_config(), dataset, tmp_path)
    trainer.run(False)
    before = (tmp_path / "checkpoint.pt").read_bytes()

    def failing_save(state, path):
        path.write_bytes(b"partial")
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", failing_save)
    with pytest.raises(OSError):
        trainer.save()
    assert (tmp_path / "checkpoint.pt").read_bytes() == before
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []
