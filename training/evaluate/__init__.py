"""Judge trained runs: test-set compression costs, linear probes, nearest-neighbour votes and figures."""

from training.evaluate.costs import KL_FIELDS, KLCosts, estimate_kl_costs, estimate_reconstruction_cost
from training.evaluate.montecarlo import MonteCarloEstimate, SamplingPlan, estimate_mean
from training.evaluate.pipeline import EvaluationOptions, evaluate_run, evaluate_runs
from training.evaluate.prior import PriorData, fit_run_prior, load_or_fit_run_prior, prior_fit_points
from training.evaluate.probes import Features, ProbeScores, knn_accuracy, linear_probe_accuracy, probe_scores
from training.evaluate.report import MARKDOWN_NAME, REPORT_NAME
from training.evaluate.runs import TrainedRun, load_run
from training.evaluate.tour import greedy_tour, tour_predecessors

__all__ = [
    "KL_FIELDS",
    "MARKDOWN_NAME",
    "REPORT_NAME",
    "EvaluationOptions",
    "Features",
    "KLCosts",
    "MonteCarloEstimate",
    "PriorData",
    "ProbeScores",
    "SamplingPlan",
    "TrainedRun",
    "estimate_kl_costs",
    "estimate_mean",
    "estimate_reconstruction_cost",
    "evaluate_run",
    "evaluate_runs",
    "fit_run_prior",
    "greedy_tour",
    "knn_accuracy",
    "linear_probe_accuracy",
    "load_or_fit_run_prior",
    "load_run",
    "prior_fit_points",
    "probe_scores",
    "tour_predecessors",
]
