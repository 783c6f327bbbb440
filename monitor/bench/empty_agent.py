"""The empty-agent reference: a Faust worker whose agent only counts raw messages.

Run as ``python -m monitor.bench.empty_agent TARGET OUT [--lean]`` with the ``MONITOR_*``
settings of the bench topic. When the agent has seen TARGET messages it writes ``{"first",
"last", "count", "cpu"}`` (wall-clock seconds of the first and last message, and the process's
CPU seconds between them) to OUT as JSON; the bench then stops it. It serves no web pages (so it
needs no port). With ``--lean`` it is a :class:`~monitor.worker.faustcompat.LeanApp`, as the
worker is.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import faust
import orjson

from monitor.kafka.security import faust_credentials
from monitor.settings import Settings
from monitor.worker.faustcompat import LeanApp


def build(settings: Settings, target: int, out: Path, lean: bool = False) -> faust.App:
    """A Faust app with the worker's consumer settings and one counting agent (a
    :class:`~monitor.worker.faustcompat.LeanApp` with ``lean``)."""
    app = (LeanApp if lean else faust.App)(
        settings.app_id,
        broker=settings.broker_url,
        broker_credentials=faust_credentials(settings),
        store="memory://",
        datadir=str(settings.data_dir),
        web_enabled=False,
        topic_partitions=settings.partitions,
        key_serializer="raw",
        value_serializer="raw",
        consumer_auto_offset_reset="earliest",
    )
    topic = app.topic(
        settings.input_topic,
        key_type=bytes,
        value_type=bytes,
        key_serializer="raw",
        value_serializer="raw",
        partitions=settings.partitions,
    )
    seen = {"count": 0, "first": 0.0, "cpu": 0.0}

    async def count(stream: faust.StreamT) -> None:
        async for _event in stream.events():
            if seen["count"] == 0:
                seen["first"], seen["cpu"] = time.time(), time.process_time()
            seen["count"] += 1
            if seen["count"] == target:
                cpu = time.process_time() - seen["cpu"]
                result = {"first": seen["first"], "last": time.time(), "count": target, "cpu": cpu}
                out.write_bytes(orjson.dumps(result))

    app.agent(topic, name="count")(count)
    return app


def main() -> None:
    target, out = int(sys.argv[1]), Path(sys.argv[2])
    app = build(Settings.from_env(), target, out, lean="--lean" in sys.argv[3:])
    # Faust's worker command turns the web server on unless told (``web_enabled`` does not stop
    # it), and it would take port 6066 from a worker or anything else already there
    sys.argv = [sys.argv[0], "worker", "--loglevel", "warn", "--without-web"]
    app.main()


if __name__ == "__main__":
    main()
