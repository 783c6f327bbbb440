"""Worker subprocesses of a bench run: start, ask for progress, peak memory, stop."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

#: Clock ticks per second, the unit of /proc/<pid>/stat's CPU times.
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class Process:
    """A child process (``python -m ...``) with its environment and log file."""

    args: list[str]
    env: dict[str, str]
    log: Path
    web_port: int = 0
    popen: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    def start(self) -> None:
        with open(self.log, "ab") as handle:
            self.popen = subprocess.Popen(
                [sys.executable, "-m", *self.args],
                env={**os.environ, **self.env},
                stdout=handle,
                stderr=subprocess.STDOUT,
            )

    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def get(self, path: str, timeout_s: float = 5.0) -> dict[str, Any]:
        """A JSON page of the worker's web server ({} while it does not answer)."""
        try:
            url = f"http://127.0.0.1:{self.web_port}{path}"
            with urllib.request.urlopen(url, timeout=timeout_s) as response:
                data: dict[str, Any] = orjson.loads(response.read())
                return data
        except OSError:
            return {}

    def metric(self, name: str) -> float:
        """The sum of a metric's samples on the worker's ``/metrics`` page (0 if absent)."""
        try:
            url = f"http://127.0.0.1:{self.web_port}/metrics"
            with urllib.request.urlopen(url, timeout=5.0) as response:
                text = response.read().decode()
        except OSError:
            return 0.0
        return sum(
            float(line.rsplit(" ", 1)[1])
            for line in text.splitlines()
            if line.startswith((f"{name} ", f"{name}{{"))
        )

    def peak_rss_mb(self) -> float:
        """Peak resident set size (VmHWM) of the process so far, in MiB."""
        assert self.popen is not None
        for line in Path(f"/proc/{self.popen.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
        return 0.0

    def cpu_seconds(self) -> float:
        """CPU time the process has used so far (user + system, from /proc/<pid>/stat)."""
        assert self.popen is not None
        try:
            stat = Path(f"/proc/{self.popen.pid}/stat").read_text()
        except OSError:
            return 0.0
        fields = stat.rsplit(")", 1)[1].split()  # after the command name, which may hold spaces
        return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS

    def tail(self, lines: int = 30) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])

    def stop(self) -> None:
        if self.popen is not None and self.popen.poll() is None:
            self.popen.terminate()
            try:
                self.popen.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait()
