"""A local single-node Apache Kafka broker (KRaft mode) on 127.0.0.1, for the demo and the tests.

Kafka's jars come from Maven Central through Maven (``kafka/pom.xml``) into a cache folder,
``$MONITOR_KAFKA_HOME`` (default ``~/.cache/monitor/kafka-3.9.1``), once. The broker then runs as
a detached ``java`` process in its own session, with its configuration, log, console output and
pid file in a data folder (default ``<cache>/data-<port>``). It is both broker and KRaft
controller, listens on 127.0.0.1 only, and needs no ZooKeeper and no Docker.

Every function is idempotent: :func:`start` reuses a broker that already answers on the port,
:func:`stop` does nothing when none of ours runs. Only the standard library is used here (the
readiness probe speaks Kafka's wire protocol over a plain socket), so this module imports no
Kafka client.

Examples
--------
>>> cache_dir().name.startswith("kafka-") or "MONITOR_KAFKA_HOME" in os.environ
True
>>> bootstrap_address(9092)
'127.0.0.1:9092'
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import hashlib
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

KAFKA_VERSION = "3.9.1"
"""The Kafka version that ``kafka/pom.xml`` pins (it names the default cache folder)."""

HOST = "127.0.0.1"
"""The only address the broker binds to and advertises."""

POM = Path(__file__).resolve().parents[2] / "kafka" / "pom.xml"
"""The Maven project that lists Kafka's jars."""

JVM_OPTIONS = (
    "-Xms256m",
    "-Xmx1g",
    "-XX:+UseG1GC",
    "-XX:MaxGCPauseMillis=20",
    "-XX:+ExitOnOutOfMemoryError",
    "-Djava.awt.headless=true",
)
"""JVM flags of the broker (the heap and GC settings of Kafka's own start script, smaller)."""

_MARKER = ".complete"
_START_LOCK = ".start.lock"
_PID_FILE = "broker.pid"
_PROPERTIES = "server.properties"
_LOG4J_FILE = "log4j.properties"
_BROKER_LOG = "broker.log"
_CONSOLE_LOG = "console.log"
_LOG_DIRS = "logs"
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")

_LOG4J = """\
# Written by monitor/devtools/localkafka.py: everything goes to {log}, nothing to the terminal.
log4j.rootLogger=INFO, file
log4j.appender.file=org.apache.log4j.RollingFileAppender
log4j.appender.file.File={log}
log4j.appender.file.MaxFileSize=20MB
log4j.appender.file.MaxBackupIndex=2
log4j.appender.file.layout=org.apache.log4j.PatternLayout
log4j.appender.file.layout.ConversionPattern=[%d] %p %m (%c)%n
log4j.logger.kafka.request.logger=WARN
log4j.logger.org.apache.zookeeper=WARN
"""


class LocalKafkaError(RuntimeError):
    """The local broker could not be obtained, started or stopped.

    Parameters
    ----------
    message : str
        One sentence: what is wrong and what to do.
    detail : str, optional
        The evidence (the last lines of Maven's output or of the broker's log), kept apart from
        the sentence so that a command line can print the sentence alone.

    Attributes
    ----------
    detail : str
        As given.
    """

    def __init__(self, message: str, detail: str = "") -> None:
        super().__init__(message)
        self.detail = detail


# ----------------------------------------------------------------------------- paths


def cache_dir() -> Path:
    """Return the cache folder of the jars and of the default data folders.

    Returns
    -------
    pathlib.Path
        ``$MONITOR_KAFKA_HOME`` if set, else ``~/.cache/monitor/kafka-3.9.1``.
    """
    configured = os.environ.get("MONITOR_KAFKA_HOME")
    if configured:
        return Path(configured).expanduser()
    return Path.home() / ".cache" / "monitor" / f"kafka-{KAFKA_VERSION}"


def default_data_dir(port: int) -> Path:
    """The default data folder of the broker on client port ``port``: ``<cache>/data-<port>``."""
    return cache_dir() / f"data-{port}"


def bootstrap_address(port: int) -> str:
    """The bootstrap servers string of the local broker on ``port``: ``127.0.0.1:<port>``."""
    return f"{HOST}:{port}"


def _data(port: int, data_dir: Path | None) -> Path:
    return Path(data_dir) if data_dir is not None else default_data_dir(port)


@contextlib.contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    """Hold an exclusive ``flock`` on ``path`` (so two processes never start one broker twice)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _tail(text: str, lines: int = 40) -> str:
    return "\n".join(_ANSI.sub("", text).splitlines()[-lines:])


# ----------------------------------------------------------------------------- jars


def mvn_command(mvn: str, libs: Path) -> list[str]:
    """Return the Maven command that copies Kafka's jars into ``libs``.

    Parameters
    ----------
    mvn : str
        The Maven executable.
    libs : pathlib.Path
        The folder to copy the jars into.

    Returns
    -------
    list of str
        ``mvn -B -q -Dstyle.color=never -f kafka/pom.xml dependency:copy-dependencies
        -DoutputDirectory=<libs>``.
    """
    return [
        mvn,
        "-B",
        "-q",
        "-Dstyle.color=never",
        "-f",
        str(POM),
        "dependency:copy-dependencies",
        f"-DoutputDirectory={libs}",
    ]


def jars_ready() -> bool:
    """Tell whether the jars are in the cache (a completed copy left its marker file).

    Returns
    -------
    bool
        True if ``<cache>/libs/.complete`` exists.
    """
    return (cache_dir() / "libs" / _MARKER).is_file()


def ensure_jars() -> Path:
    """Copy Kafka's jars from Maven Central into the cache unless they are there already.

    Maven copies into a staging folder that replaces ``<cache>/libs`` only once the copy is
    complete, so an interrupted copy is never taken for a complete one.

    Returns
    -------
    pathlib.Path
        The folder of the jars (``<cache>/libs``), the broker's classpath.

    Raises
    ------
    LocalKafkaError
        If Maven is missing, the pom is missing, or Maven fails (``detail`` has its last
        lines of output).
    """
    home = cache_dir()
    libs = home / "libs"
    if jars_ready():
        return libs
    mvn = shutil.which("mvn")
    if mvn is None:
        raise LocalKafkaError(
            "Maven (mvn) is not on PATH, and the local Kafka broker's jars come through it:"
            " install it (apt-get install maven, or run scripts/setup) or set MONITOR_BOOTSTRAP"
            " to a running Kafka."
        )
    if not POM.is_file():
        raise LocalKafkaError(
            f"{POM} is missing: run from a complete checkout of the project"
            " (installed with pip install -e .) or set MONITOR_BOOTSTRAP to a running Kafka."
        )
    with _file_lock(home / ".jars.lock"):
        if jars_ready():  # another process copied them while we waited
            return libs
        staging = home / "libs.partial"
        shutil.rmtree(staging, ignore_errors=True)
        try:
            done = subprocess.run(
                mvn_command(mvn, staging),
                capture_output=True,
                text=True,
                stdin=subprocess.DEVNULL,
                timeout=1800,
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            raise LocalKafkaError(
                "Maven did not finish copying Apache Kafka from Maven Central within 30 minutes:"
                " check the network and ~/.m2/settings.xml, then try again.",
                _tail(str(exc.output or "") + str(exc.stderr or "")),
            ) from exc
        if done.returncode != 0:
            raise LocalKafkaError(
                f"Maven failed (exit status {done.returncode}) to copy Apache Kafka from Maven"
                f" Central: check the network and ~/.m2/settings.xml (mvn -B -f {POM}"
                " dependency:copy-dependencies shows why), or set MONITOR_BOOTSTRAP to a running"
                " Kafka.",
                _tail(done.stdout + done.stderr),
            )
        shutil.rmtree(libs, ignore_errors=True)
        staging.rename(libs)
        digest = hashlib.sha256(POM.read_bytes()).hexdigest()
        (libs / _MARKER).write_text(f"kafka {KAFKA_VERSION}\npom sha256 {digest}\n")
    return libs


def _java() -> str:
    java_home = os.environ.get("JAVA_HOME")
    if java_home and (Path(java_home) / "bin" / "java").is_file():
        return str(Path(java_home) / "bin" / "java")
    java = shutil.which("java")
    if java is None:
        raise LocalKafkaError(
            "Java is not on PATH, and the local Kafka broker needs it: install a JDK 17"
            " (apt-get install openjdk-17-jre-headless, or run scripts/setup) or set"
            " MONITOR_BOOTSTRAP to a running Kafka."
        )
    return java


# ----------------------------------------------------------------------------- probing


def is_listening(port: int, timeout: float = 0.5) -> bool:
    """Tell whether something accepts TCP connections on 127.0.0.1:``port``.

    Parameters
    ----------
    port : int
        The port to try.
    timeout : float, optional
        Seconds to wait for the connection.

    Returns
    -------
    bool
        True if the connection was accepted.
    """
    try:
        with socket.create_connection((HOST, port), timeout=timeout):
            return True
    except OSError:
        return False


def _metadata_request(correlation_id: int) -> bytes:
    """Encode a Metadata v4 request for no topics (Kafka 1.0 to 4.x all accept v4)."""
    client_id = b"monitor-localkafka"
    body = struct.pack(">hhih", 3, 4, correlation_id, len(client_id)) + client_id
    body += struct.pack(">ib", 0, 0)  # topics: empty array (none); allow_auto_topic_creation
    return struct.pack(">i", len(body)) + body


def _read_exact(sock: socket.socket, size: int) -> bytes:
    chunks = bytearray()
    while len(chunks) < size:
        chunk = sock.recv(size - len(chunks))
        if not chunk:
            raise ConnectionError("the broker closed the connection")
        chunks += chunk
    return bytes(chunks)


def _brokers_in_metadata(payload: bytes, correlation_id: int) -> list[tuple[int, str, int]]:
    """Decode the brokers of a Metadata v4 response (``payload`` without its size prefix)."""
    got, _throttle, count = struct.unpack_from(">iii", payload, 0)
    if got != correlation_id:
        raise ValueError("a response to another request")
    offset = 12
    brokers = []
    for _ in range(count):
        node_id, host_len = struct.unpack_from(">ih", payload, offset)
        offset += 6
        host = payload[offset : offset + host_len].decode()
        offset += host_len
        (port, rack_len) = struct.unpack_from(">ih", payload, offset)
        offset += 6 + max(rack_len, 0)
        brokers.append((node_id, host, port))
    return brokers


def broker_answers(port: int, timeout: float = 2.0) -> bool:
    """Tell whether a Kafka broker on 127.0.0.1:``port`` serves requests.

    The probe sends a Metadata request and wants the broker itself among the brokers of the
    answer, which a KRaft broker gives only once it has joined its cluster and serves clients
    (its port accepts connections a little earlier than that).

    Parameters
    ----------
    port : int
        The broker's client port.
    timeout : float, optional
        Seconds for the connection and the answer together.

    Returns
    -------
    bool
        True if the broker answered and lists itself at ``127.0.0.1:<port>``.
    """
    correlation_id = int(time.monotonic_ns() % 2**31)
    try:
        with socket.create_connection((HOST, port), timeout=timeout) as sock:
            sock.settimeout(timeout)
            sock.sendall(_metadata_request(correlation_id))
            (size,) = struct.unpack(">i", _read_exact(sock, 4))
            if not 0 < size < 16 * 2**20:
                return False
            brokers = _brokers_in_metadata(_read_exact(sock, size), correlation_id)
    except (OSError, ValueError, struct.error, UnicodeDecodeError):
        return False
    return any(port == their_port for _node, _host, their_port in brokers)


def status(port: int = 9092) -> bool:
    """Tell whether a Kafka broker serves clients on 127.0.0.1:``port``.

    Parameters
    ----------
    port : int, optional
        The broker's client port.

    Returns
    -------
    bool
        True if a broker (started here or elsewhere) answers a Metadata request there.
    """
    return broker_answers(port)


# ----------------------------------------------------------------------------- the process


def _proc_state(pid: int) -> tuple[str, bytes] | None:
    """Return the state letter and command line of ``pid``, None if there is no such process."""
    proc = Path("/proc") / str(pid)
    try:
        stat = (proc / "stat").read_text()
        cmdline = (proc / "cmdline").read_bytes()
    except OSError:
        if proc.parent.is_dir():
            return None
        try:  # no /proc (not Linux): existence only
            os.kill(pid, 0)
        except ProcessLookupError:
            return None
        except PermissionError:
            pass
        return "R", b""
    return stat.rsplit(")", 1)[-1].split()[0], cmdline


def _broker_pid(data: Path) -> int | None:
    """Return the pid of the live broker of ``data`` from its pid file, else None.

    The process must be alive (not a zombie) and run ``kafka.Kafka`` on this data folder's
    ``server.properties``, so a pid reused by another program is never taken for the broker.
    """
    try:
        pid = int((data / _PID_FILE).read_text().strip())
    except (OSError, ValueError):
        return None
    state = _proc_state(pid)
    if state is None or state[0] in ("Z", "X"):
        return None
    if state[1] and (
        b"kafka.Kafka" not in state[1] or str(data / _PROPERTIES).encode() not in state[1]
    ):
        return None
    return pid


def _wait_gone(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = _proc_state(pid)
        if state is None or state[0] in ("Z", "X"):
            return True
        time.sleep(0.1)
    return False


def log_tail(data: Path, lines: int = 40) -> str:
    """Return the last lines of the broker's console output and of its log.

    Parameters
    ----------
    data : pathlib.Path
        The broker's data folder.
    lines : int, optional
        How many lines of each file.

    Returns
    -------
    str
        The tails, each under its file's name; empty if neither file has anything.
    """
    parts = []
    for name in (_CONSOLE_LOG, _BROKER_LOG):
        path = data / name
        with contextlib.suppress(OSError):
            text = _tail(path.read_text(errors="replace"), lines)
            if text.strip():
                parts.append(f"--- {path}\n{text}")
    return "\n".join(parts)


def write_config(
    data: Path, port: int, controller_port: int, extra: dict[str, str] | None = None
) -> Path:
    """Write the broker's ``server.properties`` and ``log4j.properties`` into ``data``.

    Parameters
    ----------
    data : pathlib.Path
        The broker's data folder (it must exist).
    port : int
        The client port (PLAINTEXT listener).
    controller_port : int
        The KRaft controller port (CONTROLLER listener).
    extra : dict or None, optional
        Further server properties, which override the defaults (for example a SASL listener
        next to the PLAINTEXT one, which the readiness probe needs).

    Returns
    -------
    pathlib.Path
        The ``server.properties`` file.
    """
    props = data / _PROPERTIES
    settings = {
        "process.roles": "broker,controller",
        "node.id": "1",
        "controller.quorum.voters": f"1@{HOST}:{controller_port}",
        "listeners": f"PLAINTEXT://{HOST}:{port},CONTROLLER://{HOST}:{controller_port}",
        "advertised.listeners": f"PLAINTEXT://{HOST}:{port}",
        "controller.listener.names": "CONTROLLER",
        "inter.broker.listener.name": "PLAINTEXT",
        "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
        "log.dirs": str(data / _LOG_DIRS),
        "num.partitions": "1",
        "default.replication.factor": "1",
        "offsets.topic.replication.factor": "1",
        "transaction.state.log.replication.factor": "1",
        "transaction.state.log.min.isr": "1",
        "group.initial.rebalance.delay.ms": "0",
        "auto.create.topics.enable": "true",
        "delete.topic.enable": "true",
        **(extra or {}),
    }
    header = "# Written by monitor/devtools/localkafka.py at each start; edits are overwritten.\n"
    props.write_text(header + "".join(f"{key}={value}\n" for key, value in settings.items()))
    (data / _LOG4J_FILE).write_text(_LOG4J.format(log=data / _BROKER_LOG))
    return props


def _jvm(java: str, libs: Path, data: Path) -> list[str]:
    return [
        java,
        *JVM_OPTIONS,
        f"-Dlog4j.configuration={(data / _LOG4J_FILE).as_uri()}",
        f"-Dkafka.logs.dir={data}",
        "-cp",
        f"{libs}/*",
    ]


def _new_cluster_id() -> str:
    """Return a random cluster id in Kafka's form (22 url-safe base64 characters)."""
    while True:
        cluster = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not cluster.startswith("-"):  # as Kafka's Uuid.randomUuid: "-" reads as an option
            return cluster


def is_formatted(data: Path) -> bool:
    """Tell whether the broker's storage in ``data`` is formatted (KRaft needs it once).

    Parameters
    ----------
    data : pathlib.Path
        The broker's data folder.

    Returns
    -------
    bool
        True if ``<data>/logs/meta.properties`` exists.
    """
    return (data / _LOG_DIRS / "meta.properties").is_file()


def format_storage(java: str, libs: Path, data: Path, props: Path) -> None:
    """Format the KRaft storage of ``data`` with a new cluster id (``StorageTool format``).

    Parameters
    ----------
    java : str
        The Java executable.
    libs : pathlib.Path
        The folder of Kafka's jars.
    data : pathlib.Path
        The broker's data folder.
    props : pathlib.Path
        Its ``server.properties``.

    Raises
    ------
    LocalKafkaError
        If the tool fails (``detail`` has its output).
    """
    command = [
        *_jvm(java, libs, data),
        "kafka.tools.StorageTool",
        "format",
        "-t",
        _new_cluster_id(),
        "-c",
        str(props),
    ]
    done = subprocess.run(
        command, capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=120
    )
    if done.returncode != 0:
        raise LocalKafkaError(
            f"Kafka could not format its storage in {data / _LOG_DIRS}: delete that folder"
            " and start again.",
            _tail(done.stdout + done.stderr),
        )


def launch(java: str, libs: Path, data: Path, props: Path) -> int:
    """Start ``kafka.Kafka`` detached: a new session, not a child of this process.

    A shell forks the JVM into the background and exits at once, so the broker outlives this
    process, is reaped by init, and leaves no zombie or ``Popen`` behind. Its console output
    goes to ``<data>/console.log``, its log (log4j) to ``<data>/broker.log``, its pid to
    ``<data>/broker.pid``.

    The arguments are those of :func:`format_storage`; returns the broker's pid.
    """
    script = 'out=$1; shift; "$@" >>"$out" 2>&1 </dev/null & echo $!'
    command = [*_jvm(java, libs, data), "kafka.Kafka", str(props)]
    done = subprocess.run(
        ["/bin/sh", "-c", script, "sh", str(data / _CONSOLE_LOG), *command],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
        check=True,
        timeout=30,
    )
    pid = int(done.stdout.strip())
    (data / _PID_FILE).write_text(f"{pid}\n")
    return pid


def _wait_ready(port: int, pid: int | None, data: Path, deadline: float, timeout: float) -> None:
    bootstrap = bootstrap_address(port)
    while time.monotonic() < deadline:
        if broker_answers(port, timeout=min(2.0, max(0.1, deadline - time.monotonic()))):
            return
        if pid is not None and _broker_pid(data) != pid:
            raise LocalKafkaError(
                f"the Kafka broker on {bootstrap} exited while starting: see the detail or"
                f" {data / _BROKER_LOG}, fix the cause (a port in use, a full disk, a corrupt"
                f" data folder, then delete {data}) and start again.",
                log_tail(data),
            )
        time.sleep(0.25)
    if pid is None:
        raise LocalKafkaError(
            f"a process that is not a Kafka broker (or not one of ours) holds {bootstrap}:"
            " stop it or choose another port.",
        )
    raise LocalKafkaError(
        f"the Kafka broker did not answer on {bootstrap} within {timeout:.0f} s: see the"
        f" detail or {data / _BROKER_LOG}, then stop it (localkafka.stop) and start again.",
        log_tail(data),
    )


def start(
    port: int = 9092,
    controller_port: int | None = None,
    data_dir: Path | None = None,
    timeout: float = 60.0,
    extra_properties: dict[str, str] | None = None,
) -> str:
    """Start the local broker unless one already serves on the port; return its address.

    Idempotent: a broker that answers on 127.0.0.1:``port`` (ours or not) is reused at once;
    a broker of ours that is still starting is waited for. Otherwise the jars are obtained
    (:func:`ensure_jars`), the configuration is written, the storage is formatted if it never
    was, and ``kafka.Kafka`` is launched detached; the call returns once the broker answers a
    Metadata request. Concurrent calls (other processes too) start one broker.

    Parameters
    ----------
    port : int, optional
        The client port on 127.0.0.1.
    controller_port : int or None, optional
        The KRaft controller port on 127.0.0.1; None means ``port + 1`` (9093 for 9092).
    data_dir : pathlib.Path or None, optional
        The data folder; None means ``<cache>/data-<port>``.
    timeout : float, optional
        Seconds to wait for the broker to answer.
    extra_properties : dict or None, optional
        Server properties added to (or replacing) the defaults, see :func:`write_config`.

    Returns
    -------
    str
        The bootstrap servers string, ``127.0.0.1:<port>``.

    Raises
    ------
    LocalKafkaError
        If Java or Maven is missing, the jars cannot be copied, the storage cannot be
        formatted, the broker exits while starting or does not answer within ``timeout``, or
        something else holds the port (``detail`` has the evidence).
    """
    bootstrap = bootstrap_address(port)
    if broker_answers(port, timeout=1.0):
        return bootstrap
    data = _data(port, data_dir).resolve()
    data.mkdir(parents=True, exist_ok=True)
    with _file_lock(data / _START_LOCK):
        pid = _broker_pid(data)  # set if another process started it while we waited
        if pid is None and not is_listening(port):
            java = _java()
            libs = ensure_jars()
            props = write_config(data, port, controller_port or port + 1, extra_properties)
            if not is_formatted(data):
                format_storage(java, libs, data, props)
            pid = launch(java, libs, data, props)
        _wait_ready(port, pid, data, time.monotonic() + timeout, timeout)
    return bootstrap


def stop(port: int = 9092, data_dir: Path | None = None, timeout: float = 30.0) -> bool:
    """Stop the local broker started by :func:`start`: SIGTERM, then SIGKILL after ``timeout``.

    Idempotent. Only the broker of this data folder's pid file is stopped; a broker that was
    started otherwise is left alone.

    Parameters
    ----------
    port : int, optional
        The broker's client port (it names the default data folder).
    data_dir : pathlib.Path or None, optional
        The data folder; None means ``<cache>/data-<port>``.
    timeout : float, optional
        Seconds to wait for a clean shutdown before SIGKILL.

    Returns
    -------
    bool
        True if a broker was running and has been stopped, False if none of ours was running.

    Raises
    ------
    LocalKafkaError
        If the broker outlives SIGKILL too (or may not be signalled).
    """
    data = _data(port, data_dir).resolve()
    pid = _broker_pid(data)
    with contextlib.suppress(FileNotFoundError):
        (data / _PID_FILE).unlink()
    if pid is None:
        return False
    try:
        os.kill(pid, signal.SIGTERM)
        if _wait_gone(pid, timeout):
            return True
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        return True
    except PermissionError as exc:
        raise LocalKafkaError(
            f"the Kafka broker (pid {pid}) may not be signalled by this user: stop it as its"
            " owner.",
        ) from exc
    if not _wait_gone(pid, 10):
        raise LocalKafkaError(
            f"the Kafka broker (pid {pid}) outlived SIGKILL: check the process and kill it.",
        )
    return True
