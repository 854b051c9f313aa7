"""Networks of an ACN. This package imports nothing from the rest of the project."""

from training.models.acn import ACN
from training.models.config import Conditioning, ModelConfig, ModelKind
from training.models.encoder import Encoder
from training.models.outputs import OutputType
from training.models.pixelcnn import GatedPixelCNN
from training.models.prior import LearnedMixturePrior, MixtureParams, PriorNetwork, mixture_log_prob, sample_mixture

__all__ = [
    "ACN",
    "Conditioning",
    "Encoder",
    "GatedPixelCNN",
    "LearnedMixturePrior",
    "MixtureParams",
    "ModelConfig",
    "ModelKind",
    "OutputType",
    "PriorNetwork",
    "mixture_log_prob",
    "sample_mixture",
]
