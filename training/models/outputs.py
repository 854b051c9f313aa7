"""Output distribution of the decoder for one sub-pixel, shared by data, models and export."""

import enum


class OutputType(str, enum.Enum):
    """The decoder's distribution over one sub-pixel."""

    BERNOULLI = "bernoulli"  # binarized data: one logit per pixel, levels {0, 1}
    CATEGORICAL = "categorical"  # 256 grey or colour levels: 256 logits per sub-pixel

    @property
    def levels(self) -> int:
        """Number of values one sub-pixel can take."""
        return 2 if self is OutputType.BERNOULLI else 256
