"""Unconditional samples, stochastic reconstructions and daydream chains of a trained model, and their PNG grids.

Every image comes from one function, draw_images, which feeds the decoder fixed uniforms drawn from a
torch.Generator, so a seed fixes every sample.
"""

import dataclasses
import enum
import io
import math
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from tqdm import tqdm

from training.fileio import atomic_write
from training.models import ACN, GatedPixelCNN, ModelKind, sample_mixture
from training.models.cached_sampler import sample_cached
from training.unconditional import UnconditionalPrior

SAMPLE_BATCH_SIZE = 64
SEPARATOR_GREY = 128  # mid grey shows the cell borders between white-on-black images


class SamplingMode(str, enum.Enum):
    """The three ways to sample from an ACN."""

    UNCONDITIONAL = "unconditional"  # z from the unconditional prior p(z), decoded
    RECONSTRUCTION = "reconstruction"  # the mean code of a real image, decoded several times
    DAYDREAM = "daydream"  # encode, draw z from p(z|c), decode, encode again, repeat


@dataclasses.dataclass(frozen=True)
class Daydream:
    """Chains of images linked by the prior: column 0 is the real image, column t the t-th generated one."""

    images: np.ndarray  # uint8 (N, 1 + L, C, H, W) pixel levels
    codes: np.ndarray  # float32 (N, 1 + L, D): the encoder's mean code of every image in the chain
    latents: np.ndarray  # float32 (N, L, D): z drawn from p(z | code of the previous image)


def draw_images(
    decoder: GatedPixelCNN, z: torch.Tensor | None, shape: tuple[int, int, int, int], generator: torch.Generator
) -> torch.Tensor:
    """Sample images of shape (B, C, H, W) from r(x|z), with uniforms drawn from generator.

    z is (B, D), or None for the unconditional PixelCNN baseline. Returns pixel levels as floats. The
    cached sampler draws the same images as the decoder's plain `sample` for the same uniforms, many
    times faster.
    """
    if z is not None and z.shape[0] != shape[0]:
        raise ValueError(f"z has {z.shape[0]} rows but {shape[0]} images were requested; pass one z per image")
    device = decoder.heads.weight.device
    uniforms = torch.rand(shape, generator=generator, device=device)  # (B, C, H, W)
    return sample_cached(decoder, z, uniforms)


def _draw_batched(
    model: ACN, z: torch.Tensor | None, count: int, generator: torch.Generator, show_progress: bool, label: str
) -> np.ndarray:
    """Draw count images in batches of SAMPLE_BATCH_SIZE, returning uint8 levels (count, C, H, W)."""
    config = model.config
    image_shape = (config.image_channels, config.image_size, config.image_size)
    batches = []
    starts = range(0, count, SAMPLE_BATCH_SIZE)
    for start in tqdm(starts, desc=label, unit="batch", disable=not show_progress, leave=False):
        size = min(SAMPLE_BATCH_SIZE, count - start)
        batch_z = None if z is None else z[start : start + size]
        batches.append(draw_images(model.decoder, batch_z, (size, *image_shape), generator))
    return torch.cat(batches).cpu().numpy().astype(np.uint8)


def _check_has_encoder(model: ACN, mode: str) -> None:
    if not model.config.has_encoder:
        raise ValueError(
            f"{mode} sampling needs a model with an encoder, but this is a {model.config.kind.value} model, "
            "which supports only unconditional sampling"
        )


def _model_device(model: ACN) -> torch.device:
    return next(model.parameters()).device


@torch.no_grad()
def sample_unconditional(
    model: ACN,
    prior: UnconditionalPrior | None,
    count: int,
    generator: torch.Generator,
    show_progress: bool = False,
) -> tuple[np.ndarray, np.ndarray | None]:
    """Draw count images from z ~ p(z) decoded by r(x|z). Return images (count, C, H, W) uint8 and z (count, D).

    p(z) is the fitted mixture `prior` for ACN, the model's own learned prior for the VAE baseline, and
    there is no z for the PixelCNN baseline (returned as None).
    """
    if count < 1:
        raise ValueError(f"count must be at least 1, got {count}")
    model.eval()
    device = _model_device(model)
    kind = model.config.kind
    if kind is ModelKind.PIXELCNN:
        z = None
    elif kind is ModelKind.VAE:
        placeholder = torch.zeros(count, model.config.code_size, device=device)  # (count, D); the VAE prior ignores it
        z = sample_mixture(model.prior_params(placeholder), generator)
    else:
        if prior is None:
            raise ValueError("unconditional ACN samples need the fitted prior p(z); pass an UnconditionalPrior")
        # The fitted mixture samples with numpy, seeded from the generator so one seed fixes everything.
        rng = np.random.default_rng(int(torch.randint(2**62, (1,), generator=generator, device=generator.device)))
        z = torch.from_numpy(prior.sample(count, rng)).to(device)  # (count, D)
    images = _draw_batched(model, z, count, generator, show_progress, "unconditional samples")
    return images, None if z is None else z.cpu().numpy()


def _encoder_tensor(model: ACN, images: np.ndarray, encoder_inputs: np.ndarray | None) -> torch.Tensor:
    """Return the encoder's input for images: encoder_inputs when given, else images in encoder levels."""
    if encoder_inputs is not None:
        if encoder_inputs.shape != images.shape:
            raise ValueError(f"encoder_inputs have shape {encoder_inputs.shape} but images {images.shape}; give one per image")
        return torch.from_numpy(np.ascontiguousarray(encoder_inputs)).to(_model_device(model)).float()
    x = torch.from_numpy(np.ascontiguousarray(images)).to(_model_device(model)).float()
    return model.encoder_input(x)


@torch.no_grad()
def reconstruct(
    model: ACN,
    images: np.ndarray,
    samples: int,
    generator: torch.Generator,
    show_progress: bool = False,
    encoder_inputs: np.ndarray | None = None,
) -> np.ndarray:
    """Decode `samples` stochastic reconstructions of each image from its mean code c.

    Returns uint8 levels (N, 1 + samples, C, H, W) with the real image in column 0. The mean code is
    used rather than z ~ N(c, I), as in the ACN paper, so the spread shows only what the decoder adds.
    encoder_inputs are the same images in the encoder's levels (grey levels for a model that reads
    grey). Without them, ACN.encoder_input converts images.
    """
    _check_has_encoder(model, "reconstruction")
    if samples < 1:
        raise ValueError(f"samples per image must be at least 1, got {samples}")
    model.eval()
    codes = model.encode(_encoder_tensor(model, images, encoder_inputs))  # (N, D)
    z = codes.repeat_interleave(samples, dim=0)  # (N * samples, D), each image's code repeated
    drawn = _draw_batched(model, z, len(z), generator, show_progress, "reconstructions")
    drawn = drawn.reshape(len(images), samples, *drawn.shape[1:])  # (N, samples, C, H, W)
    return np.concatenate([images[:, np.newaxis].astype(np.uint8), drawn], axis=1)


@torch.no_grad()
def daydream(
    model: ACN,
    images: np.ndarray,
    length: int,
    generator: torch.Generator,
    show_progress: bool = False,
    encoder_inputs: np.ndarray | None = None,
) -> Daydream:
    """Run daydream chains of `length` steps from real images.

    Each step encodes the previous image to its mean code c, draws z from p(z|c) and decodes z into
    the next image. The VAE baseline's prior ignores c, so its chains are unconditional samples.
    encoder_inputs are the real images in the encoder's levels, as for reconstruct; the decoded images
    are read through ACN.encoder_input.
    """
    _check_has_encoder(model, "daydream")
    if length < 1:
        raise ValueError(f"daydream length must be at least 1, got {length}")
    model.eval()
    current = torch.from_numpy(np.ascontiguousarray(images)).to(_model_device(model)).float()  # (N, C, H, W)
    codes = model.encode(_encoder_tensor(model, images, encoder_inputs))  # (N, D)
    chain_images, chain_codes, chain_latents = [current], [], []
    for step in tqdm(range(length), desc="daydream steps", unit="step", disable=not show_progress, leave=False):
        if step > 0:
            codes = model.encode(model.encoder_input(current))  # (N, D)
        z = sample_mixture(model.prior_params(codes), generator)  # (N, D)
        current = draw_images(model.decoder, z, tuple(current.shape), generator)
        chain_codes.append(codes)
        chain_latents.append(z)
        chain_images.append(current)
    chain_codes.append(model.encode(model.encoder_input(current)))
    return Daydream(
        images=torch.stack(chain_images, dim=1).cpu().numpy().astype(np.uint8),
        codes=torch.stack(chain_codes, dim=1).cpu().numpy().astype(np.float32),
        latents=torch.stack(chain_latents, dim=1).cpu().numpy().astype(np.float32),
    )


def image_grid(
    rows: np.ndarray, levels: int, scale: int = 3, separator: int = 2, gap_after: tuple[int, ...] = ()
) -> Image.Image:
    """Lay out images (R, K, C, H, W) of pixel levels 0..levels-1 as an R x K grid, white on black.

    Each cell is enlarged `scale` times by nearest-neighbour, cells are parted by `separator` grey
    pixels, and the columns listed in gap_after get a gap three times as wide after them.
    """
    if rows.ndim != 5 or rows.shape[2] not in (1, 3):
        raise ValueError(f"expected images shaped (rows, columns, 1 or 3 channels, H, W), got {rows.shape}")
    if levels < 2:
        raise ValueError(f"levels must be at least 2, got {levels}")
    row_count, column_count, channels, height, width = rows.shape
    cell_height, cell_width = height * scale, width * scale
    gaps = [separator * (3 if column in gap_after else 1) for column in range(column_count - 1)]
    lefts = [column * cell_width + sum(gaps[:column]) for column in range(column_count)]
    canvas = np.full(
        (row_count * cell_height + (row_count - 1) * separator, lefts[-1] + cell_width, channels),
        SEPARATOR_GREY,
        dtype=np.uint8,
    )
    grey = rows.astype(np.int64) * 255 // (levels - 1)  # (R, K, C, H, W) in 0..255
    enlarged = grey.repeat(scale, axis=3).repeat(scale, axis=4).transpose(0, 1, 3, 4, 2)  # (R, K, H*s, W*s, C)
    for row in range(row_count):
        top = row * (cell_height + separator)
        for column in range(column_count):
            canvas[top : top + cell_height, lefts[column] : lefts[column] + cell_width] = enlarged[row, column]
    return Image.fromarray(canvas[..., 0] if channels == 1 else canvas, mode="L" if channels == 1 else "RGB")


def square_rows(images: np.ndarray) -> np.ndarray:
    """Arrange images (N, C, H, W) into rows of ceil(sqrt(N)) columns, padding the last row with black."""
    columns = math.ceil(math.sqrt(len(images)))
    row_count = math.ceil(len(images) / columns)
    padded = np.zeros((row_count * columns, *images.shape[1:]), dtype=images.dtype)
    padded[: len(images)] = images
    return padded.reshape(row_count, columns, *images.shape[1:])


def save_png(path: Path, image: Image.Image) -> None:
    """Write image as a PNG file atomically."""
    atomic_write(Path(path), lambda temporary: image.save(temporary, format="PNG"))


def save_arrays(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """Write named arrays to an .npz file atomically. They load back with allow_pickle=False."""
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)
    atomic_write(Path(path), lambda temporary: temporary.write_bytes(buffer.getvalue()))
