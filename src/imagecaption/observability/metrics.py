"""Prometheus metrics, one registry per app so that several apps can live in one process (tests)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "imagecaption_requests",
            "HTTP requests by route and status.",
            ["route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "imagecaption_request_duration_seconds",
            "HTTP request latency by route and status.",
            ["route", "status"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.queue_depth = Gauge(
            "imagecaption_queue_depth", "Images waiting for the model.", registry=self.registry
        )
        self.batch_size = Histogram(
            "imagecaption_batch_size",
            "Images captioned per model call.",
            buckets=(1, 2, 4, 8, 16, 32, 64),
            registry=self.registry,
        )
        self.batch_duration = Histogram(
            "imagecaption_batch_duration_seconds",
            "Model time per batch.",
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.model_load_seconds = Gauge(
            "imagecaption_model_load_seconds",
            "Time taken to load and warm up the model.",
            registry=self.registry,
        )
        self.model_ready = Gauge(
            "imagecaption_model_ready",
            "1 once the model is loaded and warm.",
            registry=self.registry,
        )
        self.cache_hits = Counter(
            "imagecaption_cache_hits", "Captions served from the cache.", registry=self.registry
        )
        self.cache_misses = Counter(
            "imagecaption_cache_misses", "Captions computed by the model.", registry=self.registry
        )
        self.rejected = Counter(
            "imagecaption_overload_rejections",
            "Requests refused with 503 because the queue was full.",
            registry=self.registry,
        )
        self.unauthenticated = Counter(
            "imagecaption_unauthenticated",
            "API calls refused with 401 without a known key, by reason: no key (missing) or one "
            "that does not exist (invalid). A revoked key's 401s are in its usage.",
            ["reason"],
            registry=self.registry,
        )
        self.credits_charged = Counter(
            "imagecaption_credits_charged",
            "Credits charged for successful calls.",
            registry=self.registry,
        )

        self.job_images_waiting = Gauge(
            "imagecaption_job_images_waiting",
            "Images of batch jobs waiting for a worker, across every replica: the backlog the "
            "autoscaler scales on.",
            multiprocess_mode="max",
            registry=self.registry,
        )
        self.job_images_running = Gauge(
            "imagecaption_job_images_running",
            "Images of batch jobs in workers' hands, across every replica.",
            multiprocess_mode="max",
            registry=self.registry,
        )

    def unauthenticated_counts(self) -> dict[str, int]:
        """The 401s this process answered, by reason, for the operator page."""
        return {
            reason: int(
                self.registry.get_sample_value(
                    "imagecaption_unauthenticated_total", {"reason": reason}
                )
                or 0
            )
            for reason in ("missing", "invalid")
        }
