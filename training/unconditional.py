"""The unconditional prior p(z): a Gaussian mixture fitted by EM to the training codes after training."""

import dataclasses
import io
from pathlib import Path

import numpy as np
from scipy.special import logsumexp
from sklearn.mixture import GaussianMixture

from training.fileio import atomic_write

PRIOR_NAME = "unconditional_prior.npz"
# Past 32 full-covariance components the fit has more parameters than a few thousand codes support.
COMPONENT_CHOICES = (1, 2, 4, 8, 16, 32)


@dataclasses.dataclass(frozen=True)
class UnconditionalPrior:
    """A full-covariance Gaussian mixture over codes: weights (K,), means (K, D), covariances (K, D, D)."""

    weights: np.ndarray
    means: np.ndarray
    covariances: np.ndarray

    @property
    def components(self) -> int:
        return len(self.weights)

    def log_prob(self, z: np.ndarray) -> np.ndarray:
        """Return log p(z) in nats for z (N, D) -> (N,)."""
        z = np.asarray(z, dtype=np.float64)
        code_size = z.shape[1]
        terms = []
        for weight, mean, covariance in zip(self.weights, self.means, self.covariances):
            cholesky = np.linalg.cholesky(covariance)
            solved = np.linalg.solve(cholesky, (z - mean).T)  # (D, N)
            log_det = 2.0 * np.log(np.diag(cholesky)).sum()
            terms.append(np.log(weight) - 0.5 * (solved**2).sum(0) - 0.5 * log_det - 0.5 * code_size * np.log(2 * np.pi))
        return logsumexp(np.stack(terms), axis=0)

    def sample(self, count: int, rng: np.random.Generator) -> np.ndarray:
        """Draw count latents (count, D) float32."""
        components = rng.choice(self.components, size=count, p=self.weights / self.weights.sum())
        noise = rng.standard_normal((count, self.means.shape[1]))
        cholesky = np.linalg.cholesky(self.covariances)  # (K, D, D)
        z = self.means[components] + np.einsum("nij,nj->ni", cholesky[components], noise)
        return z.astype(np.float32)


def fit_unconditional_prior(
    train_codes: np.ndarray, validation_codes: np.ndarray, seed: int = 0, choices: tuple[int, ...] = COMPONENT_CHOICES
) -> tuple[UnconditionalPrior, dict[int, float]]:
    """Fit mixtures by EM for each component count and keep the one with the best validation log-likelihood.

    Returns the chosen prior and the mean validation log-likelihood (nats per code) of every count tried.
    """
    scores: dict[int, float] = {}
    best: GaussianMixture | None = None
    for components in choices:
        if components > len(train_codes):
            break
        mixture = GaussianMixture(components, covariance_type="full", reg_covar=1e-4, random_state=seed, max_iter=200)
        mixture.fit(train_codes)
        scores[components] = float(mixture.score(validation_codes))
        if best is None or scores[components] > scores[best.n_components]:
            best = mixture
    if best is None:
        raise ValueError(f"cannot fit a mixture to {len(train_codes)} codes; need at least one")
    prior = UnconditionalPrior(best.weights_.copy(), best.means_.copy(), best.covariances_.copy())
    return prior, scores


def save_unconditional_prior(path: Path, prior: UnconditionalPrior) -> None:
    buffer = io.BytesIO()
    np.savez(buffer, weights=prior.weights, means=prior.means, covariances=prior.covariances)
    atomic_write(Path(path), lambda temporary: temporary.write_bytes(buffer.getvalue()))


def load_unconditional_prior(path: Path) -> UnconditionalPrior:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"unconditional prior {path} not found; run `acn evaluate` on the run to fit it")
    with np.load(path, allow_pickle=False) as arrays:
        return UnconditionalPrior(arrays["weights"], arrays["means"], arrays["covariances"])
