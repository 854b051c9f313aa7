"""ONNX graphs of the encoder and the prior network, and onnxruntime sessions that run them."""

import copy
import warnings
from pathlib import Path

import numpy as np
import onnx
import onnxruntime
import torch
from onnxruntime.capi import onnxruntime_pybind11_state as onnxruntime_state
from torch import nn

from training.export.layout import ENCODER_INPUT, ENCODER_OUTPUT, ONNX_OPSET, PRIOR_INPUT, PRIOR_OUTPUTS
from training.models import ACN
from training.models.prior import PriorNetwork, split_params

EXPORT_BATCH = 2  # batch size of the example input (the batch axis of both graphs is dynamic)
# Exceptions that onnxruntime raises for a model file it cannot load. They derive from Exception only.
SESSION_ERRORS = (
    onnxruntime_state.Fail,
    onnxruntime_state.InvalidArgument,
    onnxruntime_state.InvalidGraph,
    onnxruntime_state.InvalidProtobuf,
    onnxruntime_state.NoSuchFile,
    onnxruntime_state.RuntimeException,
)


class _EncoderGraph(nn.Module):
    """Pixel levels (N, C, H, W) -> codes (N, D), including the model's scaling of levels to [-1, 1]."""

    def __init__(self, model: ACN) -> None:
        super().__init__()
        self.model = model

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        return self.model.encode(pixels)


class _PriorGraph(nn.Module):
    """Neighbour codes (N, D) float32 -> mixture logits, means and scales, each (N, D, M) float32.

    The prior network's layers run in float64 inside the graph. Scaled codes put the prior's means
    near 50, where float32 values are 3.8e-6 apart, and two float32 evaluations of the 512-unit layers
    (PyTorch's and onnxruntime's) differ by several of those steps. In float64 the error left is the
    rounding of each output to float32. The softplus of the scales runs in float32, on values near 1,
    because onnxruntime has no float64 Softplus.
    """

    def __init__(self, model: ACN) -> None:
        super().__init__()
        self.model = model
        self.network = copy.deepcopy(model.prior).double() if isinstance(model.prior, PriorNetwork) else None

    def forward(self, codes: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        if self.network is None:  # the VAE's learned prior: its parameters are the output
            params = self.model.prior_params(codes)
        else:
            raw = self.network.raw_params(codes.double()).float()
            params = split_params(raw, self.network.code_size, self.network.components)
        return params.logits, params.means, params.scales


def export_encoder(model: ACN, path: Path) -> None:
    """Write the encoder of an eval-mode model to path as ONNX and check it with onnx.checker."""
    config = model.config
    example = torch.zeros(EXPORT_BATCH, config.image_channels, config.image_size, config.image_size)
    _export(_EncoderGraph(model), example, path, ENCODER_INPUT, (ENCODER_OUTPUT,))


def export_prior(model: ACN, path: Path) -> None:
    """Write the prior network p(z|ĉ) of an eval-mode model to path as ONNX and check it."""
    example = torch.zeros(EXPORT_BATCH, model.config.code_size)
    _export(_PriorGraph(model), example, path, PRIOR_INPUT, PRIOR_OUTPUTS)


def _export(graph: _EncoderGraph | _PriorGraph, example: torch.Tensor, path: Path, input_name: str, output_names: tuple[str, ...]) -> None:
    if graph.model.training:
        raise ValueError("export needs a model in eval mode; call model.eval() first")
    graph.eval()
    dynamic_axes = {name: {0: "batch"} for name in (input_name, *output_names)}
    # The dynamo exporter needs onnxscript, which is not a dependency. The TorchScript exporter of
    # torch 2.13 warns on every call that it is deprecated, and pytest turns those warnings into errors.
    with warnings.catch_warnings(), torch.no_grad():
        warnings.filterwarnings("ignore", message="You are using the legacy TorchScript-based ONNX export", category=DeprecationWarning)
        warnings.filterwarnings("ignore", message="The feature will be removed", category=DeprecationWarning)
        torch.onnx.export(
            graph,
            (example,),
            str(path),
            dynamo=False,
            input_names=[input_name],
            output_names=list(output_names),
            dynamic_axes=dynamic_axes,
            opset_version=ONNX_OPSET,
        )
    onnx.checker.check_model(str(path), full_check=True)


def onnx_providers(device: torch.device) -> list[str]:
    """Return onnxruntime's providers for a torch device: CUDA when asked for and installed, else the CPU."""
    if device.type == "cuda" and "CUDAExecutionProvider" in onnxruntime.get_available_providers():
        return ["CUDAExecutionProvider", "CPUExecutionProvider"]
    return ["CPUExecutionProvider"]


def open_session(path: Path, providers: list[str]) -> onnxruntime.InferenceSession:
    """Open an onnxruntime session whose worker threads sleep between calls instead of spinning.

    Spinning threads keep a core busy after each call. Beside the PyTorch decoder in the same process
    that made a daydream frame take 70 to 120 ms instead of 41 ms on 2 cores (benchmarks/daydream.py).
    """
    options = onnxruntime.SessionOptions()
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return onnxruntime.InferenceSession(str(path), sess_options=options, providers=providers)


def run_encoder(session: onnxruntime.InferenceSession, images: np.ndarray) -> np.ndarray:
    """Encode pixel levels (N, C, H, W) of any numeric type into codes (N, D) float32."""
    pixels = np.ascontiguousarray(images, dtype=np.float32)
    (codes,) = session.run([ENCODER_OUTPUT], {ENCODER_INPUT: pixels})
    return codes


def run_prior(session: onnxruntime.InferenceSession, codes: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Map neighbour codes (N, D) to mixture logits, means and scales, each (N, D, M) float32."""
    logits, means, scales = session.run(list(PRIOR_OUTPUTS), {PRIOR_INPUT: np.ascontiguousarray(codes, dtype=np.float32)})
    return logits, means, scales
