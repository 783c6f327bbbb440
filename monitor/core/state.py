"""Per-account state: one ledger per product, pending predictions and alert status.

State is small, plain data that serialises to a compact JSON-ready dict (``to_dict`` /
``from_dict``) for the changelog-backed Faust table and for checkpoints.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

#: Bill outcome codes recorded when the due date passes.
FULL, MINIMUM, PARTIAL, MISSED = "F", "M", "P", "X"
#: How many bill outcomes and recent event days are kept.
HISTORY = 6


@dataclass(slots=True)
class Bill:
    """One bill of a product; ``due`` and ``issued`` are day numbers."""

    bill_id: str
    issued: int
    due: int
    amount: float
    minimum: float
    paid: float = 0.0
    satisfied: bool = False
    outcome: str = ""  # set once the due date has passed

    def to_list(self) -> list[Any]:
        return [
            self.bill_id,
            self.issued,
            self.due,
            self.amount,
            self.minimum,
            self.paid,
            int(self.satisfied),
            self.outcome,
        ]

    @classmethod
    def from_list(cls, row: list[Any]) -> Bill:
        return cls(row[0], row[1], row[2], row[3], row[4], row[5], bool(row[6]), row[7])


@dataclass(slots=True)
class ProductLedger:
    """Bills, payments and limits of one product of an account."""

    product: str
    limit: float = 0.0
    opened: int = 0
    closed: bool = False
    bills: list[Bill] = field(default_factory=list)
    outcomes: list[str] = field(default_factory=list)
    pay_ratios: list[float] = field(default_factory=list)  # paid / amount due, last bills
    last_payment: int = -1
    loan_balance: float = 0.0  # cash loans: principal drawn and not yet repaid
    prev_utilisation: float = 0.0
    plans: int = 0
    contrib: list[Any] | None = None  # Contribution last added to the portfolio book
    month: int = -1  # month of the last look, and the bucket the product began it in
    month_bucket: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "p": self.product,
            "l": self.limit,
            "o": self.opened,
            "c": int(self.closed),
            "b": [bill.to_list() for bill in self.bills],
            "oc": "".join(self.outcomes),
            "pr": self.pay_ratios,
            "lp": self.last_payment,
            "lb": self.loan_balance,
            "pu": self.prev_utilisation,
            "pl": self.plans,
            "ct": self.contrib,
            "mo": self.month,
            "mb": self.month_bucket,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ProductLedger:
        return cls(
            d["p"],
            d["l"],
            d["o"],
            bool(d["c"]),
            [Bill.from_list(b) for b in d["b"]],
            list(d["oc"]),
            list(d["pr"]),
            d["lp"],
            d["lb"],
            d["pu"],
            d["pl"],
            d["ct"],
            d["mo"],
            d["mb"],
        )


@dataclass(slots=True)
class Snapshot:
    """A prediction waiting for its outcome: day scored, probability, features, model version."""

    day: int
    probability: float
    features: list[float]
    version: str

    def to_list(self) -> list[Any]:
        return [self.day, self.probability, self.features, self.version]

    @classmethod
    def from_list(cls, row: list[Any]) -> Snapshot:
        return cls(row[0], row[1], row[2], row[3])


@dataclass(slots=True)
class OpenAlert:
    """The open alert of one cause: its stable id, when it opened, and the product and region
    it named (its resolution names the same ones)."""

    alert_id: str
    opened: float
    probability: float
    product: str = ""  # "" in state written before alerts kept it
    region: str = ""

    def to_list(self) -> list[Any]:
        return [self.alert_id, self.opened, self.probability, self.product, self.region]

    @classmethod
    def from_list(cls, row: list[Any]) -> OpenAlert:
        return cls(*row[:5])


@dataclass(slots=True)
class AccountState:
    """Everything the monitor keeps about one account."""

    account_id: str
    partition: int = 0
    region: str = ""
    products: dict[str, ProductLedger] = field(default_factory=dict)
    attributes: dict[str, Any] = field(default_factory=dict)
    borrow_to_repay: list[int] = field(default_factory=list)  # days of such drawdowns
    delinquent_since: int = -1  # day the current 30+ DPD episode began, -1 if none
    ever_delinquent: bool = False
    probability: float = 0.0
    tier: str = ""  # "" until first scored
    published: float = -1.0  # probability of the last account-risk record, -1 if none
    published_tier: str = ""
    last_event: float = 0.0
    last_event_id: str = ""
    next_check: int = -1  # day number of the next event-time timer, -1 if none
    offset: int = -1  # input offset of the last event applied (replays of it are skipped)
    outbox: list[dict[str, Any]] = field(default_factory=list)  # alerts made at outbox_offset
    outbox_offset: int = -1
    pending: list[Snapshot] = field(default_factory=list)
    alerts: dict[str, OpenAlert] = field(default_factory=dict)
    behaviour: float = 0.0  # behaviour-change score of the latest bill that fell due
    #: not part of the state: what a store that keeps records of their own for the pending
    #: snapshots last wrote of them (it writes only the snapshots that are new)
    stored: Any = field(default=None, compare=False, repr=False)

    def to_dict(self, snapshots: bool = True) -> dict[str, Any]:
        """The state as plain data (with ``snapshots`` False, the pending snapshots' days only)."""
        return {
            "a": self.account_id,
            "pt": self.partition,
            "r": self.region,
            "pr": [ledger.to_dict() for ledger in self.products.values()],
            "at": self.attributes,
            "br": self.borrow_to_repay,
            "ds": self.delinquent_since,
            "ed": int(self.ever_delinquent),
            "p": self.probability,
            "t": self.tier,
            "pp": self.published,
            "ptr": self.published_tier,
            "le": self.last_event,
            "li": self.last_event_id,
            "nc": self.next_check,
            "of": self.offset,
            "ob": self.outbox,
            "oo": self.outbox_offset,
            "pe": [s.to_list() if snapshots else s.day for s in self.pending],
            "al": {cause: alert.to_list() for cause, alert in self.alerts.items()},
            "bh": self.behaviour,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> AccountState:
        products = [ProductLedger.from_dict(p) for p in d["pr"]]
        return cls(
            account_id=d["a"],
            partition=d["pt"],
            region=d["r"],
            products={ledger.product: ledger for ledger in products},
            attributes=dict(d["at"]),
            borrow_to_repay=list(d["br"]),
            delinquent_since=d["ds"],
            ever_delinquent=bool(d["ed"]),
            probability=d["p"],
            tier=d["t"],
            published=d["pp"],
            published_tier=d["ptr"],
            last_event=d["le"],
            last_event_id=d["li"],
            next_check=d["nc"],
            offset=d["of"],
            outbox=list(d["ob"]),
            outbox_offset=d["oo"],
            pending=[Snapshot.from_list(s) for s in d["pe"]],
            alerts={cause: OpenAlert.from_list(a) for cause, a in d["al"].items()},
            behaviour=d.get("bh", 0.0),  # absent in state written before the detector
        )
