"""Prometheus metrics of one app: requests and latencies per route, inference time, index size, daydreams."""

import contextlib
import time
from collections.abc import Iterator

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)

__all__ = ["CONTENT_TYPE_LATEST", "Metrics"]


class Metrics:
    """The collectors of one app, in their own registry so that several apps can live in one process."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "acn_http_requests", "HTTP requests by route template, method and status", ["route", "method", "status"], registry=self.registry
        )
        self.latency = Histogram(
            "acn_http_request_seconds", "time to the end of the response, by route template", ["route", "method"],
            buckets=LATENCY_BUCKETS, registry=self.registry,
        )  # fmt: skip
        self.inference = Histogram(
            "acn_inference_seconds", "model time by operation (encode, search, prior, decode)", ["operation"],
            buckets=LATENCY_BUCKETS, registry=self.registry,
        )  # fmt: skip
        self.index_size = Gauge("acn_index_images", "images in the nearest-neighbour index of the active model", registry=self.registry)
        self.model_swaps = Counter("acn_model_activations", "models loaded and made active", registry=self.registry)
        self.active_samplers = Gauge("acn_sampling_active", "image sampling calls running now", registry=self.registry)
        self.sampled_rows = Counter("acn_sampled_rows", "pixel rows finished by the sampler", registry=self.registry)
        self.daydreams_cancelled = Counter(
            "acn_daydreams_cancelled", "daydream streams whose sampling stopped because the client left", registry=self.registry
        )

    @contextlib.contextmanager
    def time_inference(self, operation: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            self.inference.labels(operation).observe(time.perf_counter() - start)

    @contextlib.contextmanager
    def sampling(self) -> Iterator[None]:
        self.active_samplers.inc()
        try:
            yield
        finally:
            self.active_samplers.dec()

    def render(self) -> bytes:
        return generate_latest(self.registry)
