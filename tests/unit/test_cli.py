"""User mistakes end in one sentence and exit status 2, never a traceback."""

from __future__ import annotations

import pytest

from monitor.cli import main


@pytest.mark.parametrize(
    ("argv", "env", "message"),
    [
        (["worker"], {"MONITOR_PARTITIONS": "two"}, "MONITOR_PARTITIONS must be a whole number"),
        (
            ["worker"],
            {"MONITOR_BOOTSTRAP": "127.0.0.1:1"},
            "No Kafka broker answers at 127.0.0.1:1",
        ),
        (["replay", "/no/such/file.jsonl"], {}, "no events file at /no/such/file.jsonl"),
        (["backtest", "/no/such/file.jsonl"], {}, "no events file at /no/such/file.jsonl"),
        (
            ["worker"],
            {"MONITOR_ALERT_OPEN": "0.2", "MONITOR_ALERT_CLEAR": "0.4"},
            "MONITOR_ALERT_CLEAR must be above 0 and at most MONITOR_ALERT_OPEN",
        ),
        (["worker"], {"MONITOR_WEBHOOK_URLS": "ftp://x"}, "is not an http(s) URL"),
        (
            ["worker"],
            {"MONITOR_WEBHOOK_MAX_BACKOFF_S": "0"},
            "MONITOR_WEBHOOK_MAX_BACKOFF_S must be above 0",
        ),
        (["schema", "nonsense"], {}, "no contract named 'nonsense'"),
    ],
)
def test_mistakes_give_one_clear_sentence(
    argv: list[str],
    env: dict[str, str],
    message: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_schema_prints_the_event_contract(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["schema", "repayment-event"]) == 0
    assert '"urn:monitor:repayment-event:1"' in capsys.readouterr().out
