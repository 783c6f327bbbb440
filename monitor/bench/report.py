"""The printed table of a bench report."""

from __future__ import annotations

from typing import Any


def rows(report: dict[str, Any]) -> list[tuple[str, str]]:
    """(label, value) rows of the headline figures.

    >>> rows({"events": 10, "events_per_s": 5, "latency_ms": {"p50": 1, "p99": 2, "p999": 3}})[:2]
    [('events', '10'), ('events per second (monitor)', '5')]
    """
    latency = report.get("latency_ms", {})
    out = [
        ("events", f"{report.get('events', '-')}"),
        ("events per second (monitor)", f"{report.get('events_per_s', '-')}"),
        ("events per second (bare consumer)", f"{report.get('bare_consumer_events_per_s', '-')}"),
        ("events per second (empty Faust agent)", f"{report.get('empty_agent_events_per_s', '-')}"),
        (
            "empty agent CPU us per event (Faust's App / LeanApp)",
            f"{report.get('empty_agent_cpu_us_per_event', '-')} / "
            f"{report.get('lean_empty_agent_cpu_us_per_event', '-')}",
        ),
        (
            "events per second (empty agent as LeanApp)",
            f"{report.get('lean_empty_agent_events_per_s', '-')}",
        ),
        ("events per second, last quarter", f"{report.get('late_events_per_s') or '-'}"),
        ("worker CPU us per event, last quarter", f"{report.get('cpu_us_per_event') or '-'}"),
        ("bytes to Kafka per event, last quarter", f"{report.get('bytes_out_per_event') or '-'}"),
        ("ratio to empty agent", f"{report.get('ratio_to_empty_agent', '-')}"),
        ("ratio to bare consumer", f"{report.get('ratio_to_bare_consumer', '-')}"),
        ("offered rate for latency (events/s)", f"{report.get('offered_events_per_s', '-')}"),
        ("alerts timed", f"{report.get('latency_alerts', '-')}"),
        (
            "latency p50 / p99 / p99.9 (ms)",
            " / ".join(str(latency.get(k, "-")) for k in ("p50", "p99", "p999")),
        ),
        ("peak RSS (MiB)", f"{report.get('peak_rss_mb', '-')}"),
        ("state bytes per account", f"{report.get('state_bytes_per_account', '-')}"),
        ("workers", f"{report.get('workers', '-')}"),
    ]
    for entry in report.get("scaling", []):
        out.append(
            (f"events per second with {entry['workers']} worker(s)", f"{entry['events_per_s']}")
        )
    if "scale_ratio" in report:
        out.append(("scale ratio (last / first)", f"{report['scale_ratio']}"))
    return out


def print_table(report: dict[str, Any]) -> None:
    """Print the headline figures as an aligned two-column table."""
    table = rows(report)
    width = max(len(label) for label, _ in table)
    for label, value in table:
        print(f"{label:<{width}}  {value}")
