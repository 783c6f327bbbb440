"""The Taiwan credit-default converter: contract, timing, and DPD faithful to the status."""

from __future__ import annotations

import csv
import os
from pathlib import Path

import orjson
import pytest
from jsonschema import Draft202012Validator

from monitor import contracts
from monitor.core import ledger as lg
from monitor.core.state import ProductLedger
from monitor.core.timeutil import DAY, iso_time, parse_time
from monitor.offline.backtest import replay_lines
from monitor.offline.taiwan import COLUMNS, STATUS, client_events, convert

SHARED = Path(
    os.environ.get(
        "MONITOR_TAIWAN_DIR",
        Path(__file__).resolve().parents[3] / "shared" / "data" / "taiwan-credit-default",
    )
)


def _row(
    cid: int, status: list[int], default: int, bill: float = 10000.0, paid: float = 1500.0
) -> dict[str, str]:
    row = {
        "ID": str(cid),
        "LIMIT_BAL": "50000",
        "SEX": "2",
        "EDUCATION": "2",
        "MARRIAGE": "1",
        "AGE": "35",
        "default_next_month": str(default),
    }
    for column, value in zip(STATUS, status, strict=True):
        row[column] = str(value)
    for i in range(1, 7):
        row[f"BILL_AMT{i}"] = str(bill)
        row[f"PAY_AMT{i}"] = str(paid)
    return row


ROWS = [
    _row(1, [0, 0, 0, 0, 0, 0], 0),
    _row(3, [-1, -1, -1, -1, -1, -1], 0, paid=10000.0),
    _row(5, [-2, -2, -2, -2, -2, -2], 0, bill=0.0, paid=0.0),
    _row(7, [0, 0, 0, 0, 1, 2], 1, paid=0.0),
    _row(9, [2, 2, 2, 2, 2, 2], 1, paid=1200.0),
    _row(11, [0, 0, 0, 0, 1, 1], 1, paid=0.0),
    _row(13, [0, 0, 0, 0, 0, 0], 1),
]


@pytest.fixture
def csv_file(tmp_path: Path) -> Path:
    path = tmp_path / "clients.csv"
    with open(path, "w", newline="") as out:
        writer = csv.DictWriter(out, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(ROWS)
    return path


def _dpd_at(row: dict[str, str], when_offset: float = -3600.0) -> int:
    events, as_of = client_events(row, 20000, "TW")
    clock = {
        "schema_version": 1,
        "event_id": "clock",
        "type": "macro_indicator",
        "event_time": iso_time(as_of + when_offset),
        "region": "TW",
        "indicator": "unemployment_rate",
        "value": 4.0,
    }
    run = replay_lines([orjson.dumps(e) for e in [*events, clock]])
    state = run.engine.store.get(f"tw-{row['ID']}")
    assert state is not None
    return lg.dpd(state.products["credit_pay"], int((as_of + when_offset) // DAY))


@pytest.mark.parametrize(
    ("row", "low", "high"),
    [
        (ROWS[0], 0, 0),
        (ROWS[1], 0, 0),
        (ROWS[2], 0, 0),
        (ROWS[3], 30, 59),
        (ROWS[4], 30, 59),
        (ROWS[5], 1, 29),
    ],
)
def test_days_past_due_at_as_of_follow_the_september_status(
    row: dict[str, str], low: int, high: int
) -> None:
    assert low <= _dpd_at(row) <= high


def _months_behind_at_each_statement(row: dict[str, str]) -> list[int]:
    """ceil(DPD / 30) of the ledger on the statement day after each of April .. August."""
    events, _ = client_events(row, 20000, "TW")
    ledger = ProductLedger("credit_pay")
    out, pending = [], sorted(events, key=lambda e: e["event_time"])
    for month in range(1, 6):
        day = 20000 + 30 * month
        while pending and parse_time(pending[0]["event_time"]) < day * DAY:
            event = pending.pop(0)
            lg.apply_event(
                ledger, event["type"], event, int(parse_time(event["event_time"]) // DAY)
            )
        out.append(-(-lg.dpd(ledger, day) // 30))
    return out


@pytest.mark.parametrize(
    ("status", "behind"),
    [
        ([2, 2, 2, 2, 2, 2], [1, 2, 2, 2, 2]),  # April's bill is the first: one month at most
        ([0, 1, 2, 2, 0, 0], [0, 1, 2, 2, 0]),
        ([0, 1, 1, 1, 0, 0], [0, 1, 1, 1, 0]),
        ([0, 0, 1, 2, 3, 0], [0, 0, 1, 2, 3]),
    ],
)
def test_months_behind_follow_the_status_every_month(status: list[int], behind: list[int]) -> None:
    assert _months_behind_at_each_statement(_row(21, status, 0)) == behind


def test_stream_is_valid_ordered_and_split_by_as_of(csv_file: Path) -> None:
    events, truth = convert(csv_file)
    validator = Draft202012Validator(contracts.load("repayment-event"))
    for event in events:
        validator.validate(event)
    times = [e["event_time"] for e in events]
    assert times == sorted(times)
    as_of = {row.account_id: parse_time(row.as_of) for row in truth}
    for event in events:
        account = event.get("account_id")
        if not account:
            continue
        october = event.get("bill_id", "").endswith("-6") or (
            event["type"] == "payment" and "bill_id" not in event
        )
        assert (parse_time(event["event_time"]) > as_of[account]) == october, event


def test_truth_labels_and_delinquency(csv_file: Path) -> None:
    _, truth = convert(csv_file)
    by_id = {row.account_id: row for row in truth}
    assert [by_id[f"tw-{r['ID']}"].label for r in ROWS] == [0, 0, 0, 1, 1, 1, 1]
    assert by_id["tw-1"].delinquent_at == ""  # current, and paid October
    assert by_id["tw-13"].delinquent_at > by_id["tw-13"].as_of  # goes 30+ after October
    assert by_id["tw-9"].delinquent_at < by_id["tw-9"].as_of  # already 60 days behind


def test_clients_start_on_staggered_dates(csv_file: Path) -> None:
    events, _ = convert(csv_file)
    opened = sorted(e["event_time"] for e in events if e["type"] == "account_opened")
    assert len(set(opened)) == len(ROWS)


def test_missing_file_and_columns_are_one_sentence(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="no Taiwan credit-default CSV at"):
        convert(tmp_path / "absent.csv")
    bad = tmp_path / "bad.csv"
    bad.write_text("ID,AGE\n1,30\n")
    with pytest.raises(ValueError, match="lacks the columns LIMIT_BAL"):
        convert(bad)


@pytest.mark.skipif(
    not (SHARED / "clients-odd-ids.csv").exists(),
    reason="the shared Taiwan data set is not beside the project",
)
def test_the_real_half_converts_with_its_labels() -> None:
    events, truth = convert(SHARED / "clients-odd-ids.csv")
    assert len(truth) == 15_000
    assert sum(row.label for row in truth) == 3_353
    assert len(events) > 150_000


def test_a_backtest_of_the_converted_stream_reports_ranking_figures_only(
    csv_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The converter decides October by the label, so the backtest of its stream gives the
    ranking of the as-of scores and says why it gives no alert figures."""
    import json

    from monitor.cli import main

    events, truth, report = tmp_path / "e.jsonl", tmp_path / "t.csv", tmp_path / "r.json"
    assert (
        main(["convert", "taiwan", str(csv_file), "--events", str(events), "--truth", str(truth)])
        == 0
    )
    assert main(["backtest", str(events), "--truth", str(truth), "--report", str(report)]) == 0
    figures = json.loads(report.read_text())
    assert "truth_roc_auc" in figures and "truth_pr_auc" in figures
    for made_by_the_converter in (
        "alert_precision",
        "recall_with_7d_lead",
        "lead_time_days_median",
    ):
        assert made_by_the_converter not in figures
    assert "converter" in figures["alert_figures"]
    assert "alert_precision" not in capsys.readouterr().out
