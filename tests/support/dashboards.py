"""The dashboards' queries as Prometheus can run them: Grafana's macros and variables filled in."""

from __future__ import annotations

#: Grafana's macros and the dashboards' variables (all values of each), as a test fills them in
MACROS = {
    "$__rate_interval": "1m",
    "$product": ".*",
    "$region": ".*",
    "$role": ".*",
}


def substituted(expr: str) -> str:
    """``expr`` with every macro and variable filled in; a variable this does not know fails.

    >>> substituted('rate(x{product=~"$product"}[$__rate_interval])')
    'rate(x{product=~".*"}[1m])'
    """
    for macro, value in MACROS.items():
        expr = expr.replace(macro, value)
    assert "$" not in expr, f"a Grafana variable the tests do not fill in: {expr}"
    return expr
