"""Algorithm 1 of the ACN paper as a loop object whose methods read in order."""

import copy
import json
import logging
import math
import signal
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from training.checkpoint import CHECKPOINT_NAME, load_checkpoint, save_checkpoint
from training.codebook import CodeTable
from training.config import LearningRateSchedule, OptimizerKind, TrainConfig
from training.data import ImageDataset, Split
from training.encoding import encoder_images
from training.fileio import atomic_write_json, atomic_write_text
from training.losses import kl_estimate, reconstruction_nats, sample_posterior
from training.models import ACN, ModelKind, OutputType

logger = logging.getLogger(__name__)

METRICS_NAME = "metrics.jsonl"
CONFIG_NAME = "config.json"


def configure_for_data(config: TrainConfig, dataset: ImageDataset) -> None:
    """Copy the data's shape and output type into the model config."""
    channels, height, width = dataset.image_shape
    if height != width:
        raise ValueError(f"images of {dataset.name} are {height}x{width}; the models need square images")
    config.model.image_channels = channels
    config.model.image_size = height
    config.model.output_type = dataset.output_type
    config.data = dataset.name
    config.binarize = dataset.output_type is OutputType.BERNOULLI  # resolves None, the source's default
    if config.rebinarize and not config.binarize:
        raise ValueError(
            f"--rebinarize draws new bits from grey levels, but {dataset.name} is not binarized; "
            "drop --rebinarize or add --binarize"
        )


class Trainer:
    """Trains one run in run_dir; `resume` continues from run_dir's checkpoint exactly where it stopped."""

    def __init__(self, config: TrainConfig, dataset: ImageDataset, run_dir: Path, resume: bool = False) -> None:
        self.run_dir = Path(run_dir)
        self.dataset = dataset
        configure_for_data(config, dataset)
        self.config = config
        self.device = _device(config.device)
        torch.manual_seed(config.seed)
        self.rng = np.random.default_rng(config.seed)

        self.model = ACN(config.model).to(self.device)
        self.averaged_model = copy.deepcopy(self.model).requires_grad_(False)
        self.optimizer = _optimizer(config, self.model)

        images, _ = dataset.part(Split.TRAIN)
        self.images = torch.from_numpy(images)  # (N, C, H, W) uint8 pixel levels
        # The grey levels the fixed bits were drawn from, for rebinarize.
        self.grey_images = torch.from_numpy(dataset.raw_images[dataset.indices[Split.TRAIN]])
        self.validation_images = torch.from_numpy(dataset.part(Split.VALIDATION)[0])
        self.validation_encoder_images = torch.from_numpy(encoder_images(dataset, Split.VALIDATION, config.model))
        self.code_table = CodeTable(len(self.images), config.model.code_size, self.rng)
        self.step = 0
        self.order = self.rng.permutation(len(self.images))
        self.position = 0
        self.elapsed = 0.0
        if resume:
            self._restore(load_checkpoint(self.run_dir / CHECKPOINT_NAME))
        else:
            self.run_dir.mkdir(parents=True, exist_ok=True)
            (self.run_dir / METRICS_NAME).unlink(missing_ok=True)
        atomic_write_json(
            self.run_dir / CONFIG_NAME,
            {"config": config.to_dict(), "dataset": {"name": dataset.name, "size": len(dataset.images)}},
        )

    # ---- the loop -------------------------------------------------------------------------------

    def run(self, show_progress: bool = True) -> dict[str, float]:
        """Train until config.steps or config.minutes; write a checkpoint at intervals, at the end and on Ctrl-C."""
        config = self.config
        deadline = None if config.minutes is None else time.monotonic() + config.minutes * 60 - self.elapsed
        # With a time budget the step total is only a cap, so the bar counts steps and names the budget.
        budget = f"train ({config.minutes:g} min budget)" if config.minutes is not None else "train"
        total = None if config.minutes is not None else config.steps
        progress = tqdm(
            total=total, initial=self.step, desc=budget, disable=not show_progress, unit="step", dynamic_ncols=True
        )
        window: list[dict[str, float]] = []
        window_start = time.monotonic()
        started = time.monotonic() - self.elapsed
        with _StopBetweenSteps() as stop:
            try:
                while self.step < config.steps and (deadline is None or time.monotonic() < deadline):
                    # Forward, backward and step on one batch.
                    self._set_learning_rate()
                    window.append(self.train_step(self._next_batch()))
                    self.step += 1
                    self.elapsed = time.monotonic() - started
                    progress.update(1)

                    # Log averages over the interval to the progress bar and the metrics file.
                    if self.step % config.log_every == 0 or self.step == config.steps:
                        row = self._summarise(window, time.monotonic() - window_start)
                        progress.set_postfix(kl=f"{row['kl']:.2f}", recon=f"{row['reconstruction']:.2f}", img_s=f"{row['images_per_second']:.0f}")
                        self._append_metrics(row)
                        window, window_start = [], time.monotonic()

                    # Checkpoint at the interval, with validation costs from the averaged weights.
                    if self.step % config.checkpoint_every == 0:
                        checkpoint_start = time.monotonic()
                        self._append_metrics({"step": self.step, **self.validate()})
                        self.save()
                        window_start += time.monotonic() - checkpoint_start  # images/s counts training only
                    if stop.requested:
                        raise KeyboardInterrupt
            except KeyboardInterrupt:
                logger.warning("training interrupted at step %d; writing a checkpoint before stopping", self.step)
                self.save()
                progress.close()
                raise
        progress.close()
        summary = {"step": self.step, "elapsed_seconds": self.elapsed, **self.validate()}
        self._append_metrics(summary)
        self.save()
        return summary

    def _next_batch(self) -> np.ndarray:
        """Return the next batch of training-set ids; each pass is a fresh seeded permutation."""
        batch_size = min(self.config.batch_size, len(self.images))
        if self.position + batch_size > len(self.order):
            self.order = self.rng.permutation(len(self.images))
            self.position = 0
            self.code_table.start_pass()
        ids = self.order[self.position : self.position + batch_size]
        self.position += batch_size
        return ids

    def train_step(self, ids: np.ndarray) -> dict[str, float]:
        """Run one step of the ACN paper's Algorithm 1 on the images with these training-set ids."""
        config = self.config
        x, encoder_x = self._batch(ids)
        self.model.train()

        kl = torch.zeros(len(ids), device=self.device)
        z = None
        if config.model.kind is not ModelKind.PIXELCNN:
            codes = self.model.encode(encoder_x)  # (B, D)
            prior = self.model.prior_params(self._neighbour_codes(ids, codes))
            z = sample_posterior(codes)
            kl = kl_estimate(z, prior)  # (B,)
        reconstruction = reconstruction_nats(self.model.decode(x, z), x, config.model.output_type)  # (B,)

        kl_weight = 1.0 if config.kl_warmup_steps == 0 else min(1.0, (self.step + 1) / config.kl_warmup_steps)
        loss = (kl_weight * kl + reconstruction).mean()
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        self._update_average()
        return {"kl": kl.mean().item(), "reconstruction": reconstruction.mean().item(), "kl_weight": kl_weight, "images": len(ids)}

    def _set_learning_rate(self) -> None:
        """Apply the learning-rate schedule at the current step and elapsed time."""
        config = self.config
        if config.learning_rate_schedule is LearningRateSchedule.CONSTANT:
            return
        progress = self.step / config.steps
        if config.minutes is not None:
            progress = max(progress, self.elapsed / (config.minutes * 60))
        factor = 0.5 * (1.0 + math.cos(math.pi * min(progress, 1.0)))
        for group in self.optimizer.param_groups:
            group["lr"] = config.learning_rate * factor

    def _batch(self, ids: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        """Return the images (B, C, H, W) the decoder models and the same images in the encoder's levels."""
        config = self.config
        x = (self._rebinarize(ids) if config.rebinarize else self.images[ids]).to(self.device).float()
        reads_grey = config.model.encoder_reads_grey and config.model.output_type is OutputType.BERNOULLI
        if not reads_grey:
            x = self._shift(x) if config.shift_pixels > 0 else x
            return x, self.model.encoder_input(x)
        grey = self.grey_images[ids].to(self.device).float()
        if config.shift_pixels > 0:
            # One shift for both, so that the grey image and its bits stay aligned.
            x, grey = self._shift(torch.cat([x, grey], dim=1)).split(x.shape[1], dim=1)
        return x, grey

    def _rebinarize(self, ids: np.ndarray) -> torch.Tensor:
        """Draw new bits for these training images: 1 with probability grey level / 255, as the data set's own."""
        grey = self.grey_images[ids].numpy()
        thresholds = self.rng.integers(0, 255, size=grey.shape, dtype=np.uint8)
        return torch.from_numpy((thresholds < grey).astype(np.uint8))

    def _shift(self, x: torch.Tensor) -> torch.Tensor:
        """Move each image by a random whole number of pixels in x and y, filling with level 0."""
        shift = self.config.shift_pixels
        height, width = x.shape[2:]
        padded = torch.nn.functional.pad(x, (shift, shift, shift, shift))
        offsets = self.rng.integers(0, 2 * shift + 1, size=(len(x), 2))
        return torch.stack([padded[n, :, dy : dy + height, dx : dx + width] for n, (dy, dx) in enumerate(offsets)])

    def _neighbour_codes(self, ids: np.ndarray, codes: torch.Tensor) -> torch.Tensor:
        """Store the batch's codes in the table and return one neighbour code per image (B, D)."""
        if self.config.model.kind is not ModelKind.ACN:
            return codes.detach()  # the VAE prior ignores its input
        codes_np = codes.detach().cpu().numpy()
        self.code_table.update(ids, codes_np)
        neighbour_ids = self.code_table.draw_neighbours(
            codes_np, ids, self.config.neighbours, self.rng, unique=self.config.unique_neighbours
        )
        return torch.from_numpy(self.code_table.codes[neighbour_ids]).to(self.device)

    def _update_average(self) -> None:
        """Polyak averaging; the decay ramps up from 0.1 so early averages are not dominated by the init."""
        decay = min(self.config.polyak_decay, (1 + self.step) / (10 + self.step))
        with torch.no_grad():
            for averaged, current in zip(self.averaged_model.parameters(), self.model.parameters()):
                averaged.lerp_(current, 1.0 - decay)

    # ---- validation, metrics and checkpoints ----------------------------------------------------

    @torch.no_grad()
    def validate(self, batch_size: int = 250) -> dict[str, float]:
        """Validation costs in nats per image with the averaged weights; neighbours come from the training table."""
        model = self.averaged_model.eval()
        kls, reconstructions = [], []
        generator = torch.Generator().manual_seed(self.config.seed)
        for start in range(0, len(self.validation_images), batch_size):
            x = self.validation_images[start : start + batch_size].to(self.device).float()
            z = None
            if self.config.model.kind is not ModelKind.PIXELCNN:
                codes = model.encode(self.validation_encoder_images[start : start + batch_size].to(self.device).float())
                neighbours = codes
                if self.config.model.kind is ModelKind.ACN:
                    hits = self.code_table.nearest(codes.cpu().numpy(), np.full(len(x), -1), self.config.neighbours)
                    neighbours = torch.from_numpy(self.code_table.codes[hits[:, 0]]).to(self.device)
                z = sample_posterior(codes, generator=generator if self.device.type == "cpu" else None)
                kls.append(kl_estimate(z, model.prior_params(neighbours)))
            reconstructions.append(reconstruction_nats(model.decode(x, z), x, self.config.model.output_type))
        result = {"validation_reconstruction": torch.cat(reconstructions).mean().item()}
        if kls:
            result["validation_kl_k1"] = torch.cat(kls).mean().item()
        return result

    def _summarise(self, window: list[dict[str, float]], seconds: float) -> dict[str, float]:
        return {
            "step": self.step,
            "kl": float(np.mean([row["kl"] for row in window])),
            "reconstruction": float(np.mean([row["reconstruction"] for row in window])),
            "kl_weight": window[-1]["kl_weight"],
            "images_per_second": sum(row["images"] for row in window) / max(seconds, 1e-9),
            "elapsed_seconds": self.elapsed,
        }

    def _append_metrics(self, row: dict[str, Any]) -> None:
        with open(self.run_dir / METRICS_NAME, "a", encoding="utf-8") as metrics:
            metrics.write(json.dumps(row) + "\n")

    def save(self) -> None:
        save_checkpoint(
            self.run_dir / CHECKPOINT_NAME,
            {
                "config": self.config.to_dict(),
                "dataset": {"name": self.dataset.name, "size": len(self.dataset.images)},
                "step": self.step,
                "elapsed_seconds": self.elapsed,
                "model": self.model.state_dict(),
                "averaged_model": self.averaged_model.state_dict(),
                "optimizer": self.optimizer.state_dict(),
                "code_table": {key: torch.from_numpy(value) for key, value in self.code_table.state_dict().items()},
                "data_order": torch.from_numpy(self.order),
                "data_position": self.position,
                "torch_rng": torch.get_rng_state(),
                "numpy_rng": self.rng.bit_generator.state,
            },
        )

    def _restore(self, state: dict[str, Any]) -> None:
        self.model.load_state_dict(state["model"])
        self.averaged_model.load_state_dict(state["averaged_model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.code_table.load_state_dict({key: value.numpy() for key, value in state["code_table"].items()})
        self.order = state["data_order"].numpy().copy()
        self.position = int(state["data_position"])
        self.step = int(state["step"])
        self.elapsed = float(state["elapsed_seconds"])
        torch.set_rng_state(state["torch_rng"])
        self.rng.bit_generator.state = state["numpy_rng"]
        self._truncate_metrics()

    def _truncate_metrics(self) -> None:
        """Drop metric rows written after the checkpoint, which the resumed run will write again."""
        path = self.run_dir / METRICS_NAME
        if not path.exists():
            return
        rows = [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
        kept = [line for line in rows if json.loads(line).get("step", 0) <= self.step]
        atomic_write_text(path, "".join(line + "\n" for line in kept))


class _StopBetweenSteps:
    """Turn Ctrl-C (SIGINT) into a request that the loop honours after the current step.

    A checkpoint written then contains whole steps only, so --resume continues exactly. A second Ctrl-C
    raises KeyboardInterrupt at once. Python handles signals in the main thread only, so elsewhere
    (a trainer run in a worker thread) SIGINT keeps its usual behaviour.
    """

    def __init__(self) -> None:
        self.requested = False
        self._previous: Any = None

    def __enter__(self) -> "_StopBetweenSteps":
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGINT, self._request)
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)

    def _request(self, signum: int, frame: object) -> None:
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True
        logger.warning("Ctrl-C: stopping after the current step; press it again to stop at once")


def _device(name: str) -> torch.device:
    if name == "cuda" and not torch.cuda.is_available():
        raise ValueError("--device cuda was given but CUDA is not available here; use --device cpu")
    if name not in ("cpu", "cuda"):
        raise ValueError(f"unknown device {name!r}; use cpu or cuda")
    return torch.device(name)


def _optimizer(config: TrainConfig, model: ACN) -> torch.optim.Optimizer:
    if config.optimizer is OptimizerKind.ADAM:
        return torch.optim.Adam(model.parameters(), lr=config.learning_rate, betas=(config.momentum, 0.999))
    return torch.optim.RMSprop(model.parameters(), lr=config.learning_rate, momentum=config.momentum)


def read_metrics(run_dir: Path) -> list[dict[str, Any]]:
    path = Path(run_dir) / METRICS_NAME
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]

