"""The worker's Faust app: no Monitor sensor on the per-event path."""

from __future__ import annotations

import faust

from monitor.faustlean import LeanApp


def test_faust_puts_its_monitor_on_every_event_and_the_lean_app_takes_it_off() -> None:
    plain = faust.App("unit-plain", broker="kafka://127.0.0.1:1")
    list(plain.on_init_dependencies())
    assert plain.monitor in set(plain.sensors)  # what the lean app is for
    lean = LeanApp("unit-lean", broker="kafka://127.0.0.1:1")
    list(lean.on_init_dependencies())
    assert lean.monitor not in set(lean.sensors)
    assert lean.sensors.on_stream_event_in(None, 0, None, None) == {}  # type: ignore[arg-type]
