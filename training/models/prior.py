"""Priors over z: per-dimension Gaussian mixtures, conditioned on a neighbour code or learned outright."""

import math
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

# Softplus scales are floored so the log-density stays finite when the prior collapses a component.
MIN_SCALE = 1e-3


class MixtureParams(NamedTuple):
    """A mixture of M Gaussians for each of D dimensions, all shaped (B, D, M)."""

    logits: torch.Tensor  # unnormalised mixture weights
    means: torch.Tensor
    scales: torch.Tensor  # standard deviations, > 0


def mixture_log_prob(z: torch.Tensor, params: MixtureParams) -> torch.Tensor:
    """Return log p(z) summed over dimensions, in nats: z (B, D) -> (B,)."""
    log_weights = F.log_softmax(params.logits, dim=-1)  # (B, D, M)
    standardised = (z.unsqueeze(-1) - params.means) / params.scales  # (B, D, M)
    log_normal = -0.5 * standardised.square() - params.scales.log() - 0.5 * math.log(2 * math.pi)
    # logsumexp keeps the density finite far from every component, where each term underflows.
    return torch.logsumexp(log_weights + log_normal, dim=-1).sum(-1)  # (B,)


def sample_mixture(params: MixtureParams, generator: torch.Generator | None = None) -> torch.Tensor:
    """Draw z (B, D) from the per-dimension mixtures."""
    weights = F.softmax(params.logits, dim=-1)  # (B, D, M)
    flat = weights.reshape(-1, weights.shape[-1])
    component = torch.multinomial(flat, 1, generator=generator).view(weights.shape[:-1])  # (B, D)
    means = params.means.gather(-1, component.unsqueeze(-1)).squeeze(-1)
    scales = params.scales.gather(-1, component.unsqueeze(-1)).squeeze(-1)
    noise = torch.randn(means.shape, generator=generator, dtype=means.dtype, device=means.device)
    return means + scales * noise


def split_params(raw: torch.Tensor, code_size: int, components: int) -> MixtureParams:
    """Turn raw network outputs (B, D * 3 * M) into mixture parameters (B, D, M)."""
    raw = raw.view(-1, code_size, 3, components)  # (B, D, 3, M)
    logits, means, scale_inputs = raw.unbind(2)
    return MixtureParams(logits, means, F.softplus(scale_inputs) + MIN_SCALE)


def _init_mixture_bias(bias: torch.Tensor, code_size: int, components: int) -> None:
    """Spread the initial component means over [-2, 2] with unit scales, so no component starts dead."""
    with torch.no_grad():
        bias.view(code_size, 3, components).zero_()
        spread = torch.linspace(-2.0, 2.0, components) if components > 1 else torch.zeros(1)
        bias.view(code_size, 3, components)[:, 1] = spread
        bias.view(code_size, 3, components)[:, 2] = math.log(math.e - 1.0)  # softplus^-1(1)


class PriorNetwork(nn.Module):
    """MLP from a neighbour code to p(z|ĉ), as the ACN paper describes it.

    It has three hidden layers of tanh units. The input feeds every hidden layer and every hidden
    layer feeds the output, so the network can pass the neighbour code straight through.
    """

    def __init__(self, code_size: int, components: int, hidden: int = 512, layers: int = 3) -> None:
        super().__init__()
        self.code_size = code_size
        self.components = components
        self.from_input = nn.ModuleList(nn.Linear(code_size, hidden) for _ in range(layers))
        self.from_previous = nn.ModuleList(nn.Linear(hidden, hidden, bias=False) for _ in range(layers - 1))
        self.to_output = nn.Linear(hidden * layers, code_size * 3 * components)
        nn.init.zeros_(self.to_output.weight)
        _init_mixture_bias(self.to_output.bias, code_size, components)

    def forward(self, neighbour_codes: torch.Tensor) -> MixtureParams:
        """Map neighbour codes (B, D) to mixture parameters (B, D, M)."""
        return split_params(self.raw_params(neighbour_codes), self.code_size, self.components)

    def raw_params(self, neighbour_codes: torch.Tensor) -> torch.Tensor:
        """Map neighbour codes (B, D) to the output layer's values (B, D * 3 * M), before split_params."""
        hiddens = []
        h = torch.tanh(self.from_input[0](neighbour_codes))  # (B, hidden)
        hiddens.append(h)
        for from_input, from_previous in zip(self.from_input[1:], self.from_previous):
            h = torch.tanh(from_input(neighbour_codes) + from_previous(h))
            hiddens.append(h)
        return self.to_output(torch.cat(hiddens, dim=-1))  # (B, D * 3 * M)


class LearnedMixturePrior(nn.Module):
    """Unconditional prior p(z) with learned per-dimension mixtures: the VAE baseline's prior."""

    def __init__(self, code_size: int, components: int) -> None:
        super().__init__()
        self.code_size = code_size
        self.components = components
        self.raw = nn.Parameter(torch.zeros(code_size * 3 * components))
        _init_mixture_bias(self.raw.data, code_size, components)

    def forward(self, batch_size: int) -> MixtureParams:
        raw = self.raw.unsqueeze(0).expand(batch_size, -1)
        return split_params(raw, self.code_size, self.components)
