"""Reading one sample of a registry, for tests that check what the metrics say."""

from __future__ import annotations

from prometheus_client import CollectorRegistry


def sample(registry: CollectorRegistry, name: str, labels: dict[str, str] | None = None) -> float:
    """The value of one sample; a sample the registry does not have fails the test.

    >>> from prometheus_client import Counter
    >>> registry = CollectorRegistry()
    >>> Counter("unit_things", "Things.", registry=registry).inc(2)
    >>> sample(registry, "unit_things_total")
    2.0
    """
    value = registry.get_sample_value(name, labels or {})
    assert value is not None, f"no sample {name}{labels or ''}"
    return value
