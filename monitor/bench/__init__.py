"""``monitor bench``: throughput, latency, memory and state size on the real broker.

One run pre-loads simulated events into a fresh topic, measures two references on that topic
(a bare consumer loop that only decodes, and an empty Faust agent), then the monitor's own
worker(s), then latency at a fixed offered rate; see :func:`monitor.bench.run.run_bench`.
"""
