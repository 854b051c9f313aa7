import math

import torch

from training.losses import kl_estimate, reconstruction_nats, sample_posterior
from training.models import MixtureParams, OutputType, PriorNetwork, mixture_log_prob, sample_mixture


def test_kl_estimate_matches_closed_form_for_one_component():
    torch.manual_seed(0)
    codes = torch.randn(4, 3)
    means = torch.randn(4, 3, 1)
    scales = torch.rand(4, 3, 1) + 0.5
    prior = MixtureParams(torch.zeros(4, 3, 1), means, scales)
    samples = 200_000
    z = sample_posterior(codes.repeat(samples, 1))
    repeated = MixtureParams(*(tensor.repeat(samples, 1, 1) for tensor in prior))
    estimate = kl_estimate(z, repeated).view(samples, 4).mean(0)
    mu, sigma, c = means[..., 0], scales[..., 0], codes
    closed_form = (sigma.log() + (1 + (c - mu) ** 2) / (2 * sigma**2) - 0.5).sum(-1)
    assert torch.allclose(estimate, closed_form, atol=0.03), (estimate, closed_form)


def test_mixture_log_prob_finite_far_away():
    prior = MixtureParams(torch.zeros(2, 4, 8), torch.zeros(2, 4, 8), torch.full((2, 4, 8), 1e-3))
    z = torch.full((2, 4), 1e4)
    log_prob = mixture_log_prob(z, prior)
    assert torch.isfinite(log_prob).all()
    assert (log_prob < -1e6).all()


def test_mixture_log_prob_integrates_to_one():
    torch.manual_seed(0)
    prior = MixtureParams(torch.randn(1, 1, 3), torch.randn(1, 1, 3), torch.rand(1, 1, 3) + 0.3)
    grid = torch.linspace(-15, 15, 30001).unsqueeze(-1)  # (G, 1)
    expanded = MixtureParams(*(tensor.expand(len(grid), 1, 3) for tensor in prior))
    density = mixture_log_prob(grid, expanded).exp()
    assert math.isclose(torch.trapezoid(density, grid[:, 0]).item(), 1.0, abs_tol=1e-4)


def test_prior_network_output_shapes_and_scales():
    network = PriorNetwork(code_size=5, components=3, hidden=16, layers=3)
    params = network(torch.randn(7, 5))
    for tensor in params:
        assert tensor.shape == (7, 5, 3)
    assert (params.scales > 0).all()


def test_prior_network_sees_the_input_through_every_layer():
    network = PriorNetwork(code_size=2, components=2, hidden=8, layers=3)
    torch.nn.init.normal_(network.to_output.weight)
    codes = torch.randn(1, 2, requires_grad=True)
    network(codes).means.sum().backward()
    assert codes.grad.abs().sum() > 0
    assert len(network.from_input) == 3


def test_sample_mixture_follows_component_means():
    generator = torch.Generator().manual_seed(0)
    logits = torch.tensor([[[0.0, -1e9]]]).expand(20000, 1, 2)
    means = torch.tensor([[[3.0, -3.0]]]).expand(20000, 1, 2)
    scales = torch.full((20000, 1, 2), 0.5)
    z = sample_mixture(MixtureParams(logits, means, scales), generator)
    assert abs(z.mean().item() - 3.0) < 0.02
    assert abs(z.std().item() - 0.5) < 0.02


def test_reconstruction_nats_bernoulli_and_categorical():
    x = torch.tensor([[[[1.0, 0.0]]]])
    bernoulli = reconstruction_nats(torch.zeros(1, 1, 1, 2), x, OutputType.BERNOULLI)
    assert torch.allclose(bernoulli, torch.tensor([2 * math.log(2)]))
    categorical = reconstruction_nats(torch.zeros(1, 1, 256, 1, 2), x, OutputType.CATEGORICAL)
    assert torch.allclose(categorical, torch.tensor([2 * math.log(256)]))
