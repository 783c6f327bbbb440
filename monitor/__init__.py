"""Delinquency early-warning monitor for consumer-credit repayment streams."""

__version__ = "0.1.0"
