"""The worker's message handling without a broker: the Faust app is built, sends are captured."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

import orjson
import pytest
from prometheus_client import CollectorRegistry

from monitor.core.privacy import pseudonymise
from monitor.core.state import AccountState
from monitor.core.vocabulary import UNDELIVERABLE_ALERT
from monitor.settings import Settings
from monitor.sinks.base import MemorySink
from monitor.sinks.webhook import HttpSink
from monitor.worker.app import MonitorWorker
from monitor.worker.tablestore import SnapshotRecord, TableStore
from tests.unit.core.helpers import raw, raw_bill, raw_macro, raw_opened, raw_pay


class Capture:
    """What the worker wrote to one topic: records queued in its outbound, and ``send_soon``
    calls (sinks' dead letters are sent outside the agent's batches)."""

    def __init__(self, monitor: MonitorWorker | None = None, topic: str = "") -> None:
        self.monitor, self.topic = monitor, topic
        self.direct: list[tuple[Any, Any, Any]] = []

    def __call__(self, key: Any = None, value: Any = None, headers: Any = None, **_: Any) -> None:
        self.direct.append((key, value, headers))

    @property
    def sent(self) -> list[tuple[Any, Any, Any]]:
        queued = self.monitor.outbound.pending(self.topic) if self.monitor else []
        return [(r.key, r.value, r.headers) for r in queued] + self.direct


class _DictTable(dict):
    """A table outside a running worker: a dict that is also its own store."""

    @property
    def data(self) -> dict:
        return self


def _tables(monitor: MonitorWorker) -> TableStore:
    """The worker's store over its Faust tables (behind the write-back cache)."""
    inner = monitor.store.inner
    assert isinstance(inner, TableStore)
    return inner


#: the worker under test, its in-memory sink and what each of its topics was sent
WorkerParts = tuple[MonitorWorker, MemorySink, dict[str, Capture]]


@pytest.fixture
def worker(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> WorkerParts:
    settings = Settings(
        data_dir=tmp_path, pseudonymise_key="k3y", partitions=1, app_id="unit-worker"
    )
    sink = MemorySink()
    monitor = MonitorWorker(settings, CollectorRegistry(), sinks=[sink])
    captures = {}
    for name, topic in (
        ("alerts_topic", settings.alerts_topic),
        ("dead_letters", settings.dead_letter_topic),
        ("risk_topic", settings.risk_topic),
    ):
        captures[name] = Capture(monitor, topic)
        monkeypatch.setattr(getattr(monitor, name), "send_soon", captures[name])
    _tables(monitor).accounts = _DictTable()
    _tables(monitor).macro = _DictTable()
    return monitor, sink, captures


def _feed(monitor: MonitorWorker, events: list[dict[str, Any]]) -> None:
    for offset, event in enumerate(events):
        monitor.handle("in", 0, offset, None, orjson.dumps(event))


def test_account_ids_leave_the_process_pseudonymised(worker: WorkerParts) -> None:
    monitor, sink, captures = worker
    _feed(
        monitor,
        [
            raw_opened("acct-7", "2026-01-01"),
            raw_bill("acct-7", "2026-01-05", "b1", 900.0, "2026-01-15"),
            raw_macro("2026-02-01"),
        ],
    )
    hidden = pseudonymise("k3y", "acct-7")
    assert sink.alerts and {a["account_id"] for a in sink.alerts} == {hidden}
    assert all(key == hidden.encode() for key, _, _ in captures["alerts_topic"].sent)
    assert all(orjson.loads(v)["account_id"] == hidden for _, v, _ in captures["alerts_topic"].sent)
    assert captures["risk_topic"].sent and all(
        key == hidden.encode() for key, _, _ in captures["risk_topic"].sent
    )
    for _, value, _ in captures["alerts_topic"].sent + captures["risk_topic"].sent:
        assert b"acct-7" not in value
    for _, _, headers in captures["alerts_topic"].sent + captures["risk_topic"].sent:
        assert b"acct-7" not in dict(headers)["correlation-id"]


def test_bad_input_is_dead_lettered_and_counted(worker: WorkerParts) -> None:
    monitor, _, captures = worker
    monitor.handle("in", 0, 0, b"k", b"\x00garbage")
    assert (
        monitor.metrics.registry.get_sample_value(
            "monitor_dead_letters_total", {"reason": "not_json"}
        )
        == 1
    )
    ((key, value, headers),) = captures["dead_letters"].sent
    record = orjson.loads(value)
    assert key == b"k" and record["reason"].startswith("not JSON")
    assert dict(headers)["correlation-id"] == b"in/0/0"


def test_a_redelivered_message_changes_nothing(worker: WorkerParts) -> None:
    monitor, _, captures = worker
    event = raw_opened("a", "2026-01-01")
    monitor.handle("in", 0, 5, None, orjson.dumps(event))
    sent = len(captures["risk_topic"].sent)
    again = monitor.handle("in", 0, 5, None, orjson.dumps(event))
    assert again is not None and again.duplicate
    assert len(captures["risk_topic"].sent) == sent
    assert (
        monitor.metrics.registry.get_sample_value(
            "monitor_events_total", {"type": "account_opened", "outcome": "duplicate"}
        )
        == 1
    )


def test_undeliverable_portfolio_alerts_are_dead_lettered_by_segment(worker: WorkerParts) -> None:
    monitor, _, captures = worker
    alert = {"alert_id": "a" * 24, "kind": "reserve_coverage", "segment": "all/all"}
    monitor._undeliverable("alertmanager", alert, "http://am:9093: HTTP 400")
    ((key, value, _),) = captures["dead_letters"].sent
    record = orjson.loads(value)
    assert key == b"all/all" and record["source"] == {"sink": "alertmanager"}
    assert record["reason_kind"] == UNDELIVERABLE_ALERT


class _Message:
    def __init__(self, partition: int, offset: int, value: bytes) -> None:
        self.topic, self.partition, self.offset, self.key, self.value = (
            "in",
            partition,
            offset,
            None,
            value,
        )


class _Event:
    def __init__(self, message: _Message) -> None:
        self.message = message


class _Stream:
    """Records which partition's event was current at each table write. Faust has already set
    the message after the batch as its current event (it reads on while a batch is handled)."""

    def __init__(self) -> None:
        self.next = _Event(_Message(0, -1, b""))
        self.current: _Event | None = self.next

    @property
    def current_event(self) -> _Event | None:
        return self.current

    @current_event.setter
    def current_event(self, event: _Event | None) -> None:
        self.current = event

    def _set_current_event(self, event: _Event | None) -> None:
        self.current = event


class _Table(dict):
    """A table that checks each write happens under an event of the key's own partition."""

    def __init__(self, stream: _Stream | None, writes: list[int]) -> None:
        super().__init__()
        self.stream, self.writes = stream, writes

    @property
    def data(self) -> dict:
        return self

    def __setitem__(self, key: str, value: object) -> None:
        if self.stream is not None:
            assert self.stream.current not in (None, self.stream.next), "a write outside the batch"
            assert self.stream.current is not None
            partition = self.stream.current.message.partition
            if isinstance(value, AccountState):
                assert value.partition == partition
            elif isinstance(value, SnapshotRecord):  # under its account's id and its day
                assert sum(map(ord, key.split("\x00")[0])) % 2 == partition
            else:  # p{n} macro books and portfolio:p{n} extras
                assert key.endswith(f"p{partition}")
            self.writes.append(partition)
        super().__setitem__(key, value)


def _stream_of_two_partitions() -> list[_Message]:
    from monitor import simulator as sim

    events = sim.simulate(sim.SimConfig(accounts=150, days=120, seed=5)).events
    offsets = [0, 0]
    out = []
    for event in events:
        partition = sum(map(ord, event.get("account_id", "m"))) % 2
        out.append(_Message(partition, offsets[partition], orjson.dumps(event)))
        offsets[partition] += 1
    return out


def test_a_batch_gives_the_alerts_of_one_message_at_a_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    messages = _stream_of_two_partitions()
    sent: dict[str, list[bytes]] = {}
    for mode in ("single", "batched"):
        settings = Settings(data_dir=tmp_path / mode, partitions=2, app_id=f"unit-{mode}")
        monitor = MonitorWorker(settings, CollectorRegistry(), sinks=[])
        capture = Capture(monitor, settings.alerts_topic)
        stream = _Stream()
        writes: list[int] = []
        check = stream if mode == "batched" else None
        _tables(monitor).accounts = _Table(check, writes)
        _tables(monitor).macro = _Table(check, writes)
        if mode == "single":
            for m in messages:
                monitor.handle(m.topic, m.partition, m.offset, m.key, m.value)
        else:
            for start in range(0, len(messages), 64):
                monitor.handle_batch([_Event(m) for m in messages[start : start + 64]], stream)
            # the event Faust's take buffer reads once the batch is done
            assert stream.current is stream.next
            assert writes
        sent[mode] = [value for _, value, _ in capture.sent]
    assert len(sent["single"]) > 3
    assert sent["batched"] == sent["single"]


def test_each_http_sink_keeps_its_own_delivery_journal_in_the_data_dir(tmp_path: Path) -> None:
    urls = ("http://a.test/hook", "http://b.test/hook")
    settings = Settings(
        data_dir=tmp_path, webhook_urls=urls, alertmanager_url="http://am.test", app_id="unit-j"
    )
    sinks = MonitorWorker(settings, CollectorRegistry()).sinks
    assert all(isinstance(s, HttpSink) for s in sinks)
    paths = [s.journal.path for s in sinks if isinstance(s, HttpSink) and s.journal is not None]
    assert len(set(paths)) == 3 and all(p.parent == tmp_path / "delivery" for p in paths)
    assert [p.name.split("-")[0] for p in paths] == ["webhook", "webhook", "alertmanager"]
    off = Settings(data_dir=tmp_path, webhook_urls=urls, delivery_journal_keep=0, app_id="unit-k")
    assert all(
        isinstance(s, HttpSink) and s.journal is None
        for s in MonitorWorker(off, CollectorRegistry()).sinks
    )


def test_account_states_go_to_the_changelog_in_the_codec_recovery_reads(
    worker: WorkerParts,
) -> None:
    from faust.types import Message

    monitor, _, _ = worker
    for offset, event in enumerate(_stream_of_two_partitions()[:40]):
        monitor.handle("in", 0, offset, None, event.value)
    states = list(_tables(monitor).accounts.values())
    assert states and all(isinstance(state, AccountState) for state in states)
    topic = monitor.accounts.changelog_topic
    records = monitor.outbound.pending(topic.get_topic_name())
    latest = {record.key: record for record in records}  # handle() writes after each message
    assert len(latest) == len(states)
    decode = topic.schema.compile(monitor.app)  # how a restarted worker reads its changelog
    for record in latest.values():
        message = Message(topic.get_topic_name(), 0, 0, 0.0, 0, [], record.key, record.value, None)
        event = asyncio.run(decode(message, propagate=True))
        assert isinstance(event.value, AccountState)
        assert event.value == _tables(monitor).accounts[event.key]
        assert record.partition == event.value.partition


def test_a_failing_batch_ends_the_process_before_faust_can_commit_it(
    worker: WorkerParts, monkeypatch: pytest.MonkeyPatch
) -> None:
    import monitor.worker.app as worker_module

    monitor, _, _ = worker
    exits: list[tuple[int, list[str]]] = []
    acked: list[str] = []

    def fake_exit(status: int) -> None:
        exits.append((status, list(acked)))  # what had been acknowledged when the process ended
        raise SystemExit(status)

    monkeypatch.setattr(worker_module.os, "_exit", fake_exit)
    monkeypatch.setattr(monitor, "handle_batch", lambda events, stream: 1 / 0)

    class _Batches:
        async def take_events(self, size: int, within: float) -> Any:
            try:
                yield [_Event(_Message(0, 0, b"{}"))]
            finally:
                acked.append("acked")  # what Faust does on the way out: ack the batch

    with pytest.raises(SystemExit):
        asyncio.run(monitor._agent(_Batches()))
    # the process ended inside the batch, before it was acknowledged
    assert exits == [(worker_module.EXIT_PROCESSING_FAILED, [])]


def test_two_webhooks_are_two_metric_series_named_by_origin_only(tmp_path: Path) -> None:
    """Each webhook URL has its own queue gauge and delivery counters, labelled with its origin
    (never the path or query, which may carry a token): one receiver down, one up."""
    from prometheus_client import generate_latest

    from tests.support.receiver import WebhookReceiver

    with WebhookReceiver() as up, WebhookReceiver() as down:
        down.set_status(503)
        settings = Settings(
            data_dir=tmp_path,
            partitions=1,
            app_id="unit-two-hooks",
            webhook_urls=(f"{up.url}?token=s3cret", f"{down.base_url}/hooks/t0ken"),
        )
        registry = CollectorRegistry()
        monitor = MonitorWorker(settings, registry)

        def sample(name: str, **labels: str) -> float | None:
            return registry.get_sample_value(name, {"sink": "webhook", **labels})

        async def deliver() -> bytes:
            for sink in monitor.sinks:
                await sink.start()
            for n in range(4):
                for sink in monitor.sinks:
                    sink.offer({"alert_id": f"{n:024x}", "status": "firing"})
            for _ in range(600):  # until the up sink's queue is empty (its gauge went to 4)
                empty = sample("monitor_delivery_queue", receiver=up.base_url) == 0
                if empty and len(down.all_requests) >= 1:
                    break
                await asyncio.sleep(0.05)
            page = generate_latest(registry)
            assert sample("monitor_delivery_queue", receiver=up.base_url) == 0
            assert sample("monitor_delivery_queue", receiver=down.base_url) == 4  # 1 in flight
            for sink in monitor.sinks:
                assert isinstance(sink, HttpSink)
                await sink.stop(timeout_s=0.1)
            return page

        page = asyncio.run(deliver())

    assert sample("monitor_deliveries_total", receiver=up.base_url, outcome="delivered") == 4
    assert sample("monitor_deliveries_total", receiver=down.base_url, outcome="delivered") == 0
    assert (sample("monitor_deliveries_total", receiver=down.base_url, outcome="error") or 0) >= 1
    assert b"s3cret" not in page and b"t0ken" not in page and b"/alerts" not in page


def _monitor(tmp_path: Path, name: str, partitions: int = 1) -> MonitorWorker:
    settings = Settings(data_dir=tmp_path / name, partitions=partitions, app_id=f"unit-{name}")
    monitor = MonitorWorker(settings, CollectorRegistry(), sinks=[])
    _tables(monitor).accounts = _DictTable()
    _tables(monitor).macro = _DictTable()
    return monitor


def _portfolio_samples(monitor: MonitorWorker) -> dict[tuple[str, tuple], float]:
    """The portfolio gauges, without the schedule's counts of this process's own work."""
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in monitor.metrics.portfolio.collect()
        for s in family.samples
        if not s.name.startswith("monitor_schedule_")
    }


def test_after_a_restart_the_portfolio_gauges_equal_a_fresh_replays(tmp_path: Path) -> None:
    stream = [raw_opened(account, "2026-01-01") for account in ("a", "b")] + [
        raw_bill("a", "2026-01-05", "b1", 900.0, "2026-01-15"),
        raw_pay("a", "2026-01-10", 900.0),
        raw("account_closed", "2026-01-11", account_id="b", product="credit_pay"),
    ]
    first = _monitor(tmp_path, "first")
    for offset, event in enumerate(stream[:2]):
        first.handle("in", 0, offset, None, orjson.dumps(event))
    # a restart over the same tables: the next messages go to a new process
    restarted = _monitor(tmp_path, "restarted")
    _tables(restarted).accounts = _tables(first).accounts
    _tables(restarted).macro = _tables(first).macro
    for offset, event in list(enumerate(stream))[2:]:
        restarted.handle("in", 0, offset, None, orjson.dumps(event))
    fresh = _monitor(tmp_path, "fresh")
    for offset, event in enumerate(stream):
        fresh.handle("in", 0, offset, None, orjson.dumps(event))
    tiers = {
        labels: value
        for (name, labels), value in _portfolio_samples(restarted).items()
        if name == "monitor_accounts_by_risk_tier"
    }
    assert tiers[(("tier", "low"),)] == 1  # "a" is open and low; "b" closed
    assert min(tiers.values()) >= 0
    assert _portfolio_samples(restarted) == _portfolio_samples(fresh)


def test_a_revoked_partition_is_released_and_rebuilt_when_it_comes_back(tmp_path: Path) -> None:
    from faust.types import TP

    monitor = _monitor(tmp_path, "revoke", partitions=2)
    topic = monitor.settings.input_topic
    for partition, account in ((0, "a"), (1, "z")):
        event = raw_opened(account, "2026-01-01")
        monitor.handle(topic, partition, 0, None, orjson.dumps(event))
    both = monitor.engine.portfolio()[0].summary()["credit_pay|north"]["accounts"]
    assert both == 2 and monitor.engine.partitions() == {0, 1}
    # a rebalance leaves partition 0 here (and another topic's)
    asyncio.run(monitor._on_assigned(None, {TP(topic, 0), TP("other", 0)}))
    assert monitor.engine.partitions() == {0}
    assert monitor.engine.portfolio()[0].summary()["credit_pay|north"]["accounts"] == 1
    counts = _portfolio_samples(monitor)  # the tiers of the partitions held here
    assert counts[("monitor_accounts_by_risk_tier", (("tier", "low"),))] == 1
    # assigned again: rebuilt from the tables at its first message
    tick = raw("macro_indicator", "2026-01-02", region="north", indicator="x", value=1.0)
    monitor.handle(topic, 1, 1, None, orjson.dumps(tick))
    assert monitor.engine.portfolio()[0].summary()["credit_pay|north"]["accounts"] == 2


def test_a_partition_taken_over_sends_again_the_schedule_records_its_state_followed(
    tmp_path: Path,
) -> None:
    """A worker dies after its state reached the changelog but before its schedule records
    reached the outcomes topic (two topics, no transaction): the worker that takes the partition
    over finds them in the state and sends them, so the keeper gets the clock of every day that
    state has closed (else the group waits for it for ever) and every outcome (else the model
    differs), those of every batch whose send Kafka had not taken, not only the last one's."""
    stream = [raw_opened(account, "2026-01-01") for account in ("a", "b")] + [
        raw_bill("a", "2026-01-05", "b1", 900.0, "2026-01-15"),
        raw_pay("a", "2026-01-10", 900.0),
    ]
    first = _monitor(tmp_path, "first")
    outcomes = first.settings.outcomes_topic
    for offset, event in enumerate(stream):
        first.handle("in", 0, offset, None, orjson.dumps(event))
    lost = [orjson.loads(r.value or b"") for r in first.outbound.pending(outcomes)]
    last_clock = [r for r in lost if r["type"] == "clock"][-1]
    # taken over from the same tables: nothing of what "first" queued reached Kafka
    taken = _monitor(tmp_path, "taken")
    _tables(taken).accounts = _tables(first).accounts
    _tables(taken).macro = _tables(first).macro
    tick = raw("macro_indicator", "2026-01-10", region="north", indicator="x", value=1.0)
    taken.handle("in", 0, len(stream), None, orjson.dumps(tick))
    again = [
        orjson.loads(r.value or b"") for r in taken.outbound.pending(taken.settings.outcomes_topic)
    ]
    assert last_clock in again
    assert all(record in again for record in lost), "each batch's records are sent again"
    assert len([r for r in lost if r["type"] == "clock"]) > 1  # (of several batches)
    # once Kafka has taken them, the state no longer keeps them
    asyncio.run(_taken_all(taken))
    taken.handle("in", 0, len(stream) + 1, None, orjson.dumps(tick))
    assert taken.store.get_extra("schedule-outbox:p0") is None


async def _taken_all(monitor: MonitorWorker) -> None:
    done: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
    done.set_result([])
    monitor._sends += 1
    monitor._taken(monitor._sends, done)


def test_macro_books_and_the_engines_other_state_leave_with_the_account_states(
    worker: WorkerParts,
) -> None:
    monitor, _, _ = worker
    _feed(
        monitor,
        [
            raw("macro_indicator", "2026-01-01", region="north", indicator="x", value=1.0),
            raw_opened("a", "2026-01-02"),
        ],
    )
    macro = _tables(monitor).macro_changelog
    assert macro.endswith("-changelog")
    records = monitor.outbound.pending(macro)
    # produced in the batch with the accounts (Faust's own table sends go later): the macro
    # book of partition 0 and its book as the day closed, as the table's changelog holds them
    # (the learner and the desk are the group's keeper's, on the models topic)
    keys = [orjson.loads(r.key or b"") for r in records]
    assert {"p0", "portfolio:p0"} <= set(keys)
    assert not [k for k in keys if k.startswith(("learner", "portfolio-desk"))]
    assert monitor.outbound.pending(monitor._changelog)
    # and the clock of partition 0 for the keeper, on the schedule's topics
    clocks = monitor.outbound.pending(monitor.settings.outcomes_topic)
    assert [orjson.loads(r.value or b"")["type"] for r in clocks] == ["clock", "clock"]


def test_the_model_gauges_read_the_engines_book_without_waiting_for_a_timer(
    tmp_path: Path,
) -> None:
    registry = CollectorRegistry()
    settings = Settings(data_dir=tmp_path, partitions=1, app_id="unit-gauges")
    monitor = MonitorWorker(settings, registry, sinks=[])
    # a worker that does not keep the schedule has no model book to show
    assert registry.get_sample_value("monitor_model_active", {"role": "scorecard"}) is None
    monitor.keeper.keeper = monitor._make_keeper()  # as when the keeper's partitions come here
    assert registry.get_sample_value("monitor_model_active", {"role": "scorecard"}) == 1.0
    assert monitor.metrics.model.book() is monitor.keeper.keeper.learner.models  # the live book


def test_a_slow_restore_of_the_tables_is_logged_once_a_minute(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from monitor.worker import app as worker_app

    monitor = _monitor(tmp_path, "recovery")
    waiting = [
        {
            "topic": "m-accounts-changelog",
            "partition": 2,
            "left": 59,
            "offset": 40,
            "paused": True,
            "position": 41,
        }
    ]
    told = []
    for seconds in (None, 30.0, 75.0, 90.0, 140.0, None, 61.0):

        async def state(app: Any, seconds: float | None = seconds) -> dict[str, Any] | None:
            return None if seconds is None else {"seconds": seconds, "waiting": waiting}

        monkeypatch.setattr(worker_app, "recovery_state", state)
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="monitor.worker.app"):
            asyncio.run(monitor._watch_recovery())
        told += [(seconds, r.getMessage()) for r in caplog.records]
    assert [s for s, _ in told] == [75.0, 140.0, 61.0]
    assert (
        "m-accounts-changelog[2]: 59 records left from offset 40, fetch position 41, paused"
        in (told[0][1])
    )


def test_a_changelog_partition_fetched_to_its_end_but_never_restored_is_read_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Faust's restore after a rebalance once waited for good for changelog partitions its
    consumer had fetched to the end without handing it a record: once that holds over two
    watches, the worker seeks them back to where the restore is."""
    from faust.types import TP

    from monitor.worker import app as worker_app

    monitor = _monitor(tmp_path, "reread")

    def waiting(offset: int, position: int, queued: int = 0) -> dict[str, Any]:
        entry = {
            "topic": "m-accounts-changelog",
            "partition": 2,
            "left": 249 - offset,
            "offset": offset,
            "paused": False,
            "position": position,
            "routed": True,
            "read_offset": None,
        }
        return {"seconds": 20.0, "waiting": [entry], "queued": queued}

    sought: list[dict[TP, int]] = []

    async def read_again(app: Any, offsets: dict[TP, int]) -> None:
        sought.append(offsets)

    monkeypatch.setattr(worker_app, "read_again", read_again)
    ticks = [
        waiting(-1, 100),  # still fetching
        waiting(-1, 250, queued=250),  # fetched, the restore has it queued
        waiting(-1, 250),  # fetched to the end, nothing restored ...
        waiting(-1, 250),  # ... and still so a watch later: read again
        waiting(120, 250),  # moving again
        waiting(248, 250),
    ]
    for tick in ticks:

        async def state(app: Any, tick: dict[str, Any] = tick) -> dict[str, Any]:
            return tick

        monkeypatch.setattr(worker_app, "recovery_state", state)
        asyncio.run(monitor._watch_recovery())
    assert sought == [{TP("m-accounts-changelog", 2): 0}]
    registry = monitor.metrics.registry
    assert registry.get_sample_value("monitor_recovery_rereads_total") == 1


def test_commits_that_stand_still_while_the_input_is_processed_are_logged_once_a_minute(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from faust.types import TP

    from monitor.worker import app as worker_app

    monitor = _monitor(tmp_path, "commits")
    tp = TP("m-events", 3)
    committed = {"value": 452}
    clock = {"now": 1000.0}
    monkeypatch.setattr(
        worker_app,
        "commit_state",
        lambda app, tp: {
            "committed": committed["value"],
            "acked": [455],
            "acked_count": 1,
            "gaps": [],
            "read_offset": 460,
        },
    )
    monkeypatch.setattr(worker_app.time, "monotonic", lambda: clock["now"])
    told = []
    for now, value, done in [
        (1000, 452, 900),  # behind: first seen
        (1030, 452, 1200),
        (1065, 452, 1400),  # stood 65 s: told
        (1100, 452, 1500),  # told 35 s ago
        (1130, 452, 1500),  # told 65 s ago: told again
        (1135, 1500, 1500),  # caught up
        (1200, 1500, 1500),
    ]:
        clock["now"], committed["value"] = float(now), value
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="monitor.worker.app"):
            monitor._watch_commits(tp, done)
        told += [(now, r.getMessage()) for r in caplog.records]
    assert [t for t, _ in told] == [1065, 1130]
    assert "m-events[3] have stood at 452 for 65 s" in told[0][1]
    assert "acknowledged [455]" in told[0][1]
