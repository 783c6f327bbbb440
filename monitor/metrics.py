"""Prometheus metrics of the worker, in groups built over an injected ``CollectorRegistry``:

- :class:`PipelineMetrics`: how messages flow through the worker (events, dead letters,
  processing time, batches, event-time and consumer lag, timers, alerts emitted, output failures);
- :class:`DeliveryMetrics`: alert deliveries and queues, the one group the sinks take;
- :class:`ModelMetrics`: scorings and resolved outcomes, and the model gauges (quality by role,
  calibration, which model scores) that :class:`ModelCollector` reads from the live model book;
- the portfolio's: :class:`PortfolioCollector` over the engine's books, and three readings.

:class:`Metrics` is the worker's facade: the pipeline group, with the others as attributes.
Labels are aggregates only (event type, outcome, product, bucket, tier, sink): never an account.

The portfolio's figures (accounts by tier and bucket, balances, expected loss, roll rates, open
portfolio alerts) and the models' are not counted up and down or set on a timer: the collectors
compute them from the engine's state whenever the registry is scraped, so after a restart, a
rebalance or a revoked partition they say what the state says.

>>> from prometheus_client import CollectorRegistry
>>> registry = CollectorRegistry()
>>> m = Metrics(registry)
>>> m.events.labels(type="payment", outcome="ok").inc()
>>> registry.get_sample_value("monitor_events_total", {"type": "payment", "outcome": "ok"})
1.0
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    GCCollector,
    Histogram,
    ProcessCollector,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from monitor.core.engine import Decisions
from monitor.core.macro import MacroBook
from monitor.core.models import ModelBook
from monitor.core.portfolio import PortfolioBook
from monitor.core.portfolio_watch import lending_growth
from monitor.core.quality import brier, calibration, roc_auc
from monitor.core.vocabulary import (
    ALERT_SEVERITIES,
    ALERT_STATUSES,
    BORROWER_RISK,
    INVALID_EVENT_REASONS,
    PORTFOLIO_ALERT_KINDS,
    RISK_TIERS,
)

#: Vintages (opening months) per product exported as curves: the newest year.
VINTAGES_SHOWN = 12


@dataclass
class PortfolioView:
    """The portfolio as the engine holds it now (what the portfolio gauges show)."""

    book: PortfolioBook = field(default_factory=PortfolioBook)
    open_alerts: list[dict[str, Any]] = field(default_factory=list)
    tiers: dict[str, int] = field(default_factory=dict)
    reserve: float = 0.0
    #: the schedule's counts (see :data:`SCHEDULE_METRICS`)
    schedule: dict[str, float] = field(default_factory=dict)


#: what the schedule reports: name -> (help, counter or gauge)
SCHEDULE_METRICS = {
    "monitor_learner_outcomes": (
        "Outcome records the learner has learnt (labels and behaviour observations).",
        "counter",
    ),
    "monitor_learner_late_outcomes": (
        "Outcome records that came for a day already learnt (from a partition presumed idle); "
        "learnt with the next day.",
        "counter",
    ),
    "monitor_schedule_early_scorings": (
        "Scorings made before the model version of their day was published (after waiting "
        "MONITOR_VERSION_WAIT_S for it), with the newest version there was.",
        "counter",
    ),
    "monitor_schedule_version_waits": (
        "Times a scorer of this worker waited for the model version of its day.",
        "counter",
    ),
    "monitor_schedule_version_wait_seconds": (
        "Seconds the scorers of this worker spent waiting for the model version of their day.",
        "counter",
    ),
    "monitor_schedule_keeper": (
        "1 in the worker that keeps the group's schedule (the learner and the portfolio desk; "
        "the learner and portfolio figures come from it), else 0.",
        "gauge",
    ),
    "monitor_portfolio_late_partials": (
        "Day partials that came for a day the portfolio desk had closed already.",
        "counter",
    ),
    "monitor_schedule_idle_partitions": (
        "Partitions presumed idle (too far behind the newest event-time clock to hold days open).",
        "gauge",
    ),
    "monitor_keeper_cpu_seconds": (
        "CPU seconds the keeper spent on the records it took (learning the outcomes, merging the "
        "partials, watching the book), in the worker that keeps the schedule.",
        "counter",
    ),
    "monitor_learner_closed_day_seconds": (
        "Event time (epoch s) at which the last day the learner learnt ended.",
        "gauge",
    ),
}


class PortfolioCollector(Collector):
    """The portfolio gauges, computed from ``source()`` at scrape time.

    >>> from monitor.core.portfolio import Contribution, Move
    >>> book = PortfolioBook()
    >>> book.apply(Move("credit_pay", None, Contribution("north", "1-29", 50.0, 2.0, 0.1, 900.0)))
    >>> registry = CollectorRegistry()
    >>> _ = PortfolioCollector(lambda: PortfolioView(book, [], {"low": 1}), registry)
    >>> registry.get_sample_value(
    ...     "monitor_accounts_by_dpd_bucket",
    ...     {"product": "credit_pay", "region": "north", "bucket": "1-29"},
    ... )
    1.0
    >>> registry.get_sample_value("monitor_accounts_by_risk_tier", {"tier": "medium"})
    0.0
    """

    def __init__(
        self, source: Callable[[], PortfolioView], registry: CollectorRegistry | None = None
    ) -> None:
        self.source = source
        if registry is not None:
            registry.register(self)

    def describe(self) -> Iterator[Metric]:
        return iter(self._families(PortfolioView()))

    def collect(self) -> Iterator[Metric]:
        return iter(self._families(self.source()))

    @staticmethod
    def _families(view: PortfolioView) -> list[Metric]:
        segment_labels = ["product", "region"]
        tiers = GaugeMetricFamily(
            "monitor_accounts_by_risk_tier", "Open accounts by current risk tier.", labels=["tier"]
        )
        for tier in sorted({*RISK_TIERS, *view.tiers}):  # every tier, at 0 when empty
            tiers.add_metric([tier], float(view.tiers.get(tier, 0)))
        counts = GaugeMetricFamily(
            "monitor_accounts_by_dpd_bucket",
            "Open product accounts by days-past-due bucket.",
            labels=[*segment_labels, "bucket"],
        )
        balances = GaugeMetricFamily(
            "monitor_balance_by_dpd_bucket",
            "Outstanding balance by product, region and days-past-due bucket.",
            labels=[*segment_labels, "bucket"],
        )
        losses = GaugeMetricFamily(
            "monitor_expected_loss",
            "Expected loss (PD x exposure x LGD) by product and region.",
            labels=segment_labels,
        )
        total_el = 0.0
        for key, seg in sorted(view.book.segments.items()):
            product, region = key.split("|")
            for bucket, n in seg.counts.items():
                counts.add_metric([product, region, bucket], float(n))
                balances.add_metric([product, region, bucket], seg.balances[bucket])
            losses.add_metric([product, region], seg.expected_loss)
            total_el += seg.expected_loss
        coverage = GaugeMetricFamily(
            "monitor_reserve_coverage_ratio",
            "Reserve over expected loss (absent when no reserve is configured).",
        )
        if view.reserve > 0 and total_el > 0:
            coverage.add_metric([], view.reserve / total_el)
        rolls = GaugeMetricFamily(
            "monitor_roll_rate",
            "Share of accounts moving between DPD buckets in the last month with moves.",
            labels=[*segment_labels, "from_bucket", "to_bucket"],
        )
        for key, rows in view.book.roll_rates().items():
            product, region = key.split("|")
            for old, shares in rows.items():
                for new, share in shares.items():
                    rolls.add_metric([product, region, old, new], share)
        kinds: dict[str, int] = {}
        for alert in view.open_alerts:
            kinds[alert["kind"]] = kinds.get(alert["kind"], 0) + 1
        alerts = GaugeMetricFamily(
            "monitor_portfolio_alerts_open", "Open portfolio alerts by kind.", labels=["kind"]
        )
        for kind in PORTFOLIO_ALERT_KINDS:
            alerts.add_metric([kind], float(kinds.get(kind, 0)))
        reserve = GaugeMetricFamily(
            "monitor_reserve_amount",
            "The reserve held against expected loss (absent when no reserve is configured).",
        )
        if view.reserve > 0:
            reserve.add_metric([], view.reserve)
        mean_pd = GaugeMetricFamily(
            "monitor_mean_pd",
            "Mean scored probability of reaching 30+ days past due, by product and region.",
            labels=segment_labels,
        )
        for key, seg in sorted(view.book.segments.items()):
            mean_pd.add_metric(key.split("|"), seg.mean_pd)
        roll_accounts = GaugeMetricFamily(
            "monitor_roll_accounts",
            "Accounts that moved between DPD buckets in the last month with moves (the counts "
            "behind monitor_roll_rate, so that shares can be summed over segments).",
            labels=[*segment_labels, "from_bucket", "to_bucket"],
        )
        if view.book.transitions:
            for key, n in sorted(view.book.transitions[max(view.book.transitions)].items()):
                roll_accounts.add_metric(key.split("|"), float(n))
        vintage_accounts = GaugeMetricFamily(
            "monitor_vintage_accounts",
            "Accounts of a vintage (product accounts opened in one month); the newest only.",
            labels=["product", "vintage"],
        )
        vintage_bad = GaugeMetricFamily(
            "monitor_vintage_30plus_accounts",
            "Accounts of a vintage that had reached 30+ days past due by each month on book "
            "(cumulative); over monitor_vintage_accounts, the vintage curve.",
            labels=["product", "vintage", "months_on_book"],
        )
        by_product: dict[str, list[str]] = {}
        for key, vintage in view.book.vintages.items():
            if vintage["n"]:
                by_product.setdefault(key.split("|")[0], []).append(key)
        for keys in by_product.values():
            for key in sorted(keys)[-VINTAGES_SHOWN:]:
                product, month = key.split("|")
                vintage = view.book.vintages[key]
                vintage_accounts.add_metric([product, month], float(vintage["n"]))
                horizon = max((int(m) for m in vintage["bad"]), default=-1) + 1
                running = 0
                for months in range(horizon):
                    running += vintage["bad"].get(str(months), 0)
                    vintage_bad.add_metric([product, month, str(months)], float(running))
        alert_rows = GaugeMetricFamily(
            "monitor_portfolio_alert_open",
            "1 for each open portfolio alert, by kind, segment, series, severity and action.",
            labels=["kind", "product", "region", "series", "severity", "action"],
        )
        for alert in view.open_alerts:
            alert_rows.add_metric(
                [
                    alert["kind"],
                    alert["product"],
                    alert["region"],
                    alert["series"],
                    alert["severity"],
                    alert["action"],
                ],
                1.0,
            )
        families: list[Metric] = [
            tiers,
            counts,
            balances,
            losses,
            coverage,
            rolls,
            alerts,
            reserve,
            mean_pd,
            roll_accounts,
            vintage_accounts,
            vintage_bad,
            alert_rows,
        ]
        for name, (text, kind) in SCHEDULE_METRICS.items():
            value = float(view.schedule.get(name, 0.0))
            if kind == "counter":
                families.append(CounterMetricFamily(name, text, value=value))
            else:
                families.append(GaugeMetricFamily(name, text, value=value))
        return families


LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
SCORE_BUCKETS = (0.01, 0.02, 0.05, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.6, 0.75, 0.9, 1.0)


class _Group:
    """Metrics declared over one registry."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry

    def _counter(self, name: str, text: str, labels: Sequence[str] = ()) -> Counter:
        return Counter(name, text, labels, registry=self.registry)

    def _gauge(self, name: str, text: str, labels: Sequence[str] = ()) -> Gauge:
        return Gauge(name, text, labels, registry=self.registry)

    def _histogram(self, name: str, text: str, buckets: Sequence[float]) -> Histogram:
        return Histogram(name, text, buckets=buckets, registry=self.registry)


class DeliveryMetrics(_Group):
    """The metrics of alert delivery, the only ones a sink needs."""

    def __init__(self, registry: CollectorRegistry) -> None:
        super().__init__(registry)
        self.deliveries = self._counter(
            "monitor_deliveries_total",
            "Alert deliveries, by sink (webhook, alertmanager, kafka), receiver (a URL's origin, "
            "or the alerts topic) and outcome.",
            ["sink", "receiver", "outcome"],
        )
        self.delivery_queue = self._gauge(
            "monitor_delivery_queue",
            "Alerts waiting for delivery, by sink and receiver (a URL's origin).",
            ["sink", "receiver"],
        )


class PipelineMetrics(_Group):
    """How messages flow through the worker: input, dead letters, time taken, lag, output."""

    def __init__(self, registry: CollectorRegistry) -> None:
        super().__init__(registry)
        self.events = self._counter(
            "monitor_events_total",
            "Input messages by event type and outcome (ok, invalid, duplicate).",
            ["type", "outcome"],
        )
        self.dead_letters = self._counter(
            "monitor_dead_letters_total",
            "Messages sent to the dead-letter topic, by reason kind.",
            ["reason"],
        )
        self.processing = self._histogram(
            "monitor_processing_seconds",
            "Time to process one input message in the worker.",
            LATENCY_BUCKETS,
        )
        self.batch_writes = self._histogram(
            "monitor_batch_state_writes",
            "Account states written to the changelogged table per batch of input messages.",
            (1, 10, 50, 100, 250, 500, 1000, 2500),
        )
        self.event_lag = self._gauge(
            "monitor_event_time_seconds", "Event time of the newest message processed (epoch s)."
        )
        self.partition_event_time = self._gauge(
            "monitor_partition_event_time_seconds",
            "Event time of the newest message processed, by input partition (epoch s); "
            "dashboards show time() minus this as the event-time lag.",
            ["partition"],
        )
        self.consumer_lag = self._gauge(
            "monitor_consumer_lag_messages",
            "Messages in the input topic not yet processed by this worker, by partition.",
            ["topic", "partition"],
        )
        self.timers = self._counter("monitor_timers_fired_total", "Event-time timers fired.")
        self.alerts = self._counter(
            "monitor_alerts_total",
            "Alerts emitted, by kind, severity and status.",
            ["kind", "severity", "status"],
        )
        self.alert_actions = self._counter(
            "monitor_alert_actions_total",
            "Firing alerts by kind and recommended action.",
            ["kind", "action"],
        )
        self.output_failures = self._counter(
            "monitor_output_failures_total",
            "Batches of output records (alerts, risk records, dead letters, state changelog) "
            "that could not be produced to Kafka, by topic.",
            ["topic"],
        )
        self.alerts_resent = self._counter(
            "monitor_alerts_resent_total",
            "Alerts sent again after a restart because their input was not yet committed.",
        )
        self.recovery_rereads = self._counter(
            "monitor_recovery_rereads_total",
            "Changelog partitions read again during a restore of the tables after a rebalance, "
            "because Faust had fetched them to their end without handing the restore a record.",
        )
        self._newest: dict[int, float] = {}
        for reason in INVALID_EVENT_REASONS:
            self.dead_letters.labels(reason=reason)  # at 0 from the start, for rate() queries
        for status in ALERT_STATUSES:
            for severity in ALERT_SEVERITIES:
                self.alerts.labels(kind=BORROWER_RISK, severity=severity, status=status)

    def record(self, result: Decisions) -> None:
        """Count the timers fired and the alerts emitted by one processed event."""
        if result.timers:
            self.timers.inc(result.timers)
        self.count_alerts(result.alerts)

    def count_alerts(self, alerts: list[dict[str, Any]]) -> None:
        """Count alerts emitted (the scorers' and the keeper's portfolio alerts)."""
        for alert in alerts:
            self.alerts.labels(
                kind=alert["kind"], severity=alert["severity"], status=alert["status"]
            ).inc()
            if alert["status"] == "firing":
                self.alert_actions.labels(kind=alert["kind"], action=alert["action"]).inc()

    def saw_event(self, partition: int, event_time: float) -> None:
        """Keep the newest event time of each input partition."""
        if event_time > self._newest.get(partition, float("-inf")):
            self._newest[partition] = event_time
            self.partition_event_time.labels(partition=str(partition)).set(event_time)


#: the model gauges: name -> (help, labels)
MODEL_GAUGES: dict[str, tuple[str, list[str]]] = {
    "monitor_model_roc_auc": (
        "ROC AUC of each model over its recent resolved predictions (judged before learning).",
        ["role"],
    ),
    "monitor_model_log_loss": ("Mean log loss over recent resolved predictions.", ["role"]),
    "monitor_model_brier_score": ("Brier score over recent resolved predictions.", ["role"]),
    "monitor_model_calibration": (
        "Mean predicted probability and observed rate by decile of predicted probability.",
        ["role", "decile", "kind"],
    ),
    "monitor_model_active": ("1 for the model that scores now.", ["role"]),
    "monitor_model_challenger_leads": (
        "1 while the challenger has beaten the champion's log loss by the margin for the "
        "patience in a row (it is not switched in).",
        [],
    ),
    "monitor_model_outcomes_learned": (
        "Resolved outcomes the models have learned (the number in the model version).",
        [],
    ),
}


class ModelCollector(Collector):
    """The model gauges, read from the model book ``source()`` gives at scrape time: each role's
    quality over its recent resolved predictions (statistics of :mod:`monitor.core.quality`),
    which model scores, whether the challenger leads, the outcomes learned.

    >>> book = ModelBook()
    >>> registry = CollectorRegistry()
    >>> _ = ModelCollector(lambda: book, registry)
    >>> book.learn({"dpd": 40.0}, True)
    >>> registry.get_sample_value("monitor_model_outcomes_learned")
    1.0
    >>> registry.get_sample_value("monitor_model_brier_score", {"role": "scorecard"}) < 0.25
    True
    """

    def __init__(
        self, source: Callable[[], ModelBook | None], registry: CollectorRegistry | None = None
    ) -> None:
        self.source = source
        if registry is not None:
            registry.register(self)

    def describe(self) -> Iterator[Metric]:
        return iter(self._families(None))

    def collect(self) -> Iterator[Metric]:
        return iter(self._families(self.source()))

    @staticmethod
    def _families(book: ModelBook | None) -> list[Metric]:
        family = {
            name: GaugeMetricFamily(name, text, labels=labels)
            for name, (text, labels) in MODEL_GAUGES.items()
        }
        if book is None:  # no book yet: nothing to say
            return list(family.values())
        family["monitor_model_challenger_leads"].add_metric([], float(book.challenger_leads))
        family["monitor_model_outcomes_learned"].add_metric([], float(book.labels))
        for role, judged in book.judged().items():
            family["monitor_model_active"].add_metric([role], float(judged.model is book.active))
            ys = [int(y) for y, _ in judged.recent]
            ps = [p for _, p in judged.recent]
            if not ys:  # judged on nothing yet
                continue
            for name, value in (
                ("monitor_model_roc_auc", roc_auc(ys, ps)),  # None until both outcomes came
                ("monitor_model_log_loss", judged.loss),
                ("monitor_model_brier_score", brier(ys, ps)),
            ):
                if value is not None:
                    family[name].add_metric([role], value)
            for decile, pair in enumerate(calibration(ys, ps), start=1):
                for kind, value in zip(("predicted", "observed"), pair, strict=True):
                    family["monitor_model_calibration"].add_metric([role, str(decile), kind], value)
        return list(family.values())


class ModelMetrics(_Group):
    """What the models decide and how good they are: scorings and resolved outcomes counted as
    they happen, and the model gauges (:class:`ModelCollector`) read at scrape time from the book
    that :attr:`book` gives."""

    def __init__(self, registry: CollectorRegistry) -> None:
        super().__init__(registry)
        #: the model book the gauges read at scrape time (None: no gauge values yet)
        self.book: Callable[[], ModelBook | None] = lambda: None
        self.gauges = ModelCollector(lambda: self.book(), registry)
        self.scores = self._counter(
            "monitor_scores_total", "Account scorings (events and event-time timers)."
        )
        self.score_distribution = self._histogram(
            "monitor_score",
            "Scored probabilities of reaching 30+ days past due (the score distribution).",
            SCORE_BUCKETS,
        )
        self.labels_resolved = self._counter(
            "monitor_labels_resolved_total",
            "Predictions whose outcome became known, by outcome.",
            ["outcome"],
        )
        for outcome in ("positive", "negative"):
            self.labels_resolved.labels(outcome=outcome)

    def record(self, result: Decisions) -> None:
        """Count the scorings and the resolved outcomes of one processed event."""
        if result.scores:
            self.scores.inc(len(result.scores))
            for _, _, probability in result.scores:
                self.score_distribution.observe(probability)
        for outcome, _ in result.labels:
            self.labels_resolved.labels(outcome="positive" if outcome else "negative").inc()


class Metrics(PipelineMetrics):
    """Every metric the worker exports: the pipeline group (this class's own metrics), the
    :attr:`delivery` group the sinks take, the :attr:`model` group, and the portfolio's."""

    def __init__(self, registry: CollectorRegistry) -> None:
        super().__init__(registry)
        self.delivery = DeliveryMetrics(registry)
        self.model = ModelMetrics(registry)
        # -- the portfolio: the books' gauges read at scrape time, and three readings set here
        #: what the portfolio gauges read at scrape time (the worker points it at its engine)
        self.portfolio_view: Callable[[], PortfolioView] = PortfolioView
        self.portfolio = PortfolioCollector(lambda: self.portfolio_view(), registry)
        self.coverage_min = self._gauge(
            "monitor_reserve_coverage_min",
            "The floor of reserve over expected loss below which a reserve alert fires.",
        )
        self.lending_growth = self._gauge(
            "monitor_lending_growth",
            "30-day growth (event time) of limits per account, of drawdowns and of mean PD, by "
            "product: the over-lending alert's readings.",
            ["product", "series"],
        )
        self.macro_indicator = self._gauge(
            "monitor_macro_indicator",
            "Latest reading of each regional macro indicator.",
            ["region", "indicator"],
        )

    def record(self, result: Decisions) -> None:
        """Apply the decisions of one processed event."""
        super().record(result)
        self.model.record(result)

    def record_models(self, models: ModelBook) -> None:
        """Let the model gauges read ``models`` at every scrape from now on."""
        self.model.book = lambda: models

    def record_macro(self, macro: MacroBook) -> None:
        """Set the latest reading of each regional indicator."""
        for region, series in macro.values.items():
            for indicator, (latest, _) in series.items():
                self.macro_indicator.labels(region=region, indicator=indicator).set(latest)

    def record_lending(self, history: list[dict[str, float]]) -> None:
        """Set the over-lending readings from the desk's daily product totals (the whole book)."""
        for product, series in lending_growth(history).items():
            for name, growth in series.items():
                self.lending_growth.labels(product=product, series=name).set(growth)


#: Buckets of a garbage-collector pause (s): young collections take microseconds, a full one
#: over hundreds of thousands of account states up to seconds.
GC_BUCKETS = (0.0001, 0.001, 0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


def watch_process(registry: CollectorRegistry) -> Callable[[], None]:
    """Export the process's memory and CPU (``process_*``), its collector's counts
    (``python_gc_*``) and the pauses of each collection (``monitor_gc_pause_seconds`` by
    generation) to ``registry``; return the function that stops timing the pauses.

    A full collection walks every live object, so it can pause the worker for seconds; the
    pauses show whether a latency spike came with one.

    >>> registry = CollectorRegistry()
    >>> stop = watch_process(registry)
    >>> _ = gc.collect()
    >>> registry.get_sample_value("monitor_gc_pause_seconds_count", {"generation": "2"}) >= 1
    True
    >>> stop()
    """
    ProcessCollector(registry=registry)
    GCCollector(registry=registry)
    pauses = Histogram(
        "monitor_gc_pause_seconds",
        "Pauses of the cyclic garbage collector, by generation.",
        ["generation"],
        buckets=GC_BUCKETS,
        registry=registry,
    )
    children = [pauses.labels(generation=str(g)) for g in range(3)]
    started = [0.0]

    def timed(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            started[0] = time.perf_counter()
        else:
            children[info["generation"]].observe(time.perf_counter() - started[0])

    gc.callbacks.append(timed)
    return lambda: gc.callbacks.remove(timed)
