import json
import math
import signal

import numpy as np
import pytest
import torch

from tests.training.conftest import make_dataset, tiny_config
from training.checkpoint import CheckpointError, load_averaged_model, load_checkpoint
from training.data import Split
from training.models import ModelKind, OutputType
from training.train import Trainer, _StopBetweenSteps, read_metrics


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
    assert config["config"]["binarize"] is True  # the data's own choice, resolved from None
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
    assert state["code_table"]["codes"].shape == (28, 32)


def _interrupt_at(trainer: Trainer, step: int):
    """Return a train_step that sends this process SIGINT, as Ctrl-C does, during the given step."""
    original = trainer.train_step

    def interrupted(ids):
        if trainer.step == step:
            signal.raise_signal(signal.SIGINT)
        return original(ids)

    return interrupted


RESUME_VARIANTS = {
    "plain": {},
    "unique": {"unique_neighbours": True},
    "cosine_shift": {"learning_rate_schedule": "cosine", "shift_pixels": 2},
    "rebinarize": {"rebinarize": True},
}


@pytest.mark.parametrize("variant", RESUME_VARIANTS)
def test_resume_matches_uninterrupted_run(tmp_path, variant):
    torch.set_num_threads(1)
    dataset = make_dataset(grey_raw=True)
    options = RESUME_VARIANTS[variant]
    straight = Trainer(tiny_config(steps=10, **options), dataset, tmp_path / "straight")
    straight.run(False)

    # The first part is interrupted during step 5 (the sixth), so its schedule is that of a 10-step run.
    first = Trainer(tiny_config(steps=10, **options), dataset, tmp_path / "split")
    first.train_step = _interrupt_at(first, 5)
    with pytest.raises(KeyboardInterrupt):
        first.run(False)
    resumed = Trainer(tiny_config(steps=10, **options), dataset, tmp_path / "split", resume=True)
    assert resumed.step == 6
    resumed.run(False)

    assert _state_equal(straight.model.state_dict(), resumed.model.state_dict())
    assert _state_equal(straight.averaged_model.state_dict(), resumed.averaged_model.state_dict())
    assert np.array_equal(straight.code_table.codes, resumed.code_table.codes)
    straight_rows = [row for row in read_metrics(tmp_path / "straight") if "kl" in row]
    resumed_rows = [row for row in read_metrics(tmp_path / "split") if "kl" in row]
    assert [row["kl"] for row in straight_rows[3:]] == [row["kl"] for row in resumed_rows[3:]]  # steps 8 and 10


def test_interrupt_writes_checkpoint(tmp_path, dataset, monkeypatch):
    trainer = Trainer(tiny_config(steps=50, checkpoint_every=1000), dataset, tmp_path)
    monkeypatch.setattr(trainer, "train_step", _interrupt_at(trainer, 3))
    with pytest.raises(KeyboardInterrupt):
        trainer.run(False)
    assert load_checkpoint(tmp_path)["step"] == 4  # the step under way when Ctrl-C came is finished
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_second_interrupt_stops_at_once():
    with _StopBetweenSteps() as stop:
        signal.raise_signal(signal.SIGINT)
        assert stop.requested
        with pytest.raises(KeyboardInterrupt):
            signal.raise_signal(signal.SIGINT)
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_kl_warmup_weight_rises_linearly(tmp_path, dataset):
    trainer = Trainer(tiny_config(kl_warmup_steps=4), dataset, tmp_path)
    weights = []
    for _ in range(6):
        weights.append(trainer.train_step(trainer._next_batch())["kl_weight"])
        trainer.step += 1
    assert weights == [0.25, 0.5, 0.75, 1.0, 1.0, 1.0]


def test_cosine_schedule_decays_to_zero(tmp_path, dataset):
    trainer = Trainer(tiny_config(steps=4, learning_rate_schedule="cosine", learning_rate=1e-3), dataset, tmp_path)
    rates = []
    for _ in range(5):
        trainer._set_learning_rate()
        rates.append(trainer.optimizer.param_groups[0]["lr"])
        trainer.step += 1
    expected = [1e-3 * 0.5 * (1 + math.cos(math.pi * step / 4)) for step in range(5)]
    assert rates == pytest.approx(expected)
    assert rates[-1] == pytest.approx(0.0, abs=1e-12)


def test_cosine_schedule_follows_minutes(tmp_path, dataset):
    trainer = Trainer(tiny_config(steps=1000, minutes=1.0, learning_rate_schedule="cosine", learning_rate=1e-3), dataset, tmp_path)
    trainer.elapsed = 30.0  # half the time budget, after 0 of 1000 steps
    trainer._set_learning_rate()
    assert trainer.optimizer.param_groups[0]["lr"] == pytest.approx(0.5e-3)


def test_constant_schedule_keeps_rate(tmp_path, dataset):
    trainer = Trainer(tiny_config(learning_rate=1e-3), dataset, tmp_path)
    trainer.step = 5
    trainer._set_learning_rate()
    assert trainer.optimizer.param_groups[0]["lr"] == 1e-3


def test_shift_moves_whole_images(tmp_path, dataset):
    trainer = Trainer(tiny_config(shift_pixels=2), dataset, tmp_path)
    images = torch.zeros(64, 1, 8, 8)
    images[:, :, 3, 4] = 1.0  # one lit pixel per image
    shifted = trainer._shift(images)
    assert shifted.shape == images.shape
    lit = shifted[:, 0].nonzero()  # (N, 3): image, row, column
    assert lit.shape[0] == 64  # a 2-pixel move keeps (3, 4) inside 8x8
    rows, columns = lit[:, 1] - 3, lit[:, 2] - 4
    assert rows.abs().max() == 2
    assert columns.abs().max() == 2
    assert len({(int(r), int(c)) for r, c in zip(rows, columns)}) > 10  # moves vary per image


def test_rebinarize_draws_bits_from_grey_levels(tmp_path):
    dataset = make_dataset(grey_raw=True)
    trainer = Trainer(tiny_config(rebinarize=True), dataset, tmp_path)
    ids = np.arange(len(trainer.images))
    draws = np.stack([trainer._rebinarize(ids).numpy() for _ in range(400)])
    assert set(np.unique(draws)) == {0, 1}
    assert not np.array_equal(draws[0], draws[1])
    # Each pixel is 1 with probability grey / 255; the mean of 400 draws has a standard error of at most 0.025.
    expected = trainer.grey_images.numpy() / 255
    assert np.abs(draws.mean(axis=0) - expected).max() < 0.15


def test_grey_encoder_input_aligned_with_bits(tmp_path):
    dataset = make_dataset(grey_raw=True)  # lit pixels have grey levels 128..255, the others 0..63
    trainer = Trainer(tiny_config(shift_pixels=2), dataset, tmp_path)
    assert trainer.config.model.encoder_reads_grey
    bits, grey = trainer._batch(np.arange(len(trainer.images)))
    assert grey.max() > 1
    # Thresholding the shifted grey image gives the shifted bits only when both moved alike.
    assert torch.equal((grey >= 128).float(), bits)
    assert not torch.equal(bits, trainer.images.float())  # the shift did move some images


def test_bit_encoder_input_is_the_bits(tmp_path):
    config = tiny_config(shift_pixels=2)
    config.model.encoder_reads_grey = False
    trainer = Trainer(config, make_dataset(grey_raw=True), tmp_path)
    bits, encoder_bits = trainer._batch(np.arange(len(trainer.images)))
    assert torch.equal(encoder_bits, bits)


def test_rebinarize_needs_binarized_data(tmp_path):
    dataset = make_dataset(output_type=OutputType.CATEGORICAL)
    with pytest.raises(ValueError, match="--rebinarize draws new bits from grey levels, but synthetic is not binarized"):
        Trainer(tiny_config(rebinarize=True), dataset, tmp_path)


def test_negative_shift_rejected():
    with pytest.raises(ValueError, match="shift_pixels must be 0 or more, got -1"):
        tiny_config(shift_pixels=-1)


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
