"""Prometheus metrics: polls and feed requests counted in a private registry, the text format,
and who may read it ([server] metrics). The only importer of prometheus_client."""

from __future__ import annotations

from typing import Literal

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)

from bot.model import PollReport

MetricsAccess = Literal["local", "off", "public"]
CONTENT_TYPE = CONTENT_TYPE_LATEST


class Metrics:
    """Counters and histograms in a private registry (several apps per process stay apart)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        reg = self.registry
        self.polls = Counter("newsbot_polls", "Polls by outcome", ["feed", "outcome"], registry=reg)
        self.poll_failures = Counter(
            "newsbot_poll_failures", "Failed polls", ["feed"], registry=reg
        )
        self.not_modified = Counter(
            "newsbot_not_modified", "Polls answered 304 by the site", ["feed"], registry=reg
        )
        self.new_items = Counter("newsbot_new_items", "Items seen first", ["feed"], registry=reg)
        self.poll_seconds = Histogram(
            "newsbot_poll_seconds",
            "Duration of one poll",
            ["feed"],
            buckets=(0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120),
            registry=reg,
        )
        self.feed_requests = Counter(
            "newsbot_feed_requests",
            "Feed requests served",
            ["feed", "format", "status"],
            registry=reg,
        )

    def record_poll(self, report: PollReport, seconds: float) -> None:
        """Count one poll and how long it took."""
        feed = report.feed_id
        self.polls.labels(feed, report.outcome).inc()
        if report.outcome == "failed":
            self.poll_failures.labels(feed).inc()
        if report.outcome == "not_modified":
            self.not_modified.labels(feed).inc()
        self.new_items.labels(feed).inc(len(report.new_items))
        self.poll_seconds.labels(feed).observe(seconds)

    def record_request(self, feed: str, fmt: str, status: int) -> None:
        self.feed_requests.labels(feed, fmt, str(status)).inc()

    def exposition(self) -> bytes:
        """Everything in Prometheus text format."""
        return bytes(generate_latest(self.registry))


def refusal(access: MetricsAccess, local_client: bool) -> tuple[int, str] | None:
    """Why /metrics is not served to this client, as (status, message); None when it is."""
    if access == "off":
        return 404, "metrics are off ([server] metrics)"
    if access == "local" and not local_client:
        return 403, "metrics are served to this machine only ([server] metrics)"
    return None
