"""Framework-free core: events, account state, features, scoring, labels, alerts.

Nothing in this package imports Faust, Kafka or an HTTP client: the same code runs inside the
Faust agents and in the offline backtest, so both produce the same alerts.
"""
