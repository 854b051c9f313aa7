"""Test-set compression costs in nats per image: KL against several priors and the reconstruction cost.

The test set is compressed as its own tour, so every neighbour code comes from the test codes, as the
ACN paper (Graves, Menick and van den Oord, 2018, section 3.3) chose for its test-set results.
"""

import dataclasses

import numpy as np
import torch

from training.codebook import CodeTable
from training.evaluate.montecarlo import Draw, MonteCarloEstimate, SamplingPlan, estimate_mean
from training.evaluate.tour import greedy_tour, tour_predecessors
from training.losses import _UNIT_GAUSSIAN_ENTROPY, kl_estimate, reconstruction_nats
from training.models import ACN, ModelKind
from training.unconditional import UnconditionalPrior

KL_FIELDS = ("k1", "k5", "k10", "greedy_tour", "unconditional")
NEIGHBOUR_COUNTS = {"k1": 1, "k5": 5, "k10": 10}
# Elements of the (samples, images * K, D, M) mixture-density tensor built by one draw, to bound memory.
_DENSITY_ELEMENTS = 4_000_000
_RECONSTRUCTION_IMAGES = 128  # images per decoder forward pass
_KL_CHUNK_SAMPLES = 16
_RECONSTRUCTION_CHUNK_SAMPLES = 4


@dataclasses.dataclass(frozen=True)
class KLCosts:
    """KL estimates by report field. A field that does not apply is None, with the reason in `unavailable`."""

    estimates: dict[str, MonteCarloEstimate | None]
    unavailable: dict[str, str]
    tour: np.ndarray | None  # visiting order of the greedy tour through the test codes


def posterior_samples(codes: torch.Tensor, samples: int, generator: torch.Generator) -> torch.Tensor:
    """Draw z ~ q(z|x) = N(code, I): codes (n, D) -> (samples, n, D)."""
    noise = torch.randn((samples, *codes.shape), generator=generator, device=codes.device)  # (S, n, D)
    return codes + noise


def neighbour_kl_draw(model: ACN, codes: torch.Tensor, neighbour_ids: np.ndarray, generator: torch.Generator) -> Draw:
    """Sample KL(q(z|x_i) || p(z|c_j)) averaged over the neighbours j of image i in neighbour_ids (N, K).

    The average over all K neighbours is the expected KL under a uniform draw of one of them, so the
    estimate carries no noise from that draw.
    """

    def draw(ids: np.ndarray, samples: int) -> torch.Tensor:
        neighbours = torch.from_numpy(neighbour_ids[ids]).to(codes.device)  # (n, K)
        count, k = neighbours.shape
        prior = model.prior_params(codes[neighbours.reshape(-1)])  # each (n * K, D, M)
        z = posterior_samples(codes[torch.from_numpy(ids)], samples, generator)  # (S, n, D)
        z = z.unsqueeze(2).expand(samples, count, k, z.shape[-1]).reshape(samples, count * k, -1)  # (S, n * K, D)
        return kl_estimate(z, prior).view(samples, count, k).mean(-1)  # (S, n)

    return draw


def learned_prior_kl_draw(model: ACN, codes: torch.Tensor, generator: torch.Generator) -> Draw:
    """Sample KL(q(z|x) || p(z)) against the VAE baseline's learned prior."""

    def draw(ids: np.ndarray, samples: int) -> torch.Tensor:
        own = codes[torch.from_numpy(ids)]  # (n, D)
        return kl_estimate(posterior_samples(own, samples, generator), model.prior_params(own))  # (S, n)

    return draw


def unconditional_kl_draw(prior: UnconditionalPrior, codes: torch.Tensor, generator: torch.Generator) -> Draw:
    """Sample KL(q(z|x) || p(z)) against the fitted mixture p(z), as -H(q) - log p(z)."""
    code_size = codes.shape[1]

    def draw(ids: np.ndarray, samples: int) -> torch.Tensor:
        z = posterior_samples(codes[torch.from_numpy(ids)], samples, generator)  # (S, n, D)
        log_density = prior.log_prob(z.reshape(-1, code_size).cpu().numpy()).reshape(samples, len(ids))
        return torch.from_numpy(-code_size * _UNIT_GAUSSIAN_ENTROPY - log_density)  # (S, n)

    return draw


def tour_kl_draw(hop: Draw, first: Draw, predecessors: np.ndarray) -> Draw:
    """Sample each image's KL along a tour: `hop` for images with a predecessor, `first` for the tour's start."""

    def draw(ids: np.ndarray, samples: int) -> torch.Tensor:
        is_first = predecessors[ids] < 0
        values = torch.empty(samples, len(ids), dtype=torch.float64)  # (S, n)
        if (~is_first).any():
            values[:, torch.from_numpy(~is_first)] = hop(ids[~is_first], samples).double().cpu()
        if is_first.any():
            values[:, torch.from_numpy(is_first)] = first(ids[is_first], samples).double().cpu()
        return values

    return draw


def _kl_plan(sampling: SamplingPlan, code_size: int, components: int, neighbours: int) -> SamplingPlan:
    per_image = _KL_CHUNK_SAMPLES * neighbours * code_size * components
    return dataclasses.replace(
        sampling,
        batch_size=max(1, _DENSITY_ELEMENTS // per_image),
        chunk_samples=_KL_CHUNK_SAMPLES,
    )


@torch.no_grad()
def estimate_kl_costs(
    model: ACN,
    codes: np.ndarray | None,
    prior: UnconditionalPrior | None,
    generator: torch.Generator,
    sampling: SamplingPlan = SamplingPlan(),
    show_progress: bool = False,
) -> KLCosts:
    """Estimate the test-set KL fields k1, k5, k10, greedy_tour and unconditional from test codes (N, D).

    ACN: kK is the KL against p(z|ĉ) averaged over the K nearest other test codes ĉ. greedy_tour follows
    greedy_tour() from test image 0, so every code is a neighbour once. Image 0 has no predecessor, so it
    is charged its KL against the unconditional prior. unconditional uses the fitted mixture `prior`.
    VAE: every field is the KL against the model's own learned prior. PixelCNN: no field applies.
    Of `sampling`, only the target error and the maximum samples apply; batch sizes follow the model.
    """
    kind = model.config.kind
    if kind is ModelKind.PIXELCNN:
        reason = "the pixelcnn baseline has no latent code, so it has no KL cost"
        return KLCosts(dict.fromkeys(KL_FIELDS), dict.fromkeys(KL_FIELDS, reason), None)
    if codes is None:
        raise ValueError(f"a {kind.value} model's test-set KL needs the test codes; pass them as codes")

    device = next(model.parameters()).device
    code_tensor = torch.from_numpy(np.ascontiguousarray(codes, dtype=np.float32)).to(device)  # (N, D)
    code_size, components = model.config.code_size, model.config.mixture_components
    if kind is ModelKind.VAE:
        draw = learned_prior_kl_draw(model, code_tensor, generator)
        plan = _kl_plan(sampling, code_size, components, 1)
        estimate = estimate_mean(draw, len(codes), plan, "KL, learned prior", show_progress)
        return KLCosts(dict.fromkeys(KL_FIELDS, estimate), {}, None)

    if prior is None:
        raise ValueError("ACN test-set KL needs the fitted unconditional prior p(z); pass an UnconditionalPrior")
    estimates: dict[str, MonteCarloEstimate | None] = {}
    unavailable: dict[str, str] = {}
    for field, k in NEIGHBOUR_COUNTS.items():
        if len(codes) <= k:
            estimates[field] = None
            unavailable[field] = (
                f"the test split has {len(codes)} images, too few for {k} neighbours besides each image"
            )
            continue
        neighbour_ids = _nearest_test_codes(codes, k)
        draw = neighbour_kl_draw(model, code_tensor, neighbour_ids, generator)
        plan = _kl_plan(sampling, code_size, components, k)
        estimates[field] = estimate_mean(draw, len(codes), plan, f"KL, K={k}", show_progress)

    unconditional = unconditional_kl_draw(prior, code_tensor, generator)
    tour = greedy_tour(codes, start=0)
    predecessors = tour_predecessors(tour)
    hop = neighbour_kl_draw(model, code_tensor, predecessors[:, np.newaxis], generator)
    plan = _kl_plan(sampling, code_size, components, 1)
    tour_draw = tour_kl_draw(hop, unconditional, predecessors)
    estimates["greedy_tour"] = estimate_mean(tour_draw, len(codes), plan, "KL, greedy tour", show_progress)
    estimates["unconditional"] = estimate_mean(unconditional, len(codes), plan, "KL, unconditional", show_progress)
    return KLCosts(estimates, unavailable, tour)


def _nearest_test_codes(codes: np.ndarray, k: int) -> np.ndarray:
    """Return the ids (N, k) of the k nearest other test codes to each test code, its own entry excluded."""
    table = CodeTable(len(codes), codes.shape[1], np.random.default_rng(0))
    ids = np.arange(len(codes))
    table.update(ids, codes.astype(np.float32))
    return table.nearest(codes, ids, k)


def reconstruction_draw(model: ACN, images: torch.Tensor, codes: torch.Tensor, generator: torch.Generator) -> Draw:
    """Sample -log r(x|z) with z ~ q(z|x) for images (N, C, H, W) of pixel levels and their codes (N, D)."""
    output_type = model.config.output_type

    def draw(ids: np.ndarray, samples: int) -> torch.Tensor:
        index = torch.from_numpy(ids).to(images.device)
        x = images[index]  # (n, C, H, W)
        z = posterior_samples(codes[index], samples, generator).reshape(samples * len(ids), -1)  # (S * n, D)
        repeated = x.expand(samples, *x.shape).reshape(samples * len(ids), *x.shape[1:])  # (S * n, C, H, W)
        return reconstruction_nats(model.decode(repeated, z), repeated, output_type).view(samples, len(ids))

    return draw


@torch.no_grad()
def estimate_reconstruction_cost(
    model: ACN,
    images: np.ndarray,
    codes: np.ndarray | None,
    generator: torch.Generator,
    sampling: SamplingPlan = SamplingPlan(),
    show_progress: bool = False,
) -> MonteCarloEstimate:
    """Estimate the test-set reconstruction cost E_q[-log r(x|z)] in nats per image.

    The PixelCNN baseline has no z, so its cost is exact: one pass, standard error 0. Of `sampling`,
    only the target error and the maximum samples apply.
    """
    device = next(model.parameters()).device
    pixels = torch.from_numpy(np.ascontiguousarray(images)).to(device).float()  # (N, C, H, W)
    if codes is None:
        return _exact_reconstruction_cost(model, pixels)
    code_tensor = torch.from_numpy(np.ascontiguousarray(codes, dtype=np.float32)).to(device)  # (N, D)
    plan = dataclasses.replace(
        sampling,
        first_samples=2,
        batch_size=max(1, _RECONSTRUCTION_IMAGES // _RECONSTRUCTION_CHUNK_SAMPLES),
        chunk_samples=_RECONSTRUCTION_CHUNK_SAMPLES,
    )
    draw = reconstruction_draw(model, pixels, code_tensor, generator)
    return estimate_mean(draw, len(images), plan, "reconstruction", show_progress)


def _exact_reconstruction_cost(model: ACN, pixels: torch.Tensor) -> MonteCarloEstimate:
    output_type = model.config.output_type
    costs = [
        reconstruction_nats(model.decode(x, None), x, output_type)
        for x in pixels.split(_RECONSTRUCTION_IMAGES)
    ]
    per_image = torch.cat(costs).double().cpu().numpy()  # (N,)
    return MonteCarloEstimate(float(per_image.mean()), 0.0, 1, per_image)
