"""The recommended action of an alert, from a documented policy (first rule that matches):

1. ``collections_review`` — 15+ days past due, two or more bills in a row missed, or no
   payment for 60 days with most recent bills missed.
2. ``payment_extension`` — a temporary shock on a good history: most recent bills were paid in
   full, no plan granted yet, and the trouble is recent (a first miss, or a payment pause).
3. ``instalment_plan`` — sustained stress: high utilisation, minimum-only payments or borrowing
   to repay.
4. ``pre_due_reminder`` — otherwise: a reminder, before the next due date, or at 1-14 days
   past due (no good history, no sign of stress) a reminder of the missed payment, the soft
   first step of collections.

>>> recommend({"dpd": 20.0})
'collections_review'
>>> recommend({"share_paid_full": 0.8, "days_since_payment": 40.0, "dpd": 3.0})
'payment_extension'
>>> recommend({"share_paid_full": 0.2, "utilisation": 0.95})
'instalment_plan'
>>> recommend({"share_paid_full": 1.0, "days_to_next_due": 3.0})
'pre_due_reminder'
>>> recommend({"share_paid_full": 0.3, "dpd": 5.0})
'pre_due_reminder'
"""

from __future__ import annotations

ACTIONS = ("pre_due_reminder", "instalment_plan", "payment_extension", "collections_review")


def recommend(x: dict[str, float]) -> str:
    """The action for an account with features ``x``."""
    if x.get("dpd", 0.0) >= 15 or x.get("consecutive_misses", 0.0) >= 2:
        return "collections_review"
    if x.get("days_since_payment", 0.0) >= 60 and x.get("share_missed", 0.0) >= 0.5:
        return "collections_review"
    good_history = x.get("share_paid_full", 1.0) >= 0.6 and x.get("plans_granted", 0.0) == 0
    recent_trouble = x.get("dpd", 0.0) > 0 or x.get("days_since_payment", 0.0) >= 35
    if good_history and recent_trouble:
        return "payment_extension"
    stressed = (
        x.get("utilisation", 0.0) >= 0.8
        or x.get("share_minimum_only", 0.0) >= 0.5
        or x.get("borrow_to_repay_90d", 0.0) >= 1
        or x.get("cash_loan_utilisation", 0.0) >= 0.8
    )
    return "instalment_plan" if stressed else "pre_due_reminder"
