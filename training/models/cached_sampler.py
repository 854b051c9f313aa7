"""Cached sampling for the gated PixelCNN: per new pixel, compute only what that pixel changes.

This follows Ramachandran et al. 2017, "Fast Generation for Convolutional Autoregressive Models". The
sampler keeps every block's stack inputs in buffers. At the start of row i, each block's vertical stack
computes its row i - 1, which needs only finished rows. That row feeds the next block's vertical input and,
shifted one row down, row i of the same block's horizontal stack. Within row i, each block's horizontal
stack computes the single position (i, j) from its cached inputs at columns j - k//2 .. j. The conditioning
terms are computed once per call.

NOTE: the per-position products sum in a different order than the full-image convolutions, so the logits
can differ in the last bits (an estimated 1e-7 relative in float32, 1e-16 in float64). A sample then differs
from the plain sampler's only if a uniform falls within that distance of a CDF boundary. The tests check
exact equality for float64 decoders and for a few hundred float32 sub-pixels, on CPU only. On CUDA, cuDNN
may run the plain sampler's float32 convolutions in TF32 on Ampere and newer GPUs
(torch.backends.cudnn.allow_tf32 is on by default in torch 2.x), which widens that gap to about 1e-3.
"""

from collections.abc import Callable

import torch
import torch.nn.functional as F

from training.models.config import Conditioning
from training.models.outputs import OutputType
from training.models.pixelcnn import GatedBlock, GatedPixelCNN, _gate, levels_from_uniform

RowCallback = Callable[[int, torch.Tensor], bool | None]


class SamplingCancelled(Exception):
    """Raised by sample_cached when its on_row callback returns False."""

    def __init__(self, rows_finished: int, images: torch.Tensor) -> None:
        super().__init__(f"sampling cancelled by the on_row callback after {rows_finished} finished rows")
        self.rows_finished = rows_finished
        self.images = images  # (B, C, H, W) levels, rows >= rows_finished still 0


def _matrix(conv: torch.nn.Conv2d) -> torch.Tensor:
    """Return a 1x1 convolution's weight (out, in, 1, 1) as an (in, out) matrix."""
    return conv.weight[:, :, 0, 0].t().contiguous()


class _BlockState:
    """One block's weights as matrices and its cached inputs, with per-column views into them.

    The vertical input is padded like the full convolution: k//2 zero rows on top and k//2 zero columns on each
    side. The horizontal input contains the current row only, channels last and k//2 zero columns on the left, so
    that the window at columns j - k//2 .. j is one (B, width * C_in) view.
    """

    def __init__(self, block: GatedBlock, batch: int, height: int, width: int, options: dict) -> None:
        half, in_channels = block.half, block.vertical.in_channels
        self.block = block
        self.vertical_input = torch.zeros(batch, in_channels, height + half, width + 2 * half, **options)
        self.horizontal_input = torch.zeros(batch, width + half, in_channels, **options)

        weight = block.horizontal.weight[:, :, 0, :]  # (2F, C_in, kernel width)
        kernel_width = weight.shape[-1]  # k//2 in the first block, which must not see column j, k//2 + 1 after
        # Rows in (column, channel) order, the order of the flattened window.
        self.horizontal = weight.permute(0, 2, 1).reshape(weight.shape[0], -1).t().contiguous()  # (width * C_in, 2F)
        self.output = _matrix(block.horizontal_out)  # (F, F)
        self.output_bias = block.horizontal_out.bias
        self.has_residual = not block.is_first
        self.windows = [
            self.horizontal_input[:, j : j + kernel_width].view(batch, -1) for j in range(width)
        ]  # each (B, width * C_in)
        self.columns = [self.horizontal_input[:, j + half] for j in range(width)]  # each (B, C_in), column j
        self.row_biases: tuple[torch.Tensor, ...] = ()  # per column (B, 2F), set at the start of each row


def _validate_inputs(decoder: GatedPixelCNN, z: torch.Tensor | None, uniforms: torch.Tensor) -> None:
    if uniforms.dim() != 4 or uniforms.shape[1] != decoder.channels:
        raise ValueError(
            f"uniforms must have shape (B, {decoder.channels}, H, W) for this decoder, got {tuple(uniforms.shape)}"
        )
    if uniforms.numel() == 0:
        raise ValueError(f"uniforms must have a batch and image size of at least 1, got {tuple(uniforms.shape)}")
    if not uniforms.is_floating_point() or uniforms.min() < 0 or uniforms.max() >= 1:
        raise ValueError("uniforms must be floating-point values in [0, 1); draw them with torch.rand")
    device = decoder.heads.weight.device
    if uniforms.device != device:
        raise ValueError(f"uniforms are on {uniforms.device} but the decoder is on {device}; move one of them")
    if decoder.conditioning is None or z is None:
        return
    if z.dim() != 2 or z.shape[0] != uniforms.shape[0]:
        raise ValueError(f"z must have shape ({uniforms.shape[0]}, D) to match the uniforms, got {tuple(z.shape)}")
    if z.device != device:
        raise ValueError(f"z is on {z.device} but the decoder is on {device}; move z with z.to({str(device)!r})")
    size = decoder.spatial.image_size if decoder.conditioning is Conditioning.SPATIAL else None
    if size is not None and tuple(uniforms.shape[2:]) != (size, size):
        raise ValueError(
            f"this decoder's spatial conditioning makes {size}x{size} maps, but the uniforms are "
            f"{uniforms.shape[2]}x{uniforms.shape[3]}; pass uniforms of shape (B, C, {size}, {size})"
        )


class _CachedSampler:
    """State of one cached sampling call: the decoder's weights as matrices and every block's cached inputs."""

    def __init__(self, decoder: GatedPixelCNN, z: torch.Tensor | None, uniforms: torch.Tensor) -> None:
        self.decoder = decoder
        self.uniforms = uniforms
        batch, channels, height, width = uniforms.shape
        self.half = decoder.blocks[0].half
        self.width = width
        self.images = torch.zeros(batch, channels, height, width, device=uniforms.device)  # float32, as sample()
        self.row_levels = torch.zeros(batch, channels, width, device=uniforms.device)  # the row being drawn
        self.row_uniforms: tuple[torch.Tensor, ...] = ()  # per column (C, B), set at the start of each row
        options = {"dtype": decoder.heads.weight.dtype, "device": uniforms.device}
        self.blocks = [_BlockState(block, batch, height, width, options) for block in decoder.blocks]
        self._init_conditions(z, batch, height, width)
        self._init_head()

    def _init_conditions(self, z: torch.Tensor | None, batch: int, height: int, width: int) -> None:
        """Compute each block's conditioning terms once, broadcast to (B, 2F, H, W), or None without z."""
        self.condition_v: list[torch.Tensor | None] = []
        self.condition_h: list[torch.Tensor | None] = []
        for block, condition in zip(self.decoder.blocks, self.decoder._conditions(z)):
            if condition is None:
                self.condition_v.append(None)
                self.condition_h.append(None)
                continue
            shape = (batch, block.vertical.out_channels, height, width)
            self.condition_v.append(condition[0].expand(shape))
            self.condition_h.append(condition[1].expand(shape))

    def _init_head(self) -> None:
        decoder = self.decoder
        filters, channels = decoder.filters, decoder.channels
        # The skip outputs are summed, so one matrix over all blocks' gated features gives their sum.
        self.skip = torch.cat([_matrix(block.skip_out) for block in decoder.blocks])  # (blocks * F, F)
        self.skip_bias = torch.stack([block.skip_out.bias for block in decoder.blocks]).sum(0)  # (F,)
        self.hidden = _matrix(decoder.output_hidden)  # (F, F)
        self.hidden_bias = decoder.output_hidden.bias
        previous = decoder.previous_channels.weight * decoder.previous_mask  # (C * F, C, 1, 1)
        self.previous = [
            previous[c * filters : (c + 1) * filters, :c, 0, 0].t().contiguous() for c in range(channels)
        ]  # each (c, F): channel c depends on channels < c of its pixel
        logits = decoder.heads.weight.shape[0] // channels
        self.head = [
            decoder.heads.weight[c * logits : (c + 1) * logits, :, 0, 0].t().contiguous() for c in range(channels)
        ]  # each (F, L)
        self.head_bias = decoder.heads.bias.chunk(channels)

    def run(self, on_row: RowCallback | None) -> torch.Tensor:
        height, width = self.images.shape[2:]
        for i in range(height):
            self._start_row(i)
            self.row_uniforms = self.uniforms[:, :, i].permute(2, 1, 0).unbind(0)  # W times (C, B)
            for j in range(width):
                self._sample_pixel(j)
            self.images[:, :, i] = self.row_levels
            self._store_image_row(i)
            if on_row is not None and on_row(i, self.images.clone()) is False:
                raise SamplingCancelled(i + 1, self.images)
        return self.images

    def _start_row(self, i: int) -> None:
        """Finish every block's vertical row i - 1 and turn it into row i's per-column horizontal biases."""
        half, width = self.half, self.width
        for b, state in enumerate(self.blocks):
            block = state.block
            if i == 0:
                # The plain decoder shifts zeros into row 0, so only the 1x1 map's bias reaches it.
                shifted = block.vertical_to_horizontal.bias[None, :, None].expand(self.images.shape[0], -1, width)
            else:
                rows = state.vertical_input[:, :, i - 1 : i + half]  # (B, C_in, half + 1, W + 2 half)
                vertical = F.conv2d(rows, block.vertical.weight, block.vertical.bias)  # (B, 2F, 1, W)
                shifted = block.vertical_to_horizontal(vertical)[:, :, 0]  # (B, 2F, W)
                if b + 1 < len(self.blocks):
                    self._store_vertical_output(b, i - 1, vertical)
            bias = shifted + block.horizontal.bias[None, :, None]
            if self.condition_h[b] is not None:
                bias = bias + self.condition_h[b][:, :, i]
            state.row_biases = bias.permute(2, 0, 1).contiguous().unbind(0)  # W times (B, 2F)

    def _store_vertical_output(self, b: int, row: int, vertical: torch.Tensor) -> None:
        if self.condition_v[b] is not None:
            vertical = vertical + self.condition_v[b][:, :, row : row + 1]
        half = self.half
        target = self.blocks[b + 1].vertical_input
        target[:, :, row + half : row + half + 1, half : half + self.width] = _gate(vertical)

    def _store_image_row(self, i: int) -> None:
        """Copy the finished row's scaled values from block 0's horizontal input into its vertical input."""
        half, first = self.half, self.blocks[0]
        row = first.horizontal_input[:, half:].transpose(1, 2)  # (B, C, W)
        first.vertical_input[:, :, i + half, half : half + self.width] = row

    def _sample_pixel(self, j: int) -> None:
        gated_outputs = []
        for b, state in enumerate(self.blocks):
            gated = _gate(torch.addmm(state.row_biases[j], state.windows[j], state.horizontal))  # (B, F)
            gated_outputs.append(gated)
            if b + 1 == len(self.blocks):
                break  # nothing reads the last block's horizontal output, so only its skip output counts
            output = torch.addmm(state.output_bias, gated, state.output)  # (B, F)
            if state.has_residual:
                output += state.columns[j]
            self.blocks[b + 1].columns[j].copy_(output)
        gated_all = gated_outputs[0] if len(gated_outputs) == 1 else torch.cat(gated_outputs, dim=1)
        skip = torch.addmm(self.skip_bias, gated_all, self.skip)  # (B, F)
        features = torch.addmm(self.hidden_bias, F.relu(skip), self.hidden)  # (B, F)
        self._draw_channels(features, j)

    def _draw_channels(self, features: torch.Tensor, j: int) -> None:
        """Draw the channels of the current row's pixel j in order, each seeing the channels before it."""
        decoder = self.decoder
        pixel = self.blocks[0].columns[j]  # (B, C) scaled values, filled channel by channel
        uniforms = self.row_uniforms[j]  # (C, B)
        for c in range(decoder.channels):
            hidden = features if c == 0 else features + pixel[:, :c] @ self.previous[c]
            logits = torch.addmm(self.head_bias[c], F.relu(hidden), self.head[c])  # (B, L)
            # The same element-wise rules as decoder.draw_level, on one position's logits.
            if decoder.output_type is OutputType.BERNOULLI:
                level = (uniforms[c] < torch.sigmoid(logits[:, 0])).float()  # (B,)
            else:
                level = levels_from_uniform(logits, uniforms[c])
            self.row_levels[:, c, j] = level
            pixel[:, c] = decoder.scale_input(level)


@torch.no_grad()
def sample_cached(
    decoder: GatedPixelCNN,
    z: torch.Tensor | None,
    uniforms: torch.Tensor,
    on_row: RowCallback | None = None,
) -> torch.Tensor:
    """Draw images pixel by pixel like `decoder.sample(z, uniforms)`, reusing each layer's cached activations.

    uniforms (B, C, H, W) in [0, 1) fix the randomness, and each sub-pixel takes the level that
    `decoder.draw_level` picks, so the result is the plain sampler's images as float32 levels (B, C, H, W).
    z is ignored by a decoder built with is_conditional=False, and z None samples without conditioning.
    on_row(i, images) is called with a copy of the images after row i is finished. If it returns False,
    sampling stops and SamplingCancelled is raised.
    """
    _validate_inputs(decoder, z, uniforms)
    return _CachedSampler(decoder, z, uniforms).run(on_row)
