"""Prometheus metrics of the job scheduler and the price book, read at scrape time.

    bedrock_proxy_job_runs_total{job}                 runs this instance started
    bedrock_proxy_job_failures_total{job}             runs (or claims) that failed
    bedrock_proxy_job_skipped_total{job}              fires skipped: the previous run still going
    bedrock_proxy_job_taken_elsewhere_total{job}      fires another instance claimed first
    bedrock_proxy_job_running{job}                    1 while a run is in flight here
    bedrock_proxy_job_next_fire_timestamp_seconds{job}  when it fires next (Unix seconds)
    bedrock_proxy_job_last_success{job}               1 if the last run here succeeded, 0 if not
    bedrock_proxy_price_book_models                   (region, model) prices in memory
    bedrock_proxy_price_book_reloads_total            successful reloads of the price table
    bedrock_proxy_price_book_reload_failures_total    reloads that failed (prices kept)

Unknown costs are `bedrock_proxy_usage_rows_unpriced_total` (the accountant's statistics).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from web.services import Services

PREFIX = "bedrock_proxy_"


def metering_metrics(services: Services) -> Callable[[], Iterator[Metric]]:
    """A collector function for `web.metrics.StatisticsCollector.extra`."""

    def collect() -> Iterator[Metric]:
        if services.scheduler is not None:
            jobs = services.scheduler.statistics().jobs
            families: dict[str, CounterMetricFamily | GaugeMetricFamily] = {
                "runs": CounterMetricFamily(
                    PREFIX + "job_runs", "Job runs started here.", labels=["job"]
                ),
                "failures": CounterMetricFamily(
                    PREFIX + "job_failures", "Job runs or claims that failed.", labels=["job"]
                ),
                "skipped": CounterMetricFamily(
                    PREFIX + "job_skipped",
                    "Fires skipped because the previous run was still going.",
                    labels=["job"],
                ),
                "taken": CounterMetricFamily(
                    PREFIX + "job_taken_elsewhere",
                    "Fires another instance claimed first.",
                    labels=["job"],
                ),
                "running": GaugeMetricFamily(
                    PREFIX + "job_running", "1 while a run is in flight here.", labels=["job"]
                ),
                "next": GaugeMetricFamily(
                    PREFIX + "job_next_fire_timestamp_seconds",
                    "When the job fires next (Unix seconds).",
                    labels=["job"],
                ),
                "ok": GaugeMetricFamily(
                    PREFIX + "job_last_success",
                    "1 if the last run here succeeded, 0 if it failed.",
                    labels=["job"],
                ),
            }
            for job in jobs:
                families["runs"].add_metric([job.name], job.runs)
                families["failures"].add_metric([job.name], job.failures)
                families["skipped"].add_metric([job.name], job.skipped)
                families["taken"].add_metric([job.name], job.taken_elsewhere)
                families["running"].add_metric([job.name], int(job.running))
                if job.next_fire is not None:
                    families["next"].add_metric([job.name], job.next_fire.timestamp())
                if job.last_result in ("success", "failure", "interrupted"):
                    families["ok"].add_metric([job.name], int(job.last_result == "success"))
            yield from families.values()
        if services.prices is not None:
            book = services.prices.statistics()
            models = GaugeMetricFamily(PREFIX + "price_book_models", "Prices held in memory.")
            models.add_metric([], book.models)
            yield models
            loads = CounterMetricFamily(PREFIX + "price_book_reloads", "Price table reloads.")
            loads.add_metric([], book.loads)
            yield loads
            failures = CounterMetricFamily(
                PREFIX + "price_book_reload_failures", "Price table reloads that failed."
            )
            failures.add_metric([], book.failures)
            yield failures

    return collect
