from typing import Any

from monitor.core.alerts import AlertPolicy
from monitor.core.engine import Decisions, Engine, EngineConfig
from monitor.core.events import Event
from monitor.core.state import AccountState
from monitor.core.store import MemoryStore
from monitor.core.timeutil import iso_time, parse_date, parse_time
from tests.unit.core.helpers import bill, ev, macro, opened, pay


def run(events: list[Event], engine: Engine | None = None) -> tuple[Engine, list[Decisions]]:
    engine = engine or Engine(MemoryStore())
    results = [engine.process(e) for e in events]
    return engine, results


def alerts(results: list[Decisions]) -> list[dict[str, Any]]:
    return [a for r in results for a in r.alerts]


def state_of(engine: Engine, account_id: str) -> AccountState:
    state = engine.store.get(account_id)
    assert state is not None, f"no state of {account_id}"
    return state


def test_missed_bill_raises_one_alert_before_30_days_past_due() -> None:
    stream = [
        opened("bad", "2026-01-01"),
        opened("good", "2026-01-01"),
        bill("bad", "2026-01-05", "b1", 900.0, "2026-01-15"),
        bill("good", "2026-01-05", "g1", 300.0, "2026-01-15"),
        pay("good", "2026-01-14", 300.0, "g1"),
        macro("2026-03-01"),
    ]
    engine, results = run(stream)
    fired = [a for a in alerts(results) if a["status"] == "firing"]
    assert [a["account_id"] for a in fired] == ["bad"]
    alert = fired[0]
    # raised by an event-time timer after the due date, long before day 30 (2026-02-14)
    assert "2026-01-16" <= alert["event_time"] < "2026-02-07"
    assert alert["days_past_due"] < 30
    assert alert["reasons"] and all(r.endswith(".") for r in alert["reasons"])
    assert alert["action"] in {
        "instalment_plan",
        "payment_extension",
        "collections_review",
        "pre_due_reminder",
    }
    assert state_of(engine, "bad").ever_delinquent
    assert not state_of(engine, "good").ever_delinquent


def test_alert_ids_are_stable_across_replays() -> None:
    def stream() -> list[Event]:
        return [
            opened("a", "2026-01-01"),
            bill("a", "2026-01-05", "b1", 900.0, "2026-01-15"),
            macro("2026-02-20"),
        ]

    first = [a["alert_id"] for a in alerts(run(stream())[1])]
    second = [a["alert_id"] for a in alerts(run(stream())[1])]
    assert first and first == second


def _repaid_after_a_miss(clear_at: float) -> tuple[Engine, str, list[dict[str, Any]]]:
    policy = AlertPolicy(open_at=0.5, clear_at=clear_at)
    engine = Engine(MemoryStore(), config=EngineConfig(policy=policy))
    _, _results = run(
        [opened("a", "2026-01-01"), bill("a", "2026-01-05", "b1", 900.0, "2026-01-15")], engine
    )
    engine.process(macro("2026-01-25"))
    assert state_of(engine, "a").alerts, "expected an open alert after 10 days past due"
    opened_id = next(iter(state_of(engine, "a").alerts.values())).alert_id
    result = engine.process(pay("a", "2026-01-26", 900.0, "b1"))
    return engine, opened_id, [a for a in result.alerts if a["status"] == "resolved"]


def test_alert_clears_once_risk_falls_below_the_clear_threshold() -> None:
    # repaid in full: the missed bill stays in the history, so risk falls to about 0.33
    engine, opened_id, cleared = _repaid_after_a_miss(clear_at=0.45)
    assert [a["alert_id"] for a in cleared] == [opened_id]
    assert not state_of(engine, "a").alerts


def test_alert_stays_open_between_the_thresholds() -> None:
    engine, _, cleared = _repaid_after_a_miss(clear_at=0.2)
    assert cleared == []
    assert state_of(engine, "a").alerts


def test_no_second_alert_while_one_is_open() -> None:
    stream = [
        opened("a", "2026-01-01"),
        bill("a", "2026-01-05", "b1", 900.0, "2026-01-15"),
        bill("a", "2026-02-05", "b2", 900.0, "2026-02-15"),
        macro("2026-04-01"),
    ]
    _, results = run(stream)
    assert len([a for a in alerts(results) if a["status"] == "firing"]) == 1


def test_delayed_labels_resolve_on_event_time_and_teach_the_model() -> None:
    engine = Engine(MemoryStore(), config=EngineConfig(horizon_days=60))
    stream = [
        opened("bad", "2026-01-01"),
        opened("ok", "2026-01-01"),
        bill("bad", "2026-01-05", "b1", 900.0, "2026-01-15"),
        bill("ok", "2026-01-05", "k1", 300.0, "2026-01-15"),
        pay("ok", "2026-01-12", 100.0, "k1"),  # the minimum and more: owes 200, never past due
    ]
    run(stream, engine)
    assert engine.models.labels == 0
    # 30+ DPD reached on 2026-02-14: the pending snapshots of "bad" become positives
    result = engine.process(macro("2026-02-15"))
    assert any(outcome for outcome, _ in result.labels)
    positives = engine.models.positives
    # "ok" never goes past due: its snapshot (of 2026-01-05, when it first owed money) resolves
    # negative once the horizon has passed
    result = engine.process(macro("2026-03-08"))
    assert any(not outcome for outcome, _ in result.labels)
    assert engine.models.positives == positives


def test_no_learning_snapshot_while_an_account_owes_nothing() -> None:
    engine = Engine(MemoryStore(), config=EngineConfig(horizon_days=60))
    run([opened("a", "2026-01-01"), opened("b", "2026-01-01")], engine)
    assert state_of(engine, "a").pending == [] and state_of(engine, "a").next_check == -1
    # a bill: now it owes money, so the scoring leaves a snapshot to learn from
    engine.process(bill("a", "2026-01-05", "a1", 300.0, "2026-01-15"))
    assert [s.day for s in state_of(engine, "a").pending] == [
        state_of(engine, "a").last_event // 86400
    ]
    # paid in full: nothing owed, no new snapshot however long it stays that way
    engine.process(pay("a", "2026-01-10", 300.0, "a1"))
    pending = list(state_of(engine, "a").pending)
    run(
        [macro(f"2026-{m:02d}-01") for m in (2, 3, 4, 5, 6, 7)] + [pay("b", "2026-07-02", 1.0)],
        engine,
    )
    state = state_of(engine, "a")
    assert len(pending) == 1 and state.pending == []  # the one snapshot resolved, none added
    assert engine.models.labels == 1
    assert state_of(engine, "b").pending == []


def test_timers_are_per_partition() -> None:
    engine = Engine(MemoryStore())
    engine.process(opened("a", "2026-01-01"), partition=0)
    engine.process(bill("a", "2026-01-05", "b1", 900.0, "2026-01-15"), partition=0)
    # partition 1 is far ahead in event time: partition 0's account must not be judged by it
    result = engine.process(opened("z", "2026-06-01"), partition=1)
    assert result.timers == 0
    assert state_of(engine, "a").alerts == {}
    result = engine.process(
        macro("2026-01-20"),
        partition=0,
    )
    assert result.timers >= 1


def test_a_days_looks_are_spread_over_its_events_and_judged_as_of_its_start() -> None:
    def tick(engine: Engine, time: str) -> Decisions:
        event = macro(time)
        return engine.process(event)

    config = EngineConfig(looks_per_event=2)
    engine = Engine(MemoryStore(), config=config)
    accounts = [f"a{i}" for i in range(10)]
    for account in accounts:
        engine.process(opened(account, "2026-01-01"))
        engine.process(bill(account, "2026-01-05", f"{account}-b", 900.0, "2026-01-15"))
    # all ten have their pre-due look on 2026-01-12 (a0 .. a9): two per event that day ...
    first, second = tick(engine, "2026-01-12T01:00:00Z"), tick(engine, "2026-01-12T02:00:00Z")
    assert (first.timers, second.timers) == (2, 2)
    # ... an account's own event fires its look before the event, as of the day's start ...
    own = engine.process(pay("a9", "2026-01-12T03:00:00Z", 10.0, "a9-b"))
    assert own.timers == 3  # a4, a5 and a9's own
    start = parse_time("2026-01-12T00:00:00Z")
    assert [t for a, t, _ in own.scores if a == "a9"] == [start, start + 3 * 3600]
    # ... and the day's rest (a6, a7, a8) fire before the next day begins
    assert tick(engine, "2026-01-13T00:30:00Z").timers == 3
    assert all(state_of(engine, a).next_check > parse_date("2026-01-12") for a in accounts)


def test_spreading_the_looks_keeps_the_alerts_of_firing_them_at_once() -> None:
    def stream() -> list[Event]:
        events = []
        for i in range(12):
            events += [
                opened(f"a{i}", "2026-01-01"),
                bill(f"a{i}", "2026-01-05", f"b{i}", 900.0, "2026-01-15"),
            ]
        events += [pay("a0", "2026-01-14", 900.0, "b0")]
        for day in range(16, 28):
            for hour in (1, 9, 17):
                events.append(macro(f"2026-01-{day}T{hour:02d}:00:00Z"))
        return events

    def fired(per_event: int) -> list[tuple[str, str]]:
        _, results = run(
            stream(), Engine(MemoryStore(), config=EngineConfig(looks_per_event=per_event))
        )
        return sorted((a["alert_id"], a["event_time"]) for a in alerts(results))

    assert fired(2) == fired(1_000_000)
    assert len(fired(2)) >= 11


def test_state_survives_a_round_trip_through_its_dict() -> None:
    engine, _ = run(
        [
            opened("a", "2026-01-01"),
            bill("a", "2026-01-05", "b1", 900.0, "2026-01-15"),
            pay("a", "2026-01-10", 50.0, "b1"),
        ]
    )
    state = state_of(engine, "a")
    assert AccountState.from_dict(state.to_dict()) == state


def test_buckets_move_with_days_past_due() -> None:
    engine = Engine(MemoryStore())
    moves = []
    for e in [
        opened("a", "2026-01-01"),
        bill("a", "2026-01-05", "b1", 900.0, "2026-01-15"),
        macro("2026-03-20"),
    ]:
        moves += [
            m
            for m in engine.process(e).moves
            if (m.old and m.old.bucket) != (m.new and m.new.bucket)
        ]
    assert [(m.product, m.old and m.old.bucket, m.new and m.new.bucket) for m in moves] == [
        ("credit_pay", None, "current"),
        ("credit_pay", "current", "1-29"),
        ("credit_pay", "1-29", "30-59"),
        ("credit_pay", "30-59", "60-89"),
    ]
    assert {m.new.region for m in moves if m.new is not None} == {"north"}
    assert all(m.new is not None for m in moves)
    assert iso_time(0) == "1970-01-01T00:00:00Z"


def test_alerts_follow_the_alert_contract() -> None:
    from jsonschema import Draft202012Validator

    from monitor import contracts

    stream = [
        opened("a", "2026-01-01"),
        bill("a", "2026-01-05", "b1", 900.0, "2026-01-15"),
        macro("2026-02-01"),
        pay("a", "2026-02-02", 900.0),
    ]
    produced = alerts(run(stream)[1])
    assert {a["status"] for a in produced} >= {"firing"}
    validator = Draft202012Validator(contracts.load("alert"))
    for alert in produced:
        validator.validate(alert)


def test_redelivered_events_change_nothing_and_recovery_resends_their_alerts() -> None:
    store = MemoryStore()
    engine = Engine(store)
    stream = [
        opened("a", "2026-01-01"),
        bill("a", "2026-01-05", "b1", 900.0, "2026-01-15"),
        pay("a", "2026-01-06", 10.0, "b1"),
        macro("2026-01-25"),
    ]
    fired = []
    for offset, e in enumerate(stream):
        fired += engine.process(e, partition=0, offset=offset).alerts
    assert [a["status"] for a in fired] == ["firing"]
    before = state_of(engine, "a").to_dict()

    # a crash before the offsets were committed: a new engine on the same (changelogged) state
    restarted = Engine(store)
    resent = restarted.recover(partition=0, from_offset=2)
    assert [a["alert_id"] for a in resent] == [fired[0]["alert_id"]]
    for offset, e in list(enumerate(stream))[2:]:
        result = restarted.process(e, partition=0, offset=offset)
        assert result.duplicate and not result.alerts
    assert state_of(engine, "a").to_dict() == before  # the payment was not applied twice
    # nothing to resend when the restart begins after the alert's offset
    assert Engine(store).recover(partition=0, from_offset=4) == []


def test_portfolio_book_and_detectors_survive_a_restart() -> None:
    store = MemoryStore()
    engine = Engine(store)
    stream = [
        opened("a", "2026-01-01"),
        opened("b", "2026-01-01", region="south"),
        bill("a", "2026-01-05", "b1", 900.0, "2026-01-15"),
        bill("b", "2026-01-05", "c1", 300.0, "2026-01-15"),
        pay("b", "2026-01-10", 300.0, "c1"),
        macro("2026-02-20"),
    ]
    for offset, e in enumerate(stream):
        engine.process(e, partition=0, offset=offset)
    before = engine.book(0).summary()
    assert before["credit_pay|north"]["counts"]["30-59"] == 1
    restarted = Engine(store)
    restarted.recover(partition=0, from_offset=len(stream))
    assert restarted.book(0).summary() == before
    desk = restarted.local.desk
    assert desk.watch.day == engine.local.desk.watch.day >= 0


def test_a_days_looks_are_paced_by_the_events_the_partition_had_the_day_before() -> None:
    def tick(engine: Engine, day: int, hour: int) -> int:
        event = macro(f"2026-01-{day}T{hour:02d}:00:00Z")
        return engine.process(event).timers

    engine = Engine(MemoryStore(), config=EngineConfig(looks_per_event=2))
    for account in [f"a{i}" for i in range(5)]:
        engine.process(opened(account, "2026-01-01"))
        engine.process(bill(account, "2026-01-05", f"{account}-b", 900.0, "2026-01-15"))
    assert [tick(engine, 11, hour) for hour in range(10)] == [0] * 10
    # ten events yesterday, five pre-due looks today: spread over the first five events (half
    # of yesterday's), not two at a time
    assert [tick(engine, 12, hour) for hour in range(10)] == [1] * 5 + [0] * 5


def _resolutions(
    events: list[Event], clear_at: float
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    engine = Engine(MemoryStore(), config=EngineConfig(policy=AlertPolicy(0.5, clear_at)))
    produced = alerts(run(events, engine)[1])
    fired = [a for a in produced if a["status"] == "firing"]
    assert [(a["product"], a["region"]) for a in fired] == [("credit_pay", "north")]
    return fired[0], [a for a in produced if a["status"] == "resolved"]


MISSED_CREDIT_PAY = [
    bill("a", "2026-01-05", "b1", 900.0, "2026-01-15"),
    macro("2026-01-25"),
]


def test_a_resolution_names_the_product_of_its_alert_not_the_accounts_other_one() -> None:
    # the cash loan comes first in the account's products: it used to name the resolution
    fired, resolved = _resolutions(
        [
            opened("a", "2026-01-01", product="cash_loan"),
            opened("a", "2026-01-01", product="credit_pay"),
            *MISSED_CREDIT_PAY,
            pay("a", "2026-01-26", 10.0, product="cash_loan"),
            pay("a", "2026-01-27", 900.0, "b1"),
        ],
        clear_at=0.45,
    )
    assert [(a["alert_id"], a["product"], a["region"]) for a in resolved] == [
        (fired["alert_id"], "credit_pay", "north")
    ]


def test_a_resolution_names_the_region_its_alert_fired_in() -> None:
    # a cash loan opened later in another region moves the account, not the open alert
    _, resolved = _resolutions(
        [
            opened("a", "2026-01-01", product="credit_pay", region="north"),
            *MISSED_CREDIT_PAY,
            opened("a", "2026-01-26", product="cash_loan", region="south"),
            pay("a", "2026-01-27", 900.0, "b1"),
        ],
        clear_at=0.45,
    )
    assert [(a["product"], a["region"]) for a in resolved] == [("credit_pay", "north")]


def test_closing_an_account_resolves_its_alert_with_the_alerts_product() -> None:
    from jsonschema import Draft202012Validator

    from monitor import contracts

    fired, resolved = _resolutions(
        [
            opened("a", "2026-01-01", product="cash_loan"),
            opened("a", "2026-01-01", product="credit_pay"),
            *MISSED_CREDIT_PAY,
            ev("account_closed", "2026-05-01", account_id="a", product="credit_pay"),
            ev("account_closed", "2026-05-02", account_id="a", product="cash_loan"),
        ],
        clear_at=0.001,  # only the closing resolves it
    )
    assert [(a["alert_id"], a["product"], a["region"], a["reasons"]) for a in resolved] == [
        (fired["alert_id"], "credit_pay", "north", ["Account closed."])
    ]
    Draft202012Validator(contracts.load("alert")).validate(resolved[0])


def test_an_open_alert_of_state_written_before_it_kept_its_product_still_resolves() -> None:
    engine, _ = run([opened("a", "2026-01-01"), *MISSED_CREDIT_PAY])
    state = state_of(engine, "a").to_dict()
    state["al"] = {cause: row[:3] for cause, row in state["al"].items()}  # the older layout
    engine.store.put(AccountState.from_dict(state))
    closed = ev("account_closed", "2026-05-01", account_id="a", product="credit_pay")
    result = engine.process(closed)
    assert [(a["status"], a["product"]) for a in result.alerts] == [("resolved", "credit_pay")]
