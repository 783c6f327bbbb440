"""The Faust worker: the input topic through the core engine to alerts, dead letters and metrics.

The agent consumes raw bytes (never Faust-decoded records, so a malformed message cannot restart
it), validates them in the core, and dead-letters what is invalid. Account state and macro books
live in changelog-backed tables. What a batch writes (alerts, risk records, dead letters, the
accounts changelog) is produced in a few Kafka batches (:mod:`monitor.worker.outbound`) before the
batch is acknowledged, and Faust flushes the producer before it commits offsets, so an alert is
never lost to a crash (it may be repeated on the topic after one: consumers deduplicate by
``alert_id``); output Kafka does not take stops the worker (status 70) before its input is
committed, so the restart writes it again. Webhook and Alertmanager sinks
keep a delivery journal in the data dir, so across a crash they lose and repeat no delivery.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import hashlib
import logging
import os
import time
from collections.abc import Collection, Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import faust
import orjson
from aiokafka.errors import MessageSizeTooLargeError
from faust.types import TP
from prometheus_client import CollectorRegistry, disable_created_metrics, generate_latest

from monitor import __version__
from monitor.checkpoint import load_models, save_models
from monitor.core.deadletter import dead_letter_record
from monitor.core.engine import Decisions, Engine
from monitor.core.events import Event, InvalidEvent, parse_event
from monitor.core.group import OUTCOMES, SCHEMA_VERSION, GroupSchedule, Keeper
from monitor.core.models import ModelBook
from monitor.core.portfolio import PortfolioBook
from monitor.core.privacy import private_record, pseudonymise
from monitor.core.state import AccountState
from monitor.core.store import WriteBackStore, decode_extra, encode_extra
from monitor.core.vocabulary import UNDELIVERABLE_ALERT
from monitor.engine_config import engine_config
from monitor.kafka.security import faust_credentials
from monitor.metrics import Metrics, PortfolioView, watch_process
from monitor.settings import Settings
from monitor.sinks.alertmanager import AlertmanagerSink
from monitor.sinks.base import Sink
from monitor.sinks.journal import DeliveryJournal
from monitor.sinks.webhook import WebhookSink, receiver_labels
from monitor.worker.faustcompat import (
    LeanApp,
    QuietWorker,
    SendErrorSensor,
    abandon,
    aiokafka_producer,
    commit_state,
    fetch_max_wait,
    read_again,
    recovery_state,
    restore_take_buffer_event,
    set_current_event,
    set_fetch_max_wait,
    set_persisted_offset,
    widen_producer_buffer,
)
from monitor.worker.keeper import KeeperService, ModelsReader
from monitor.worker.outbound import Outbound
from monitor.worker.status import PAGE, StatusBoard
from monitor.worker.tablestore import TableStore, accounts_table, state_bytes

METRICS_CONTENT_TYPE = "text/plain; version=0.0.4"


class MonitorWorker:
    """Topics, tables, the scoring agent and the web pages of one worker process."""

    def __init__(
        self,
        settings: Settings,
        registry: CollectorRegistry | None = None,
        sinks: list[Sink] | None = None,
    ) -> None:
        self.settings = settings
        self.registry = registry or CollectorRegistry()
        self.metrics = Metrics(self.registry)
        # without Faust's Monitor sensor on every event (see monitor.worker.faustcompat)
        self.app = LeanApp(
            settings.app_id,
            broker=settings.broker_url,
            broker_credentials=faust_credentials(settings),
            store=settings.store,
            datadir=str(settings.data_dir),
            web_host=settings.web_host,
            web_bind=settings.web_host,
            web_port=settings.web_port,
            topic_partitions=settings.partitions,
            topic_replication_factor=settings.replication,
            key_serializer="raw",
            value_serializer="raw",
            consumer_auto_offset_reset="earliest",
            table_standby_replicas=0,
            # table writes, alerts and risk records leave in few large produce requests: one
            # request per message costs more than the scoring itself
            producer_linger=0.005,
            producer_max_batch_size=PRODUCER_MAX_BATCH_BYTES,
            # a worker that died (SIGKILL, or status 70 on output Kafka refused) never leaves its
            # group: the broker hands its partitions on once this many seconds pass without a
            # heartbeat (Faust's 60 s kept a restart idle for a minute or more). Heartbeats come
            # from the consumer's own thread, so a long batch does not miss them.
            broker_session_timeout=BROKER_SESSION_TIMEOUT_S,
            broker_heartbeat_interval=BROKER_SESSION_TIMEOUT_S / 5,
            # a rebalance does not wait for the batches under way: one waiting for a model
            # version may wait for the very partitions the rebalance moves. A revoked partition's
            # batch is abandoned unwritten and uncommitted (see _writing), and its new holder
            # processes it again
            stream_wait_empty=False,
        )
        self.input = self._topic(settings.input_topic)
        self.alerts_topic = self._topic(settings.alerts_topic)
        self.dead_letters = self._topic(settings.dead_letter_topic)
        self.risk_topic = self._topic(settings.risk_topic)
        json_schema: faust.Schema = faust.Schema(
            key_type=str, key_serializer="json", value_serializer="json"
        )
        self.accounts = accounts_table(self.app, settings.partitions)
        self.macro = self.app.Table(
            "macro", default=None, schema=json_schema, partitions=settings.partitions
        )
        # each partition's watch gets its share of the reserve (partitions=1 per watch)
        self.checkpoint = Path(settings.model_checkpoint or settings.data_dir / "models.ckpt")
        self.outbound = Outbound(on_sent=self._on_sent, on_failed=self._on_output_failed)
        self._changelog = self.accounts.changelog_topic.get_topic_name()
        self.metrics.coverage_min.set(settings.coverage_min)
        for topic in (settings.alerts_topic, settings.risk_topic, settings.dead_letter_topic):
            self.metrics.output_failures.labels(topic=topic)  # at 0 from the start
        self.metrics.output_failures.labels(topic=self._changelog)
        self.store = WriteBackStore(
            TableStore(self.accounts, self.macro, self.outbound, self._changelog)
        )
        # the scorers hand outcomes, clocks and day partials on to the group's keeper, and
        # score each day with the model version it published for the day
        key = settings.pseudonymise_key
        self.schedule = GroupSchedule(
            settings.model_lag_days,
            account=partial(pseudonymise, key) if key else None,
            initial=load_models(self.checkpoint),
        )
        self.config = engine_config(settings, settings.partitions)
        self.engine = Engine(self.store, config=self.config, schedule=self.schedule)
        self.models_reader = ModelsReader(settings, self.schedule)
        self.keeper = KeeperService(settings, self._make_keeper, self._emit_portfolio)
        self.waits = 0
        self.waited_s = 0.0
        self.metrics.portfolio_view = self._portfolio_view
        # the model gauges read the keeper's book at every scrape, in the worker that keeps it
        self.metrics.model.book = self._model_book
        self.sinks = sinks if sinks is not None else self._http_sinks()
        self._offers: list[dict[str, Any]] = []  # alerts for the sinks once they are written
        self._indexed: set[int] = set()
        self._last_offset: dict[int, int] = {}
        self._busy: set[int] = set()  # partitions whose batch is under way
        self._held: set[int] = set()  # the input partitions assigned here
        #: partition -> the schedule records its state keeps, each batch's with the send that
        #: carries them (kept until Kafka has taken that send)
        self._outbox: dict[int, list[tuple[int, list[list[str]]]]] = {}
        self._sends = 0  # sends to Kafka so far
        self._sends_taken = 0  # the last send Kafka took all of
        self._last_event: dict[int, Any] = {}  # the newest Faust event of each partition
        self.processed = 0
        self.board = StatusBoard(self.metrics)
        # one actor per input partition: a partition whose next day's model version is not
        # there yet waits without holding up the others this worker reads (whose clocks the
        # version may be waiting for)
        self.app.agent(self.input, name="score", isolated_partitions=True)(self._agent)
        # Faust's stubs expect plain functions (view, request); bound methods work the same
        self.app.page("/metrics")(self._metrics_page)  # type: ignore[arg-type]
        self.app.page("/health")(self._health_page)  # type: ignore[arg-type]
        self.app.page("/api/risk/{account}")(self._risk_page)  # type: ignore[arg-type]
        self.app.page("/api/state")(self._state_page)  # type: ignore[arg-type]
        self.app.page("/api/portfolio")(self._portfolio_page)  # type: ignore[arg-type]
        self.app.page("/status")(self._status_page)  # type: ignore[arg-type]
        self.app.page("/api/state-size")(self._state_size_page)  # type: ignore[arg-type]
        self.app.task(self._start_sinks)
        self.app.task(self.models_reader.run)
        self.app.task(self.keeper.run)
        self.app.task(self._widen_producer_buffer)
        self.app.timer(5.0)(self._measure_lag)
        self.app.timer(5.0)(self._measure_portfolio)
        self.app.timer(RECOVERY_WATCH_S)(self._watch_recovery)
        self._recovery_told = 0.0
        #: changelog partitions fetched to their end with nothing handed to the restore, with
        #: the offset the restore had then (read again if still so at the next watch)
        self._unread: dict[TP, int] = {}
        #: input partition -> (its committed offset, since when, how long it had stood when
        #: last told, 0 if not)
        self._commits: dict[int, tuple[int | None, float, float]] = {}
        self.app.timer(settings.checkpoint_every_s)(self._save_models)
        self._saved_labels = 0
        self.app.on_before_shutdown.connect(self._stop_sinks)  # type: ignore[arg-type]
        self.app.on_partitions_assigned.connect(self._on_assigned)  # type: ignore[arg-type]
        self.app.sensors.add(SendErrorSensor(self._on_output_failed))

    def _topic(self, name: str) -> Any:
        return self.app.topic(
            name,
            key_type=bytes,
            value_type=bytes,
            key_serializer="raw",
            value_serializer="raw",
            partitions=self.settings.partitions,
        )

    def _http_sinks(self) -> list[Sink]:
        s = self.settings
        delivery: dict[str, Any] = {  # what every HTTP sink is given alike
            "timeout_s": s.webhook_timeout_s,
            "retries": s.webhook_retries,
            "retry_for_s": s.webhook_retry_for_s,
            "max_backoff_s": s.webhook_max_backoff_s,
            "queue_size": s.webhook_queue,
            "metrics": self.metrics.delivery,
        }
        sinks: list[Sink] = [
            WebhookSink(
                url,
                receiver=receiver,
                secret=s.webhook_secret,
                on_give_up=partial(self._undeliverable, "webhook"),
                journal=self._journal("webhook", url),
                **delivery,
            )
            for url, receiver in zip(s.webhook_urls, receiver_labels(s.webhook_urls), strict=True)
        ]
        if s.alertmanager_url:
            sinks.append(
                AlertmanagerSink(
                    s.alertmanager_url,
                    resend_s=s.alertmanager_resend_s,
                    on_give_up=partial(self._undeliverable, "alertmanager"),
                    journal=self._journal("alertmanager", s.alertmanager_url),
                    generator_url=f"http://{s.web_host}:{s.web_port}/status",
                    **delivery,
                )
            )
        return sinks

    def _journal(self, sink: str, url: str) -> DeliveryJournal | None:
        """The delivery journal of one sink and URL, in the data dir (None when turned off)."""
        keep = self.settings.delivery_journal_keep
        if keep <= 0:
            return None
        name = f"{sink}-{hashlib.sha256(url.encode()).hexdigest()[:12]}.jsonl"
        return DeliveryJournal(self.settings.data_dir / "delivery" / name, keep=keep)

    # -- the agent ------------------------------------------------------------------------
    async def _agent(self, stream: Any) -> None:
        # Events come in batches: state is written to the tables once per account per batch,
        # before Faust acks the batch (so before its offsets can be committed).
        size, wait = self.settings.batch_size, self.settings.batch_wait_s
        async for events in stream.take_events(size, within=wait):
            try:
                self._shorten_fetch_wait()
                await self.process_batch(events, stream)
                await self._send()
                # the sinks hear of the batch's alerts as its records leave for Kafka (not
                # before: a crash in between would let a receiver see an alert that the restart
                # decides otherwise; not after the acks: a crash while waiting would let the
                # topic have alerts the receivers never see)
                self._offer()
            except asyncio.CancelledError:
                # Faust stops the actor of a partition revoked while its batch was under way
                # (waiting for a model version), or the worker stops: the batch is abandoned,
                # uncommitted. The actor ends as one whose stream ended (Faust's supervisor would
                # start a cancelled one again on the partition it no longer has, and crash)
                abandon(events)
                return
            except Exception:
                _stop_at_once(
                    f"processing a batch failed; the worker exits (status "
                    f"{EXIT_PROCESSING_FAILED}) without committing it, so its restart processes "
                    "it again"
                )

    def _shorten_fetch_wait(self) -> None:
        """Let the broker hold a fetch for at most :data:`FETCH_MAX_WAIT_MS`.

        Faust's consumer asks for 1.5 s (fixed in its aiokafka driver), and aiokafka keeps one
        fetch in flight per broker. The consumer is also assigned partitions that stay quiet
        (the tables' changelogs, the assignor's topic): while the input partitions still had
        records buffered, a fetch went out for the quiet ones alone and held up the next fetch
        of input for the full 1.5 s. At 1,300 events/s every input waited 1.4-1.8 s that way,
        with the worker a third idle. Since a fetch for the quiet partitions still goes out after
        each fetch of input, input is fetched about every ``FETCH_MAX_WAIT_MS``: 100 ms gave p99
        250 ms at 1,202 events/s, 50 ms p99 179 ms at 1,128/s, with the throughput within the
        noise between runs; 20 ms looked 13% costlier in CPU per event in one pair of runs.
        """
        set_fetch_max_wait(self.app, FETCH_MAX_WAIT_MS)

    async def process_batch(self, events: list[Any], stream: Any) -> list[Decisions | None]:
        """Process a batch of Faust events (raw messages) in order, each event once the model
        version of its day is published (waiting for it, bounded, when it is not), then write the
        state they changed (see :meth:`handle_batch`); return each one's decisions."""
        out: list[Decisions | None] = []
        with self._writing(events, stream):
            for m in (event.message for event in events):
                begun = self._begin(m.topic, m.partition, m.offset, m.key, m.value)
                if isinstance(begun, _Begun):
                    if not self.engine.ready(begun.event.day):
                        await self._wait_for_version(begun.event.day, begun.partition, stream)
                    out.append(self._finish(begun))
                else:
                    out.append(begun)
            await self._steady()
        return out

    async def _steady(self) -> None:
        """Wait while the group rebalances (from its start until the partitions assigned are
        restored): a partition may be on its way to another worker, which reads its state from
        the changelog, so nothing of it may be written meanwhile. Faust stops the actor of a
        partition taken away (its batch is then abandoned); one kept goes on."""
        while self.app.rebalancing:
            await asyncio.sleep(REBALANCE_POLL_S)

    def handle_batch(self, events: list[Any], stream: Any) -> list[Decisions | None]:
        """Process a batch of Faust events (raw messages) in order without waiting for model
        versions (a scoring before its day's version is counted as early), then write the state
        they changed, each partition's while ``stream``'s current event is one of that partition
        (Faust tables write to the current event's partition); return each one's decisions."""
        with self._writing(events, stream):
            return [
                self._handle(m.topic, m.partition, m.offset, m.key, m.value)
                for m in (event.message for event in events)
            ]

    @contextlib.contextmanager
    def _writing(self, events: list[Any], stream: Any) -> Iterator[None]:
        """Around a batch: then save what the engine holds apart, queue the schedule's
        records, and write the state the batch changed."""
        mine = {event.message.partition: event for event in events}
        self._last_event.update(mine)
        busy = [p for p in mine if p in self._busy]
        assert not busy, f"two batches of partition {busy} at once"
        self._busy.update(mine)
        try:
            yield
        except asyncio.CancelledError:
            # the partition was revoked while its batch waited: nothing of it is written or
            # committed; the worker that gets the partition processes it again
            for partition in mine:
                self.store.discard(partition)
                self.schedule.discard(partition)
            abandon(events)
            raise
        finally:
            self._busy.difference_update(mine)
        # the batches of other partitions under way (waiting for a version) write theirs later
        self.metrics.batch_writes.observe(self._write(stream, skip=self._busy))

    def _write(self, stream: Any, skip: set[int]) -> int:
        """Save what the engine holds apart, write the state of every partition but those in
        ``skip`` and queue their schedule records, which so never leave before the state they
        follow from (a worker that takes a partition over then never scores again a day whose
        clock was handed on); return the account writes."""
        # Faust read on meanwhile (also while a scorer waited): see restore_take_buffer_event
        current = stream.current_event
        self.engine.save()
        records = self._keep_schedule(skip, self._last_event.keys() - skip)
        written = self.store.flush(
            lambda p: set_current_event(stream, self._last_event[p]),
            skip=skip | (self.store.partitions() - self._last_event.keys()),
        )
        self._queue_schedule(records)
        restore_take_buffer_event(stream, current)
        return written

    def handle(
        self, topic: str, partition: int, offset: int, key: bytes | None, value: bytes | None
    ) -> Decisions | None:
        """Process one raw message (without waiting for its day's model version) and write its
        state; return the engine's decisions (None if dead-lettered)."""
        try:
            return self._handle(topic, partition, offset, key, value)
        finally:
            self.engine.save()
            records = self._keep_schedule((), self.store.partitions() | self._held)
            self.store.flush()
            self._queue_schedule(records)
            self._offer()

    def _handle(
        self, topic: str, partition: int, offset: int, key: bytes | None, value: bytes | None
    ) -> Decisions | None:
        begun = self._begin(topic, partition, offset, key, value)
        return self._finish(begun) if isinstance(begun, _Begun) else begun

    def _begin(
        self, topic: str, partition: int, offset: int, key: bytes | None, value: bytes | None
    ) -> _Begun | None:
        """Validate a message (dead-lettering it if invalid: None) and bring its partition's
        clock to its day (:meth:`Engine.begin`)."""
        started = time.perf_counter()
        self._last_offset[partition] = offset
        if partition not in self._indexed:
            self._held.add(partition)
            # first message of this partition since start or rebalance: re-index its timers and
            # send again what a crash may have kept from the receivers
            for alert in self.engine.recover(partition, offset):
                self._emit(alert, f"{topic}/{partition}/{offset}")
                self.metrics.alerts_resent.inc()
            self._resend_schedule(partition)
            self._indexed.add(partition)
        try:
            event = parse_event(value, self.settings.max_event_bytes)
        except InvalidEvent as exc:
            self.metrics.events.labels(type="unknown", outcome="invalid").inc()
            self.metrics.dead_letters.labels(reason=exc.kind).inc()
            source = {"topic": topic, "partition": partition, "offset": offset}
            record = dead_letter_record(value, exc.reason, exc.kind, source, key)
            self.outbound.add(
                self.settings.dead_letter_topic,
                key,
                orjson.dumps(record),
                _headers(f"{topic}/{partition}/{offset}"),
            )
            return None
        result = self.engine.begin(event, partition, offset)
        return _Begun(topic, partition, offset, event, result, started)

    def _finish(self, begun: _Begun) -> Decisions:
        """The rest of an event once its day's version is here (:meth:`Engine.finish`)."""
        event, partition = begun.event, begun.partition
        result = self.engine.finish(event, partition, begun.offset, begun.result)
        if result.duplicate:
            self.metrics.events.labels(type=event.type, outcome="duplicate").inc()
            return result
        self.metrics.events.labels(type=event.type, outcome="ok").inc()
        origin = f"{begun.topic}/{partition}/{begun.offset}"
        for alert in result.alerts:
            self._emit(alert, origin)
        for account, risk in result.risk:
            self._publish_risk(account, risk)
        self.metrics.record(result)
        self.metrics.event_lag.set(event.time)
        self.metrics.saw_event(partition, event.time)
        self.metrics.processing.observe(time.perf_counter() - begun.started)
        self.processed += 1
        return result

    def _keep_schedule(
        self, skip: Collection[int], flushed: Collection[int]
    ) -> list[tuple[str, bytes, bytes]]:
        """Take the records the scorers handed on for the keeper (outcomes, clocks, partials),
        but those of the partitions in ``skip``, and keep each partition's in its own state,
        which the store writes in the same flush (a transactional outbox): a worker that takes
        the partition over after a crash between the state and the records sends them again
        (:meth:`_resend_schedule`), so no clock or outcome its state has passed is lost. A
        partition's kept records go once Kafka has taken the sends that carry them (at its next
        write among ``flushed``)."""
        records = self.schedule.drain(skip)
        mine: dict[int, list[list[str]]] = {}
        for topic, key, value in records:
            mine.setdefault(int(key), []).append([topic, value.decode()])
        for partition, batch in mine.items():
            # with the records of the sends Kafka has not taken yet: a crash may lose any send
            # still in flight, not only the last one
            kept = [*self._untaken(partition), (self._sends + 1, batch)]  # the next send's
            self._outbox[partition] = kept
            text = encode_extra([record for _, sent in kept for record in sent])
            self.store.put_extra(f"{SCHEDULE_OUTBOX}p{partition}", text, partition)
        for partition in [p for p in flushed if p not in mine and p in self._outbox]:
            if not self._untaken(partition):
                self.store.delete_extra(f"{SCHEDULE_OUTBOX}p{partition}", partition)
                del self._outbox[partition]
        return records

    def _untaken(self, partition: int) -> list[tuple[int, list[list[str]]]]:
        """``partition``'s kept schedule records whose send Kafka has not taken yet."""
        return [kept for kept in self._outbox.get(partition, []) if kept[0] > self._sends_taken]

    def _queue_schedule(self, records: list[tuple[str, bytes, bytes]]) -> None:
        s = self.settings
        for topic, key, value in records:
            name = s.outcomes_topic if topic == OUTCOMES else s.partials_topic
            self.outbound.add(name, key, value, SCHEDULE_HEADERS, partition=0)

    def _resend_schedule(self, partition: int) -> None:
        """Queue again the schedule records ``partition``'s state kept (see
        :meth:`_keep_schedule`). The keeper takes a record twice as once."""
        text = self.store.get_extra(f"{SCHEDULE_OUTBOX}p{partition}")
        if not text:
            return
        kept: Any = decode_extra(text)
        self._queue_schedule([(topic, str(partition).encode(), v.encode()) for topic, v in kept])
        self._outbox[partition] = [(self._sends + 1, kept)]

    async def _send(self) -> None:
        """Hand what is queued to Kafka; note the send once Kafka has taken all of it."""
        self._sends += 1
        number = self._sends
        futures = await self.outbound.send(aiokafka_producer(self.app))
        done = asyncio.gather(*futures)
        done.add_done_callback(partial(self._taken, number))

    def _taken(self, number: int, done: asyncio.Future[Any]) -> None:
        if not done.cancelled() and done.exception() is None:
            self._sends_taken = max(self._sends_taken, number)

    async def _wait_for_version(self, day: int, partition: int, stream: Any) -> None:
        """Write the state of ``partition``'s batch so far and what is queued (the clocks the
        keeper needs to close the day before) and wait until the version that scores ``day`` is
        read, for at most ``MONITOR_VERSION_WAIT_S``; past it the event is scored with the
        newest version there is (counted as early)."""
        await self._steady()
        self._write(stream, skip=self._busy - {partition})
        await self._send()
        self._offer()
        started = time.monotonic()
        ready = await self.models_reader.wait(
            lambda: self.engine.ready(day), self.settings.version_wait_s
        )
        self.waits += 1
        self.waited_s += time.monotonic() - started
        if not ready:
            logging.getLogger(__name__).warning(
                "no model version for event-time day %d after %.0f s (MONITOR_VERSION_WAIT_S): "
                "scoring with the newest there is; is every input partition receiving events "
                "and is the keeper running? (monitor_schedule_early_scorings_total counts these)",
                day,
                self.settings.version_wait_s,
            )

    def _emit(self, alert: dict[str, Any], source: str) -> None:
        """Send an alert to the alerts topic and every sink; ``source`` names the input message
        (topic/partition/offset) whose processing raised it, as the ``source`` header."""
        outgoing = alert
        if "account_id" in alert:  # borrower alerts; portfolio alerts name a segment
            outgoing = self._private(alert)
            key = outgoing["account_id"]
            correlation = outgoing["trigger_event_ids"][0]
        else:
            key, correlation = alert["segment"], alert["alert_id"]
        self.outbound.add(
            self.settings.alerts_topic,
            key.encode(),
            orjson.dumps(outgoing),
            [*_headers(correlation), ("source", source.encode())],
        )
        self.metrics.delivery.deliveries.labels(
            sink="kafka", receiver=self.settings.alerts_topic, outcome="queued"
        ).inc()
        self.board.add_alert(outgoing)
        if self.sinks:
            self._offers.append(outgoing)

    def _offer(self) -> None:
        """Offer the alerts decided since the last time to every sink, in order."""
        offers, self._offers = self._offers, []
        for alert in offers:
            for sink in self.sinks:
                sink.offer(alert)

    def _private(self, record: dict[str, Any]) -> dict[str, Any]:
        return private_record(record, self.settings.pseudonymise_key)

    def _publish_risk(self, account: str, record: dict[str, Any] | None) -> None:
        key = pseudonymise(self.settings.pseudonymise_key, account)
        if record is None:  # closed: a tombstone, so the compacted topic forgets the account
            self.outbound.add(self.settings.risk_topic, key.encode(), None)
            return
        outgoing = self._private(record)
        self.outbound.add(
            self.settings.risk_topic,
            key.encode(),
            orjson.dumps(outgoing),
            _headers(outgoing["trigger_event_ids"][0]),
        )

    def _undeliverable(self, sink: str, alert: dict[str, Any], reason: str) -> Any:
        """An alert a sink gave up on goes to the dead-letter topic (already pseudonymised);
        returns the record's future (the sink's journal lets the alert go once it is written)."""
        record = dead_letter_record(
            orjson.dumps(alert),
            f"alert delivery failed: {reason}",
            UNDELIVERABLE_ALERT,
            {"sink": sink},
        )
        key = alert.get("account_id") or alert.get("segment", "")
        return self.dead_letters.send_soon(
            key=key.encode(), value=orjson.dumps(record), headers=_headers(alert["alert_id"])
        )

    def _on_sent(self, topic: str, partition: int, offset: int) -> None:
        """A batch of the accounts changelog is written: a RocksDB table keeps its offset, so
        that recovery after a restart reads only what came after it (as Faust's own writes do)."""
        if topic == self._changelog:
            set_persisted_offset(self.accounts, TP(topic, partition), offset)

    def _on_output_failed(self, topic: str, exc: BaseException) -> None:
        """Kafka did not take records the worker wrote (after the producer's own retries, or at
        once when it refuses them for good): stop before their input can be committed.

        Faust commits input offsets only after flushing the producer, and that flush waits for
        every batch already handed to it, so the failure arrives here (a callback of the batch)
        before the flush returns: exiting at once leaves the input uncommitted, and the restart
        processes it again and writes the records then (once Kafka takes them)."""
        self.metrics.output_failures.labels(topic=topic).inc()
        hint = ""
        if isinstance(exc, MessageSizeTooLargeError):
            hint = (
                f"; the worker writes batches of up to {PRODUCER_MAX_BATCH_BYTES // 1024} KiB, so "
                f"set the topic's max.message.bytes to at least {PRODUCER_MAX_BATCH_BYTES + 1024}"
            )
        _stop_at_once(
            f"Kafka did not take the records written to {topic} ({type(exc).__name__}: {exc}"
            f"{hint}); the worker exits (status {EXIT_PROCESSING_FAILED}) without committing "
            "their input, so its restart writes them again",
            traceback=False,
        )

    # -- lifecycle ------------------------------------------------------------------------
    async def _start_sinks(self) -> None:
        for sink in self.sinks:
            await sink.start()

    async def _widen_producer_buffer(self) -> None:
        """Let a whole batch's table writes queue in Faust's producer buffer: at its default of
        100 messages the stream stops at each further message to drain it one by one."""
        widen_producer_buffer(self.app, max(4 * self.settings.batch_size, 1000))

    async def _stop_sinks(self, app: Any = None, **kwargs: Any) -> None:
        for sink in self.sinks:
            await sink.stop()

    async def _save_models(self) -> None:
        """Checkpoint the keeper's models (in the worker that keeps the schedule) when they have
        learned something since the last time: a start-up cache for a keeper that finds no
        snapshot on the models topic, never what a keeper with one starts from."""
        models = self._model_book()
        if models is not None and models.labels != self._saved_labels:
            save_models(models, self.checkpoint)
            self._saved_labels = models.labels

    async def _measure_portfolio(self) -> None:
        if self._indexed:  # macro indicators reach every partition: any one holds them all
            self.metrics.record_macro(self.engine.macro(min(self._indexed)))
        keeper = self.keeper.keeper
        if keeper is not None:  # the desk watches the whole book, in the worker that keeps it
            self.metrics.record_lending(keeper.desk.watch.history)

    def _make_keeper(self) -> Keeper:
        """A fresh keeper for this group (its models from the checkpoint, if there is one)."""
        s = self.settings
        return Keeper(
            load_models(self.checkpoint),
            self.config.watch,
            s.partitions,
            s.model_lag_days,
            self.config.auc_window,
            s.idle_partition_days,
            address=f"http://{s.web_host}:{s.web_port}",
        )

    def _model_book(self) -> ModelBook | None:
        """The keeper's model book, in the worker that keeps the schedule (else None)."""
        keeper = self.keeper.keeper
        return keeper.learner.models if keeper is not None else None

    async def _emit_portfolio(self, alerts: list[dict[str, Any]], producer: Any) -> None:
        """Write the keeper's portfolio alerts to the alerts topic and offer them to the sinks
        once Kafka has them."""
        futures = []
        for alert in alerts:
            futures.append(
                await producer.send(
                    self.settings.alerts_topic,
                    key=alert["segment"].encode(),
                    value=orjson.dumps(alert),
                    headers=[*_headers(alert["alert_id"]), ("source", b"keeper")],
                )
            )
            self.metrics.delivery.deliveries.labels(
                sink="kafka", receiver=self.settings.alerts_topic, outcome="queued"
            ).inc()
            self.board.add_alert(alert)
        await asyncio.gather(*futures)
        self.metrics.count_alerts(alerts)
        for alert in alerts:
            for sink in self.sinks:
                sink.offer(alert)

    def _portfolio_view(self) -> PortfolioView:
        """The portfolio gauges' reading (at scrape time): the whole book and the open
        portfolio alerts in the worker that keeps the schedule, nothing of them elsewhere (so
        that summing over workers counts each once); accounts by tier over the partitions held
        here."""
        tiers = self.engine.accounts_by_tier()
        counts: dict[str, float] = {
            "monitor_schedule_early_scorings": self.schedule.early,
            "monitor_schedule_version_waits": self.waits,
            "monitor_schedule_version_wait_seconds": self.waited_s,
        }
        keeper = self.keeper.keeper
        if keeper is None:
            return PortfolioView(PortfolioBook(), [], tiers, 0.0, counts)
        counts.update(
            keeper.counts(),
            monitor_schedule_keeper=1.0,
            monitor_keeper_cpu_seconds=self.keeper.busy_s,
        )
        book, open_alerts = keeper.desk.book, keeper.desk.open_alerts()
        return PortfolioView(book, open_alerts, tiers, self.settings.reserve_amount, counts)

    async def _watch_recovery(self) -> None:
        """Look after Faust's restore of the tables after a rebalance: a changelog partition
        it has fetched to its end without handing the restore a record of it is read again
        (once it stays so for a watch), and a restore that goes on for more than a minute is
        logged once a minute with the partitions it waits for (the worker's batches wait)."""
        state = await recovery_state(self.app)
        if state is None:
            self._recovery_told, self._unread = 0.0, {}
            return
        unread = {
            TP(w["topic"], w["partition"]): w["offset"]
            for w in state["waiting"]
            if not w["paused"]
            and w["position"] is not None
            and w["position"] > w["offset"] + w["left"]  # fetched to its end, yet the restore
            and not state["queued"]  # has nothing of it left to take
        }
        # ... and has not moved since the last watch
        again = {
            tp: max(offset, 0) for tp, offset in unread.items() if self._unread.get(tp) == offset
        }
        self._unread = {tp: o for tp, o in unread.items() if tp not in again}
        if again:
            logging.getLogger(__name__).warning(
                "Faust fetched %s to the end during the restore after a rebalance but did not "
                "hand the restore the rest of it (%s); reading it again from where the restore is",
                ", ".join(f"{tp.topic}[{tp.partition}]" for tp in sorted(again)),
                "; ".join(
                    f"{w['topic']}[{w['partition']}] routed {w['routed']}, read offset "
                    f"{w['read_offset']}"
                    for w in state["waiting"]
                )
                + f"; {state['queued']} records queued for the restore",
            )
            self.metrics.recovery_rereads.inc(len(again))
            try:
                await read_again(self.app, again)
            except Exception as exc:  # (a rebalance under way took them away: its restore seeks)
                logging.getLogger(__name__).warning("could not read them again: %r", exc)
        if not _say_now(state["seconds"], self._recovery_told):
            if state["seconds"] < RECOVERY_SLOW_S:
                self._recovery_told = 0.0
            return
        self._recovery_told = state["seconds"]
        logging.getLogger(__name__).warning(
            "restoring the tables after a rebalance has taken %.0f s and still waits for %s; "
            "input waits meanwhile: if no partition moves for minutes, restart this worker",
            state["seconds"],
            "; ".join(
                f"{w['topic']}[{w['partition']}]: {w['left']} records left from offset "
                f"{w['offset']}, fetch position {w['position']}"
                f"{', paused' if w['paused'] else ''}"
                for w in state["waiting"]
            )
            or "nothing (every changelog partition is read to its end)",
        )

    async def _measure_lag(self) -> None:
        """Lag per assigned input partition: the high-water mark against the last offset seen."""
        self._shorten_fetch_wait()  # before the first input arrives, too
        consumer = self.app.consumer
        for tp in consumer.assignment():
            if tp.topic != self.settings.input_topic:
                continue
            try:
                highwater = consumer.highwater(tp)
            except Exception:
                continue
            if highwater is None:
                continue
            done = self._last_offset.get(tp.partition, -1) + 1
            self.metrics.consumer_lag.labels(topic=tp.topic, partition=str(tp.partition)).set(
                max(highwater - done, 0)
            )
            self._watch_commits(tp, done)

    def _watch_commits(self, tp: TP, done: int) -> None:
        """Say, once a minute, when an input partition's commits have not moved for a minute
        though its input up to ``done`` is processed, with what Faust holds for committing it
        (its input would be processed again after a restart)."""
        state = commit_state(self.app, tp)
        committed = state["committed"]
        now = time.monotonic()
        seen = self._commits.get(tp.partition)
        if committed is None or committed >= done or seen is None or seen[0] != committed:
            self._commits[tp.partition] = (committed, now, 0.0)
            return
        _, since, told = seen
        if not _say_now(now - since, told):
            return
        self._commits[tp.partition] = (committed, since, now - since)
        logging.getLogger(__name__).warning(
            "the commits of %s[%d] have stood at %s for %.0f s though its input is processed up "
            "to %d; Faust holds acknowledged %s (%d in all), gaps %s, read offset %s",
            tp.topic,
            tp.partition,
            committed,
            now - since,
            done,
            state["acked"],
            state["acked_count"],
            state["gaps"],
            state["read_offset"],
        )

    async def _on_assigned(self, app: Any = None, assigned: Any = (), **kwargs: Any) -> None:
        """After a rebalance (Faust has stopped the actors of the partitions taken from this
        worker), the engine forgets what it held for each input partition no longer assigned
        here: its state stays in the changelogged tables, and whoever is assigned the partition
        rebuilds it from them at its first message. A partition this worker keeps is kept as it
        is, with its batch under way, if any."""
        kept = {tp.partition for tp in assigned if tp.topic == self.settings.input_topic}
        for partition in self._held - kept:
            self.engine.release(partition)
            self.store.discard(partition)
            self._last_event.pop(partition, None)
            self._indexed.discard(partition)
            self._last_offset.pop(partition, None)
            self._outbox.pop(partition, None)
            with contextlib.suppress(KeyError):  # its lag is the new holder's to report
                self.metrics.consumer_lag.remove(self.settings.input_topic, str(partition))
        self._held = kept

    # -- web ------------------------------------------------------------------------------
    # Faust calls a bound method with the request only; responses come from the app's web.
    async def _metrics_page(self, request: Any) -> Any:
        return self.app.web.bytes(generate_latest(self.registry), content_type=METRICS_CONTENT_TYPE)

    async def _state_page(self, request: Any) -> Any:
        models = self.schedule.models
        version, labels = (models.version, models.labels) if models is not None else ("", 0)
        return self.app.web.json(self.board.state(version, labels))

    async def _portfolio_page(self, request: Any) -> Any:
        """The whole book's delinquency structure as the keeper's desk last closed a day, as
        JSON, from the worker that keeps the schedule; the others say where it is."""
        keeper = self.keeper.keeper
        if keeper is None:
            return self.app.web.json(
                {
                    "kept_here": False,
                    "keeper": self.schedule.keeper_at,
                    "message": "the whole portfolio is kept by the worker that keeps the "
                    "schedule: ask its /api/portfolio",
                }
            )
        book = keeper.desk.book
        return self.app.web.json(
            {
                "kept_here": True,
                "day": keeper.desk.watch.day,
                "segments": book.summary(),
                "roll_rates": book.roll_rates(),
                "vintage_curves": book.vintage_curves(),
                "alerts": keeper.desk.open_alerts(),
            }
        )

    async def _state_size_page(self, request: Any) -> Any:
        """Accounts held here and the bytes of their stored (serialised) state."""
        states = [s for s in list(self.accounts.values()) if isinstance(s, AccountState)]
        sizes = [state_bytes(state) for state in states]
        return self.app.web.json({"accounts": len(sizes), "bytes": sum(sizes)})

    async def _status_page(self, request: Any) -> Any:
        return self.app.web.html(PAGE)

    async def _risk_page(self, request: Any, account: str) -> Any:
        """The account's last published risk (as on the account-risk topic), for operators."""
        state = self.store.inner.get(account)
        if state is None or state.published < 0:
            return self.app.web.json({"account_id": account, "known": False}, status=404)
        return self.app.web.json(
            {
                "account_id": account,
                "known": True,
                "probability": round(state.published, 4),
                "risk_tier": state.published_tier,
            }
        )

    async def _health_page(self, request: Any) -> Any:
        models = self.schedule.models
        return self.app.web.json(
            {
                "status": "ok",
                "version": __version__,
                "processed": self.processed,
                "bytes_out": self.outbound.bytes_added,
                "model_version": models.version if models is not None else "",
                "labels_learned": models.labels if models is not None else 0,
                "keeps_schedule": self.keeper.held,
                "fetch_max_wait_ms": fetch_max_wait(self.app),
            }
        )


@dataclass(slots=True)
class _Begun:
    """An event whose partition's clock is at its day (:meth:`Engine.begin`), to finish."""

    topic: str
    partition: int
    offset: int
    event: Event
    result: Decisions
    started: float


#: Longest time the broker may hold the worker's fetch request waiting for new input (ms).
FETCH_MAX_WAIT_MS = 50
#: Seconds without a heartbeat after which the broker gives a dead worker's partitions to
#: the others (Kafka's consumers used 10 s before 3.0; at least the broker's
#: group.min.session.timeout.ms, 6 s by default).
BROKER_SESSION_TIMEOUT_S = 10.0
#: how often a batch about to write its state looks whether the group still rebalances (s)
REBALANCE_POLL_S = 0.02
#: how often the worker looks at Faust's table recovery, and after how long it says it is slow
RECOVERY_WATCH_S, RECOVERY_SLOW_S = 15.0, 60.0


def _say_now(stood_s: float, told_s: float) -> bool:
    """Whether to log, once a minute, that something has stood still for ``stood_s`` seconds
    (``told_s``: how long it had stood when last logged, 0 if not)."""
    return stood_s >= RECOVERY_SLOW_S and stood_s - told_s >= RECOVERY_SLOW_S


#: Largest record batch the worker's producer writes (bytes).
PRODUCER_MAX_BATCH_BYTES = 512 * 1024
#: Exit status of a worker whose processing failed (EX_SOFTWARE).
EXIT_PROCESSING_FAILED = 70


def _stop_at_once(message: str, traceback: bool = True) -> None:
    """End the process now, with status :data:`EXIT_PROCESSING_FAILED`, saying why.

    For a batch that could not be processed (a bug, since bad input is dead-lettered) or whose
    output Kafka did not take. Faust would acknowledge a failed batch on the way out of
    ``take_events`` and then commit it, and its agent would stay down while the worker looks
    healthy; exiting at once commits nothing more, so a restart processes the batch again."""
    logging.getLogger(__name__).critical(message, exc_info=traceback)
    logging.shutdown()
    os._exit(EXIT_PROCESSING_FAILED)


def _headers(correlation_id: str) -> list[tuple[str, bytes]]:
    """Kafka headers of every record the monitor writes: lineage and contract version."""
    return [("correlation-id", correlation_id.encode()), ("schema-version", b"1")]


#: Kafka headers of the records the scorers hand on to the keeper (the outcomes topic's contract)
SCHEDULE_HEADERS = [("schema-version", str(SCHEMA_VERSION).encode())]
#: a partition's schedule records not yet known to be in Kafka, in its state (see _keep_schedule)
SCHEDULE_OUTBOX = "schedule-outbox:"


#: Cyclic garbage collector thresholds of a worker. With Python's defaults (700, 10, 10) a full
#: collection walks every account state every few thousand events: pauses of 0.3-0.6 s at 20,000
#: accounts, and 12% of the core's time. The engine's objects are freed by reference counting.
GC_THRESHOLDS = (50_000, 50, 1_000)


def run_worker(settings: Settings) -> None:
    """Run one worker process until it is stopped (SIGINT/SIGTERM)."""
    gc.set_threshold(*GC_THRESHOLDS)
    disable_created_metrics()  # no *_created series: they double the scrape for nothing
    # httpx logs every request's full URL at info; webhook URLs may carry tokens or passwords
    logging.getLogger("httpx").setLevel(logging.WARNING)
    monitor = MonitorWorker(settings)
    watch_process(monitor.registry)
    worker = QuietWorker(monitor.app, loglevel=settings.log_level.upper(), quiet=True)
    worker.execute_from_commandline()
