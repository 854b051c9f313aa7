"""The two parts of the ACN loss, in nats per image."""

import math

import torch
import torch.nn.functional as F

from training.models import MixtureParams, OutputType, mixture_log_prob

# Entropy of one dimension of the unit-variance posterior q(z|x): 0.5 * log(2 * pi * e).
_UNIT_GAUSSIAN_ENTROPY = 0.5 * math.log(2 * math.pi * math.e)


def kl_estimate(z: torch.Tensor, prior: MixtureParams) -> torch.Tensor:
    """Estimate KL(q(z|x) || p) from one sample z ~ q per image: (B, D) -> (B,).

    A mixture prior has no closed-form KL, so the estimate is E_q[log q] - log p(z). The entropy term of
    the unit-variance Gaussian q is known exactly, which leaves only log p(z) to sample and lowers the
    variance compared with log q(z) - log p(z).
    """
    code_size = z.shape[-1]
    return -code_size * _UNIT_GAUSSIAN_ENTROPY - mixture_log_prob(z, prior)


def reconstruction_nats(logits: torch.Tensor, x: torch.Tensor, output_type: OutputType) -> torch.Tensor:
    """Return -log r(x|z) per image, (B,), from decoder logits and the true pixel levels x (B, C, H, W)."""
    if output_type is OutputType.BERNOULLI:
        nats = F.binary_cross_entropy_with_logits(logits, x.float(), reduction="none")  # (B, C, H, W)
    else:
        # cross_entropy wants the class axis second: (B, C, 256, H, W) -> (B, 256, C, H, W).
        nats = F.cross_entropy(logits.transpose(1, 2), x.long(), reduction="none")  # (B, C, H, W)
    return nats.flatten(1).sum(-1)


def sample_posterior(codes: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """Draw z ~ q(z|x) = N(code, I): (B, D) -> (B, D)."""
    noise = torch.randn(codes.shape, generator=generator, dtype=codes.dtype, device=codes.device)
    return codes + noise
