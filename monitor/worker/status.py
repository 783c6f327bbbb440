"""The worker's status page for users without Grafana: portfolio, newest alerts, pipeline health.

``/status`` is a static page that reads ``/api/state`` every few seconds; :class:`StatusBoard`
keeps what the page needs that the metrics do not (the newest alerts) and builds the JSON.
"""

from __future__ import annotations

import time
from collections import deque
from typing import Any

from monitor.core.timeutil import iso_time
from monitor.core.vocabulary import BORROWER_RISK
from monitor.metrics import Metrics

RECENT_ALERTS = 50


def _samples(metric: Any) -> list[tuple[dict[str, str], float]]:
    """Label sets and values of a metric's main samples (not ``_created`` and the like)."""
    return [
        (s.labels, s.value)
        for family in metric.collect()
        for s in family.samples
        if s.name in (family.name, f"{family.name}_total")
    ]


class _Family:
    """One metric family read like a metric (for :func:`_samples`)."""

    def __init__(self, family: Any) -> None:
        self.family = family

    def collect(self) -> list[Any]:
        return [self.family]


class StatusBoard:
    """Recent alerts and rates, and the state document of the status page."""

    def __init__(self, metrics: Metrics) -> None:
        self.metrics = metrics
        self.alerts: deque[dict[str, Any]] = deque(maxlen=RECENT_ALERTS)
        self.portfolio: dict[str, dict[str, Any]] = {}  # open portfolio alerts by id
        self._rate_mark = (time.monotonic(), 0.0)
        self._rate = 0.0

    def add_alert(self, alert: dict[str, Any]) -> None:
        """Remember an alert (as sent out, so pseudonymised when configured)."""
        if alert.get("kind") == BORROWER_RISK:
            self.alerts.appendleft(alert)
        elif alert.get("status") == "resolved":
            self.portfolio.pop(alert["alert_id"], None)
        else:
            self.portfolio[alert["alert_id"]] = alert

    def _events_per_s(self, processed: float) -> float:
        now = time.monotonic()
        then, before = self._rate_mark
        if now - then >= 2.0:
            self._rate = (processed - before) / (now - then)
            self._rate_mark = (now, processed)
        return self._rate

    def state(self, model_version: str, labels_learned: int) -> dict[str, Any]:
        """The JSON document behind the status page."""
        m = self.metrics
        events = _samples(m.events)
        processed = sum(v for labels, v in events if labels.get("outcome") == "ok")
        invalid = sum(v for labels, v in events if labels.get("outcome") == "invalid")
        portfolio = {family.name: family for family in m.portfolio.collect()}
        buckets: dict[str, dict[str, float]] = {}
        for labels, value in _samples(_Family(portfolio["monitor_accounts_by_dpd_bucket"])):
            if not value:
                continue
            counts = buckets.setdefault(labels["product"], {})
            counts[labels["bucket"]] = counts.get(labels["bucket"], 0.0) + value
        rates = {}
        for product, counts in buckets.items():
            total = sum(counts.values())
            late = sum(v for b, v in counts.items() if b in ("30-59", "60-89", "90+"))
            rates[product] = round(late / total, 4) if total else 0.0
        tiers = {
            labels["tier"]: value
            for labels, value in _samples(_Family(portfolio["monitor_accounts_by_risk_tier"]))
            if value
        }
        deliveries: dict[str, dict[str, float]] = {}
        for labels, value in _samples(m.delivery.deliveries):
            sink = f"{labels['sink']} {labels['receiver']}".rstrip()
            deliveries.setdefault(sink, {})[labels["outcome"]] = value
        lag = sum(v for _, v in _samples(m.consumer_lag))
        event_time = _samples(m.event_lag)[0][1]
        return {
            "generated_at": iso_time(time.time()),
            "event_time": iso_time(event_time) if event_time else None,
            "pipeline": {
                "processed": processed,
                "invalid": invalid,
                "events_per_s": round(self._events_per_s(processed), 1),
                "consumer_lag": lag,
                "deliveries": deliveries,
                "model_version": model_version,
                "labels_learned": labels_learned,
            },
            "portfolio": {"buckets": buckets, "rate_30_plus": rates, "tiers": tiers},
            "alerts": list(self.alerts),
            "drift": list(self.portfolio.values()),
        }


PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>Delinquency monitor - status</title>
<style>
body{font-family:system-ui,sans-serif;margin:1.5em;color:#222;background:#fafafa}
h1{font-size:1.4em;margin:0 0 .2em} h2{font-size:1.1em;margin:1.2em 0 .4em}
.grid{display:grid;grid-template-columns:repeat(auto-fit,minmax(160px,1fr));gap:.6em}
.card{background:#fff;border:1px solid #ddd;border-radius:6px;padding:.6em}
.card b{display:block;font-size:1.5em} table{border-collapse:collapse;width:100%;background:#fff}
td,th{border-bottom:1px solid #eee;padding:.3em .5em;text-align:left;font-size:.9em;vertical-align:top}
.critical{color:#b00020;font-weight:600} .high{color:#c25e00} .resolved{color:#2e7d32}
#updated{color:#777;font-size:.85em}
</style></head><body>
<h1>Delinquency early-warning monitor</h1>
<div id="updated">loading&hellip;</div>
<h2>Pipeline</h2><div class="grid" id="pipeline"></div>
<h2>Portfolio</h2><div class="grid" id="rates"></div>
<table id="buckets"><thead><tr><th>product</th><th>current</th><th>1-29</th><th>30-59</th>
<th>60-89</th><th>90+</th></tr></thead><tbody></tbody></table>
<h2>Risk tiers</h2><div class="grid" id="tiers"></div>
<h2>Drift</h2><div id="drift">no drift detected</div>
<h2>Newest alerts</h2>
<table id="alerts"><thead><tr><th>event time</th><th>status</th><th>account</th>
<th>product</th><th>risk</th><th>action</th><th>reasons</th></tr></thead><tbody></tbody></table>
<script>
function card(label, value){return '<div class="card">'+label+'<b>'+value+'</b></div>';}
function esc(s){return String(s).replace(/[&<>"]/g,c=>({'&':'&amp;','<':'&lt;','>':'&gt;','"':'&quot;'}[c]));}
async function refresh(){
  try{
    const s = await (await fetch('api/state')).json();
    const p = s.pipeline;
    document.getElementById('updated').textContent =
      'stream time '+(s.event_time||'-')+' \\u00b7 refreshed '+s.generated_at;
    document.getElementById('pipeline').innerHTML = card('events processed', p.processed)
      + card('events / s', p.events_per_s) + card('invalid (dead-lettered)', p.invalid)
      + card('consumer lag', p.consumer_lag) + card('model', esc(p.model_version))
      + card('outcomes learned', p.labels_learned);
    document.getElementById('rates').innerHTML = Object.entries(s.portfolio.rate_30_plus)
      .map(([k,v])=>card('30+ rate, '+esc(k), (100*v).toFixed(2)+'%')).join('');
    document.querySelector('#buckets tbody').innerHTML = Object.entries(s.portfolio.buckets)
      .map(([k,b])=>'<tr><td>'+esc(k)+'</td>'+['current','1-29','30-59','60-89','90+']
      .map(x=>'<td>'+(b[x]||0)+'</td>').join('')+'</tr>').join('');
    document.getElementById('tiers').innerHTML = ['low','medium','high','critical']
      .map(t=>card(t, s.portfolio.tiers[t]||0)).join('');
    document.getElementById('drift').textContent = s.drift.length
      ? s.drift.map(d=>d.summary).join('; ') : 'no drift detected';
    document.querySelector('#alerts tbody').innerHTML = s.alerts.map(a=>'<tr class="'
      +(a.status==='resolved'?'resolved':a.risk_tier)+'"><td>'+esc(a.event_time)+'</td><td>'
      +esc(a.status)+'</td><td>'+esc(a.account_id)+'</td><td>'+esc(a.product)+'</td><td>'
      +(100*a.probability).toFixed(0)+'% '+esc(a.risk_tier)+'</td><td>'+esc(a.action)
      +'</td><td>'+a.reasons.map(esc).join('<br>')+'</td></tr>').join('');
    document.body.dataset.loaded = 'yes';
  }catch(e){document.getElementById('updated').textContent = 'cannot reach the worker: '+e;}
}
refresh(); setInterval(refresh, 5000);
</script></body></html>
"""
