"""Alert explanations: the model's largest contributions, told as sentences.

>>> x = {"dpd": 12.0, "utilisation": 0.97, "pay_to_due_ratio": 0.2}
>>> top_reasons({"dpd": 1.7, "utilisation": 0.6, "pay_to_due_ratio": 1.2}, x, k=2)
['A bill is 12 days past due.', 'Recent payments covered only 20% of the amounts due.']
"""

from __future__ import annotations

_TEMPLATES: dict[str, str] = {
    "dpd": "A bill is {v:.0f} days past due.",
    "past_due_bills": "{v:.0f} bill(s) unpaid past the due date.",
    "share_paid_full": "Only {v:.0%} of recent bills were paid in full.",
    "share_minimum_only": "{v:.0%} of recent bills were paid only at the minimum.",
    "share_missed": "{v:.0%} of recent bills were missed or paid below the minimum.",
    "pay_to_due_ratio": "Recent payments covered only {v:.0%} of the amounts due.",
    "consecutive_misses": "The last {v:.0f} bill(s) were missed or underpaid.",
    "utilisation": "Credit-pay balance is at {v:.0%} of the credit limit.",
    "utilisation_change": "Utilisation rose by {v:.0%} of the limit since the previous bill.",
    "days_since_payment": "No payment for {v:.0f} days.",
    "borrow_to_repay_90d": "Drew a cash loan shortly before a credit-pay due date {v:.0f} time(s) "
    "in 90 days (borrowing to repay).",
    "active_products": "Holds {v:.0f} credit products.",
    "plans_granted": "{v:.0f} repayment plan(s) or extension(s) already granted.",
    "cash_loan_utilisation": "Cash-loan balance is at {v:.0%} of its limit.",
    "months_on_book": "Account is {v:.0f} months old.",
    "log_credit_limit": "Credit limit level (log) {v:.1f}.",
    "macro_unemployment": "Regional unemployment is {v:.1f}%.",
    "macro_unemployment_change": "Regional unemployment rose {v:.1f} points above its trend.",
    "days_to_next_due": "Next bill is due in {v:.0f} days.",
    "behaviour_change": "Behaviour changed sharply from the account's own recent pattern.",
    "last_pay_ratio": "The last payment covered only {v:.0%} of its bill.",
    "statement_utilisation": "The latest statement is {v:.0%} of the credit limit.",
}
#: Contributions (log-odds) below this are not worth telling.
MIN_CONTRIBUTION = 0.05


def sentence(name: str, value: float) -> str:
    """One readable sentence for a feature value."""
    template = _TEMPLATES.get(name)
    if template is None:
        return f"{name.replace('_', ' ')} is {value:g}."
    return template.format(v=value)


def top_reasons(contributions: dict[str, float], x: dict[str, float], k: int = 3) -> list[str]:
    """Sentences for the ``k`` features that pushed the risk up the most."""
    ranked = sorted(contributions.items(), key=lambda item: item[1], reverse=True)
    return [sentence(name, x.get(name, 0.0)) for name, c in ranked[:k] if c >= MIN_CONTRIBUTION]
