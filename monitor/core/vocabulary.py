"""The monitor's words, each defined once: event types, products, alert kinds, risk tiers and the
reasons a message goes to the dead-letter topic.

Code and tests import these names rather than spelling the strings again, so adding a word is one
edit here (and one in the topic contract that lists it; a unit test checks that every contract's
``enum`` agrees with this module).

>>> BORROWER_RISK in ALERT_KINDS and set(PORTFOLIO_ALERT_KINDS) < set(ALERT_KINDS)
True
>>> set(INVALID_EVENT_REASONS) < set(DEAD_LETTER_REASONS)
True
"""

from __future__ import annotations

#: the ``type`` of a repayment event (contract ``repayment-event``)
EVENT_TYPES = (
    "account_opened",
    "bill_issued",
    "payment",
    "drawdown",
    "credit_limit_changed",
    "repayment_plan_changed",
    "account_closed",
    "macro_indicator",
    "reserve_updated",
)

#: the credit products an account can hold (a revolving line; an instalment cash loan)
CREDIT_PAY = "credit_pay"
CASH_LOAN = "cash_loan"
PRODUCTS = (CREDIT_PAY, CASH_LOAN)

#: alert kinds: one about a borrower, the others about the portfolio (contract ``alert``)
BORROWER_RISK = "borrower_risk"
SEGMENT_DRIFT = "segment_drift"
MODEL_DRIFT = "model_drift"
RESERVE_COVERAGE = "reserve_coverage"
OVER_LENDING = "over_lending"
PORTFOLIO_ALERT_KINDS = (SEGMENT_DRIFT, MODEL_DRIFT, RESERVE_COVERAGE, OVER_LENDING)
ALERT_KINDS = (BORROWER_RISK, *PORTFOLIO_ALERT_KINDS)

#: an alert's ``status`` and ``severity``
FIRING = "firing"
RESOLVED = "resolved"
ALERT_STATUSES = (FIRING, RESOLVED)
ALERT_SEVERITIES = ("warning", "critical")

#: a borrower's risk tier, lowest first (contracts ``alert`` and ``account-risk``)
RISK_TIERS = ("low", "medium", "high", "critical")

#: why an input message is not a valid event (``InvalidEvent.kind``), each a dead-letter reason
INVALID_EVENT_REASONS = ("empty", "oversized", "not_json", "not_object", "schema", "semantic")
#: an alert a sink gave up delivering
UNDELIVERABLE_ALERT = "undeliverable_alert"
#: the ``reason_kind`` of a dead-letter record (contract ``dead-letter``)
DEAD_LETTER_REASONS = (*INVALID_EVENT_REASONS, UNDELIVERABLE_ALERT)
