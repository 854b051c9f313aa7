"""The swap policy: whether a finished run's evaluation meets the deployment's thresholds for activation."""

import dataclasses
from typing import Any

from server.settings import Settings


@dataclasses.dataclass(frozen=True)
class SwapDecision:
    activate: bool
    reasons: list[str]  # one sentence per threshold checked, or why none was

    def to_dict(self) -> dict[str, Any]:
        return {"activate": self.activate, "reasons": self.reasons}


def decide_swap(report: dict[str, Any] | None, settings: Settings) -> SwapDecision:
    """Pass a run when every threshold set holds on its report; a skipped evaluation fails any threshold set."""
    thresholds = {"min_probe_accuracy": settings.min_probe_accuracy, "max_ordered_nats": settings.max_ordered_nats}
    if all(value is None for value in thresholds.values()):
        return SwapDecision(True, ["no activation thresholds are set (ACN_MIN_PROBE_ACCURACY, ACN_MAX_ORDERED_NATS)"])
    if report is None:
        return SwapDecision(False, ["the run skipped evaluation, so the activation thresholds count as not met"])

    reasons = []
    passed = True
    if settings.min_probe_accuracy is not None:
        accuracy = (report.get("linear_probe") or {}).get("codes")
        ok = accuracy is not None and accuracy >= settings.min_probe_accuracy
        reasons.append(f"linear probe accuracy on codes {accuracy} against minimum {settings.min_probe_accuracy}: {'met' if ok else 'not met'}")
        passed &= ok
    if settings.max_ordered_nats is not None:
        ordered = report.get("ordered")
        ok = ordered is not None and ordered <= settings.max_ordered_nats
        reasons.append(f"ordered cost {ordered} nats per image against maximum {settings.max_ordered_nats}: {'met' if ok else 'not met'}")
        passed &= ok
    return SwapDecision(passed, reasons)
