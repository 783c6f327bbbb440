"""Tools for developing and demonstrating the monitor: a local broker, the demo, a webhook
receiver and the Grafana dashboards generator."""
