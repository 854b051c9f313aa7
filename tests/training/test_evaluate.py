"""Tests for test-set costs, the greedy tour, probes and reports, against independent computations."""

import json
import logging
import math
import os

import numpy as np
import pytest
import torch
from scipy.special import logsumexp
from scipy.stats import norm

from tests.training.conftest import make_dataset, tiny_config
from training.data import Split
from training.encoding import encoder_images
from training.evaluate import (
    EvaluationOptions,
    Features,
    MonteCarloEstimate,
    PriorData,
    SamplingPlan,
    estimate_kl_costs,
    estimate_mean,
    estimate_reconstruction_cost,
    evaluate_run,
    greedy_tour,
    knn_accuracy,
    linear_probe_accuracy,
    load_or_fit_run_prior,
    load_run,
    prior_fit_points,
    probe_scores,
    tour_predecessors,
)
from training.evaluate.costs import KLCosts
from training.evaluate.report import cost_fields, render_markdown
from training.losses import reconstruction_nats
from training.models import ACN, ModelConfig, ModelKind
from training.train import Trainer
from training.unconditional import PRIOR_NAME, UnconditionalPrior

CODE_SIZE = 2
HERMITE_NODES, HERMITE_WEIGHTS = np.polynomial.hermite_e.hermegauss(60)  # for integrals against N(0, 1)


def tiny_model(kind: ModelKind = ModelKind.ACN) -> ACN:
    """A small untrained model whose prior depends clearly on the neighbour code."""
    torch.manual_seed(0)
    config = ModelConfig(
        kind=kind, image_size=6, code_size=CODE_SIZE, mixture_components=3, encoder_channels=(4,),
        encoder_strides=(2,), prior_hidden=8, decoder_blocks=1, decoder_filters=4, decoder_kernel=3,
    )  # fmt: skip
    model = ACN(config)
    if kind is ModelKind.ACN:
        # The output layer starts at zero, which would make p(z|c) the same for every c.
        torch.nn.init.normal_(model.prior.to_output.weight, std=0.5)
    return model.eval()


def hand_codes(count: int = 12) -> np.ndarray:
    """Codes (count, 2) spread on a spiral, so every neighbour set is distinct."""
    angle = np.arange(count) * 1.3
    radius = 0.5 + 0.15 * np.arange(count)
    return (np.stack([np.cos(angle), np.sin(angle)], axis=1) * radius[:, None]).astype(np.float32)


def gaussian_prior() -> UnconditionalPrior:
    covariance = np.array([[2.0, 0.3], [0.3, 1.5]])
    return UnconditionalPrior(np.ones(1), np.array([[0.2, -0.1]]), covariance[np.newaxis])


def quadrature_kl(model: ACN, code: np.ndarray, neighbour: np.ndarray) -> float:
    """KL(N(code, I) || p(z|neighbour)) by Gauss-Hermite quadrature, one latent dimension at a time."""
    with torch.no_grad():
        prior = model.prior_params(torch.from_numpy(neighbour[None]))
        log_weights = torch.log_softmax(prior.logits, -1)[0].double().numpy()  # (D, M)
        means, scales = prior.means[0].double().numpy(), prior.scales[0].double().numpy()
    weights = HERMITE_WEIGHTS / math.sqrt(2 * math.pi)
    total = 0.0
    for dimension in range(len(code)):
        z = code[dimension] + HERMITE_NODES  # (nodes,)
        log_density = logsumexp(
            log_weights[dimension] + norm.logpdf(z[:, None], means[dimension], scales[dimension]), axis=1
        )
        total += -0.5 * math.log(2 * math.pi * math.e) - float((weights * log_density).sum())
    return total


def gaussian_kl(code: np.ndarray, prior: UnconditionalPrior) -> float:
    """Closed-form KL(N(code, I) || N(mean, covariance)) for a one-component prior."""
    covariance, mean = prior.covariances[0], prior.means[0]
    inverse = np.linalg.inv(covariance)
    difference = mean - code
    return 0.5 * (np.trace(inverse) + difference @ inverse @ difference - len(code) + np.log(np.linalg.det(covariance)))


def nearest_by_sorting(codes: np.ndarray, k: int) -> np.ndarray:
    distances = ((codes[:, None] - codes[None]) ** 2).sum(-1)
    np.fill_diagonal(distances, np.inf)
    return np.argsort(distances, axis=1, kind="stable")[:, :k]


@pytest.fixture(scope="module")
def acn_costs() -> tuple[ACN, np.ndarray, KLCosts]:
    model, codes = tiny_model(), hand_codes()
    return model, codes, estimate_kl_costs(model, codes, gaussian_prior(), torch.Generator().manual_seed(0))


# ---- the greedy tour ----


def test_tour_hand_placed_order():
    codes = np.array([[0.0], [10.0], [1.0], [3.0], [6.0]])
    assert greedy_tour(codes).tolist() == [0, 2, 3, 4, 1]


def test_tour_from_other_start():
    codes = np.array([[0.0], [10.0], [1.0], [3.0], [6.0]])
    assert greedy_tour(codes, start=4).tolist() == [4, 3, 2, 0, 1]


def test_tour_visits_each_once():
    codes = np.random.default_rng(0).normal(size=(50, 3))
    assert sorted(greedy_tour(codes).tolist()) == list(range(50))


def test_tour_predecessors():
    assert tour_predecessors(np.array([0, 2, 3, 4, 1])).tolist() == [-1, 4, 0, 2, 3]


def test_tour_rejects_bad_start():
    with pytest.raises(ValueError, match="start 5"):
        greedy_tour(np.zeros((5, 2)), start=5)


# ---- the Monte Carlo estimator ----


def _normal_draw(means: np.ndarray, spread: float, seed: int):
    generator = torch.Generator().manual_seed(seed)

    def draw(ids, samples):
        noise = torch.randn((samples, len(ids)), generator=generator, dtype=torch.float64)
        return torch.from_numpy(means[ids]) + spread * noise

    return draw


def test_estimate_reaches_target_error():
    means = np.linspace(0.0, 5.0, 20)
    estimate = estimate_mean(_normal_draw(means, 2.0, 0), 20, SamplingPlan(target_standard_error=0.05), "test")
    expected_error = 2.0 / math.sqrt(estimate.samples_per_image * 20)
    assert estimate.standard_error < 0.05
    assert estimate.standard_error == pytest.approx(expected_error, rel=0.1)
    assert abs(estimate.mean - means.mean()) < 4 * estimate.standard_error


def test_estimate_adds_rounds():
    estimate = estimate_mean(_normal_draw(np.zeros(4), 3.0, 1), 4, SamplingPlan(chunk_samples=5), "test")
    assert estimate.samples_per_image > 16


def test_estimate_stops_at_max(caplog):
    plan = SamplingPlan(max_samples=32)
    with caplog.at_level(logging.WARNING):
        estimate = estimate_mean(_normal_draw(np.zeros(3), 100.0, 2), 3, plan, "noisy cost")
    assert estimate.samples_per_image == 32
    assert estimate.standard_error > 0.05
    assert "noisy cost: standard error" in caplog.text


def test_estimate_per_image_means():
    means = np.array([1.0, -2.0, 4.0])
    estimate = estimate_mean(_normal_draw(means, 0.1, 3), 3, SamplingPlan(batch_size=2), "test")
    assert np.allclose(estimate.per_image, means, atol=0.1)


# ---- KL costs against independent computations ----


def test_tour_kl_sums_hop_kls(acn_costs):
    model, codes, costs = acn_costs
    predecessors = tour_predecessors(greedy_tour(codes))
    hops = [quadrature_kl(model, codes[i], codes[predecessors[i]]) for i in range(len(codes)) if predecessors[i] >= 0]
    first = gaussian_kl(codes[0], gaussian_prior())  # the tour starts at image 0 with the unconditional prior
    estimate = costs.estimates["greedy_tour"]
    assert abs(estimate.mean * len(codes) - (first + sum(hops))) < 4 * estimate.standard_error * len(codes)


def test_tour_per_image_kls(acn_costs):
    model, codes, costs = acn_costs
    predecessors = tour_predecessors(greedy_tour(codes))
    estimate = costs.estimates["greedy_tour"]
    # Every image has about the same spread, so one image's error is the mean's error times sqrt(N).
    tolerance = 4 * estimate.standard_error * math.sqrt(len(codes))
    assert abs(estimate.per_image[0] - gaussian_kl(codes[0], gaussian_prior())) < tolerance
    for image in range(1, len(codes)):
        expected = quadrature_kl(model, codes[image], codes[predecessors[image]])
        assert abs(estimate.per_image[image] - expected) < tolerance, image


def test_tour_order_reported(acn_costs):
    _, codes, costs = acn_costs
    assert costs.tour.tolist() == greedy_tour(codes).tolist()


@pytest.mark.parametrize(("field", "k"), [("k1", 1), ("k5", 5), ("k10", 10)])
def test_neighbour_kl_matches_quadrature(acn_costs, field, k):
    model, codes, costs = acn_costs
    neighbours = nearest_by_sorting(codes, k)
    per_image = [np.mean([quadrature_kl(model, codes[i], codes[j]) for j in row]) for i, row in enumerate(neighbours)]
    expected = np.mean(per_image)
    estimate = costs.estimates[field]
    assert abs(estimate.mean - expected) < 4 * estimate.standard_error


def test_unconditional_kl_matches_closed_form(acn_costs):
    _, codes, costs = acn_costs
    expected = np.mean([gaussian_kl(code, gaussian_prior()) for code in codes])
    estimate = costs.estimates["unconditional"]
    assert abs(estimate.mean - expected) < 4 * estimate.standard_error


def test_kl_errors_below_target(acn_costs):
    _, _, costs = acn_costs
    for field, estimate in costs.estimates.items():
        assert estimate.standard_error < 0.05, field


def test_small_test_split_lacks_k10():
    costs = estimate_kl_costs(tiny_model(), hand_codes(6), gaussian_prior(), torch.Generator().manual_seed(0))
    assert costs.estimates["k10"] is None
    assert "6 images" in costs.unavailable["k10"]
    assert costs.estimates["k5"] is not None


def test_vae_kl_uses_learned_prior():
    model, codes = tiny_model(ModelKind.VAE), hand_codes(6)
    costs = estimate_kl_costs(model, codes, None, torch.Generator().manual_seed(0))
    expected = np.mean([quadrature_kl(model, code, code) for code in codes])
    estimate = costs.estimates["unconditional"]
    assert all(value is estimate for value in costs.estimates.values())
    assert abs(estimate.mean - expected) < 4 * estimate.standard_error


def test_pixelcnn_has_no_kl():
    costs = estimate_kl_costs(tiny_model(ModelKind.PIXELCNN), None, None, torch.Generator())
    assert all(value is None for value in costs.estimates.values())
    assert "no latent code" in costs.unavailable["unconditional"]


def test_acn_kl_needs_prior():
    with pytest.raises(ValueError, match="unconditional prior"):
        estimate_kl_costs(tiny_model(), hand_codes(), None, torch.Generator())


# ---- reconstruction ----


def _images(count: int = 5) -> np.ndarray:
    return np.random.default_rng(0).integers(0, 2, size=(count, 1, 6, 6)).astype(np.uint8)


def test_pixelcnn_reconstruction_exact():
    model, images = tiny_model(ModelKind.PIXELCNN), _images()
    estimate = estimate_reconstruction_cost(model, images, None, torch.Generator())
    x = torch.from_numpy(images).float()
    with torch.no_grad():
        expected = reconstruction_nats(model.decode(x, None), x, model.config.output_type).mean().item()
    assert estimate.mean == pytest.approx(expected)
    assert estimate.standard_error == 0.0


def test_reconstruction_matches_long_average():
    model, images = tiny_model(), _images()
    x = torch.from_numpy(images).float()
    with torch.no_grad():
        codes = model.encode(x)
        estimate = estimate_reconstruction_cost(model, images, codes.numpy(), torch.Generator().manual_seed(0))
        generator = torch.Generator().manual_seed(99)
        costs = []
        for _ in range(400):
            z = codes + torch.randn(codes.shape, generator=generator)
            costs.append(reconstruction_nats(model.decode(x, z), x, model.config.output_type))
    long_average = torch.stack(costs).mean().item()
    assert estimate.standard_error < 0.05
    assert abs(estimate.mean - long_average) < 4 * estimate.standard_error + 0.05


# ---- probes ----


def _clusters(seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    labels = np.arange(40) % 2
    return rng.normal(size=(40, 3)) * 0.3 + labels[:, None] * 4.0, labels


def test_linear_probe_separable_clusters():
    (train, train_labels), (test, test_labels) = _clusters(0), _clusters(1)
    assert linear_probe_accuracy(Features(train, test, train_labels, test_labels)) == 1.0


def test_linear_probe_on_pca():
    (train, train_labels), (test, test_labels) = _clusters(0), _clusters(1)
    assert linear_probe_accuracy(Features(train, test, train_labels, test_labels), pca_components=1) == 1.0


def test_knn_vote_differs_from_nearest():
    # The nearest training point has label 0, but four of the five nearest have label 1.
    train = np.array([[0.0], [0.3], [0.35], [0.4], [0.45], [5.0]])
    train_labels = np.array([0, 1, 1, 1, 1, 0])
    features = Features(train, np.array([[0.1]]), train_labels, np.array([0]))
    assert knn_accuracy(features) == {"k1": 1.0, "k5": 0.0}


def test_probes_without_codes():
    (train, train_labels), (test, test_labels) = _clusters(0), _clusters(1)
    scores = probe_scores(None, Features(train, test, train_labels, test_labels))
    assert scores.linear_probe["codes"] is None
    assert scores.knn_accuracy["codes"] is None
    assert scores.linear_probe["pixels"] == 1.0
    assert scores.pca_components == 3
    assert "no codes" in scores.unavailable["linear_probe.codes"]


def test_probes_need_two_classes():
    train = np.zeros((4, 2))
    scores = probe_scores(None, Features(train, train, np.zeros(4, dtype=int), np.zeros(4, dtype=int)))
    assert scores.linear_probe["pixels"] is None
    assert "1 label class" in scores.unavailable["linear_probe"]


# ---- report fields ----


def _estimate(mean: float, error: float) -> MonteCarloEstimate:
    return MonteCarloEstimate(mean, error, 16, np.array([mean]))


def test_cost_fields_add_up():
    estimates = {"k1": _estimate(1, 0.01), "k5": _estimate(2, 0.01), "k10": _estimate(3, 0.01)}
    estimates |= {"greedy_tour": _estimate(2.5, 0.03), "unconditional": _estimate(9, 0.04)}
    fields = cost_fields(KLCosts(estimates, {}, None), _estimate(70, 0.0), has_code=True)
    assert fields["ordered"] == 72.5
    assert fields["unordered"] == 79
    assert fields["unordered_standard_error"] == pytest.approx(0.04)
    assert fields["kl_standard_error"]["greedy_tour"] == 0.03


def test_run_report_written_twice(tmp_path):
    dataset = make_dataset(count=60)
    config = tiny_config(steps=2)
    config.model.code_size = 3
    Trainer(config, dataset, tmp_path / "run").run(False)
    # Fitting to the codes alone keeps the mixture fit fast; the command-line tests cover the samples.
    options = EvaluationOptions(max_samples=64, prior_data=PriorData.CODES)
    report = evaluate_run(load_run(tmp_path / "run", dataset=dataset), tmp_path / "report", options)
    in_report_dir = json.loads((tmp_path / "report" / "run" / "report.json").read_text())
    in_run_dir = json.loads((tmp_path / "run" / "report.json").read_text())
    assert in_report_dir == in_run_dir == json.loads(json.dumps(report))
    assert (tmp_path / "run" / PRIOR_NAME).is_file()
    assert report["test_images"] == 12
    assert "| run | acn | synthetic | 2 | 12 |" in render_markdown([report], None)


def test_stale_prior_fitted_again(tmp_path):
    dataset = make_dataset(count=60)
    config = tiny_config(steps=2)
    config.model.code_size = 3
    Trainer(config, dataset, tmp_path / "run").run(False)
    run = load_run(tmp_path / "run", dataset=dataset)
    prior_path = tmp_path / "run" / PRIOR_NAME
    load_or_fit_run_prior(run, data=PriorData.CODES)
    assert prior_path.is_file()

    checkpoint_time = run.checkpoint_path.stat().st_mtime
    os.utime(prior_path, (checkpoint_time + 10, checkpoint_time + 10))
    load_or_fit_run_prior(run, data=PriorData.CODES)
    assert prior_path.stat().st_mtime == checkpoint_time + 10  # newer than the checkpoint: loaded as it is

    os.utime(prior_path, (checkpoint_time - 10, checkpoint_time - 10))
    load_or_fit_run_prior(run, data=PriorData.CODES)
    assert prior_path.stat().st_mtime > checkpoint_time  # older: fitted and written again


def test_prior_points_add_posterior_noise():
    codes = np.zeros((5000, 2), dtype=np.float32)
    points = prior_fit_points(codes, PriorData.SAMPLES, np.random.default_rng(0))
    assert points.shape == codes.shape
    assert points.std(0) == pytest.approx([1.0, 1.0], abs=0.05)  # unit posterior variance around each code


def test_prior_points_can_be_codes():
    codes = np.ones((5, 2), dtype=np.float32)
    assert prior_fit_points(codes, PriorData.CODES, np.random.default_rng(0)) is codes


def test_encoder_images_follow_the_model():
    dataset = make_dataset(grey_raw=True)
    grey_config = tiny_config().model
    bits_config = tiny_config().model
    bits_config.encoder_reads_grey = False
    test = dataset.indices[Split.TEST]
    assert np.array_equal(encoder_images(dataset, Split.TEST, grey_config), dataset.raw_images[test])
    assert np.array_equal(encoder_images(dataset, Split.TEST, bits_config), dataset.images[test])
