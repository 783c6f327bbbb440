"""A seeded, deterministic simulator of a consumer-credit portfolio's repayment events.

``simulate(SimConfig(...))`` returns the events (sorted by event time, valid under the
``repayment-event`` contract), one truth row per account (does it reach 30+ days past due within
the period, and when) and the scenario's own ground truth (where and when a shock starts).
"""

from monitor.simulator.output import write_events, write_truth
from monitor.simulator.scenarios import SCENARIOS, Scenario
from monitor.simulator.simulate import SimConfig, Simulation, TruthRow, simulate

__all__ = [
    "SCENARIOS",
    "Scenario",
    "SimConfig",
    "Simulation",
    "TruthRow",
    "simulate",
    "write_events",
    "write_truth",
]
