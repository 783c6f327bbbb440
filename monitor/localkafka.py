"""A local single-node Apache Kafka broker (KRaft) on 127.0.0.1, for the demo and the tests.

Kafka's jars come from Maven Central through Maven (``kafka/pom.xml``) into a cache folder
(``MONITOR_KAFKA_HOME``, default ``~/.cache/monitor/kafka-3.9.1``) once; the broker runs with
``java`` in the background, its log and pid file in its data folder. Starting is idempotent: a
broker already answering on the port is reused.
"""

from __future__ import annotations

import base64
import os
import shutil
import signal
import socket
import subprocess
import time
import uuid
from pathlib import Path

KAFKA_VERSION = "3.9.1"
_POM = Path(__file__).resolve().parent.parent / "kafka" / "pom.xml"
_LOG4J = """log4j.rootLogger=INFO, file
log4j.appender.file=org.apache.log4j.RollingFileAppender
log4j.appender.file.File={log}
log4j.appender.file.MaxFileSize=20MB
log4j.appender.file.MaxBackupIndex=2
log4j.appender.file.layout=org.apache.log4j.PatternLayout
log4j.appender.file.layout.ConversionPattern=[%d] %p %m (%c)%n
log4j.logger.kafka=INFO
log4j.logger.org.apache.kafka=INFO
"""


class LocalKafkaError(RuntimeError):
    """The local broker could not be obtained or started; ``detail`` has the evidence."""

    def __init__(self, message: str, detail: str = "") -> None:
        super().__init__(message)
        self.detail = detail


def home() -> Path:
    """The cache folder of the jars and the default data folders."""
    default = Path.home() / ".cache" / "monitor" / f"kafka-{KAFKA_VERSION}"
    return Path(os.environ.get("MONITOR_KAFKA_HOME", default))


def ensure_jars() -> Path:
    """Copy Kafka's jars from Maven Central into the cache (once); return the libs folder."""
    libs = home() / "libs"
    marker = libs / ".complete"
    if marker.exists():
        return libs
    mvn = shutil.which("mvn")
    if mvn is None:
        raise LocalKafkaError(
            "Maven (mvn) is not installed: install it (apt-get install maven) "
            "or point MONITOR_BOOTSTRAP at a running Kafka."
        )
    if not _POM.is_file():
        raise LocalKafkaError(f"{_POM} is missing: run from a complete checkout of the project.")
    libs.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        [
            mvn,
            "-B",
            "-q",
            "-f",
            str(_POM),
            "dependency:copy-dependencies",
            f"-DoutputDirectory={libs}",
        ],
        capture_output=True,
        text=True,
        timeout=900,
    )
    if done.returncode != 0:
        raise LocalKafkaError(
            "Maven could not fetch Apache Kafka from Maven Central: check the network or the "
            "Maven settings, or point MONITOR_BOOTSTRAP at a running Kafka.",
            (done.stdout + done.stderr)[-4000:],
        )
    marker.touch()
    return libs


def _data_dir(port: int, data_dir: Path | None) -> Path:
    return data_dir or home() / f"data-{port}"


def _listening(port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout):
            return True
    except OSError:
        return False


def status(port: int = 9092) -> bool:
    """True if a broker listens on 127.0.0.1:``port``."""
    return _listening(port)


def _write_config(data: Path, port: int, controller_port: int) -> Path:
    props = data / "server.properties"
    props.write_text(
        "\n".join(
            [
                "process.roles=broker,controller",
                "node.id=1",
                f"controller.quorum.voters=1@127.0.0.1:{controller_port}",
                f"listeners=PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{controller_port}",
                f"advertised.listeners=PLAINTEXT://127.0.0.1:{port}",
                "controller.listener.names=CONTROLLER",
                "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
                f"log.dirs={data / 'logs'}",
                "offsets.topic.replication.factor=1",
                "transaction.state.log.replication.factor=1",
                "transaction.state.log.min.isr=1",
                "group.initial.rebalance.delay.ms=0",
                "num.partitions=1",
                "auto.create.topics.enable=true",
                "log.retention.hours=168",
                "",
            ]
        )
    )
    (data / "log4j.properties").write_text(_LOG4J.format(log=data / "broker.log"))
    return props


def start(
    port: int = 9092,
    controller_port: int | None = None,
    data_dir: Path | None = None,
    timeout: float = 90.0,
) -> str:
    """Start the broker unless one answers already; return its bootstrap address."""
    bootstrap = f"127.0.0.1:{port}"
    if _listening(port):
        return bootstrap
    if shutil.which("java") is None:
        raise LocalKafkaError(
            "Java is not installed: install a JDK 17 (apt-get install "
            "openjdk-17-jre-headless) or point MONITOR_BOOTSTRAP at a Kafka."
        )
    libs = ensure_jars()
    controller_port = controller_port or port + 1
    data = _data_dir(port, data_dir)
    data.mkdir(parents=True, exist_ok=True)
    props = _write_config(data, port, controller_port)
    classpath = f"{libs}/*"
    if not (data / "logs" / "meta.properties").exists():
        cluster = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        done = subprocess.run(
            [
                "java",
                "-cp",
                classpath,
                "kafka.tools.StorageTool",
                "format",
                "-t",
                cluster,
                "-c",
                str(props),
            ],
            capture_output=True,
            text=True,
            timeout=120,
        )
        if done.returncode != 0:
            raise LocalKafkaError(
                f"Kafka could not format its storage in {data}: see detail.",
                done.stdout + done.stderr,
            )
    out = open(data / "stdout.log", "ab")  # noqa: SIM115 - handed to the detached broker
    process = subprocess.Popen(
        [
            "java",
            "-Xms256m",
            "-Xmx1g",
            "-XX:+UseG1GC",
            "-Djava.awt.headless=true",
            f"-Dlog4j.configuration=file:{data / 'log4j.properties'}",
            f"-Dkafka.logs.dir={data}",
            "-cp",
            classpath,
            "kafka.Kafka",
            str(props),
        ],
        stdout=out,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
    )
    out.close()
    (data / "broker.pid").write_text(str(process.pid))
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise LocalKafkaError(
                f"the Kafka broker exited at start (status {process.returncode}):"
                f" see {data / 'broker.log'}.",
                _tail(data),
            )
        if _listening(port) and _ready(bootstrap):
            return bootstrap
        time.sleep(0.5)
    raise LocalKafkaError(
        f"the Kafka broker did not answer on {bootstrap} within {timeout:.0f} s:"
        f" see {data / 'broker.log'}.",
        _tail(data),
    )


def _ready(bootstrap: str) -> bool:
    """True once the broker answers a metadata request (the controller has elected itself)."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        from kafka.admin import KafkaAdminClient
        from kafka.errors import KafkaError
    try:
        client = KafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=3000)
    except (KafkaError, OSError):
        return False
    try:
        client.list_topics()
        return True
    except (KafkaError, OSError):
        return False
    finally:
        client.close()


def _tail(data: Path, lines: int = 30) -> str:
    for name in ("broker.log", "stdout.log"):
        path = data / name
        if path.exists():
            return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    return ""


def stop(port: int = 9092, data_dir: Path | None = None, timeout: float = 30.0) -> bool:
    """Stop the broker started here (SIGTERM, then SIGKILL); True if one was stopped."""
    pid_file = _data_dir(port, data_dir) / "broker.pid"
    if not pid_file.exists():
        return False
    pid = int(pid_file.read_text().strip() or 0)
    pid_file.unlink()
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return False
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.2)
    os.kill(pid, signal.SIGKILL)
    return True


def wipe(port: int = 9092, data_dir: Path | None = None) -> None:
    """Stop the broker and delete its data folder."""
    stop(port, data_dir)
    shutil.rmtree(_data_dir(port, data_dir), ignore_errors=True)
