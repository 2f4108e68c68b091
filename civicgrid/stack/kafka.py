"""The stack's Apache Kafka: one KRaft node (broker and controller in one JVM) with its log under ``<var>/kafka``.

`make setup` fetches Kafka's jars from Maven Central into ``stack.kafka_libs``
(deploy/kafka/pom.xml pins the version); this module runs ``kafka.Kafka`` from
them with a generated ``server.properties``.  The log directory is formatted
once, on the first start, with a random cluster id; every later start finds
its records, consumer offsets and the alarm state changelog again.

Choices for one small machine (docs/stack.md says why each):
- heap fixed at ``stack.kafka_heap_mb`` (1 GiB): Kafka keeps little on the
  heap and relies on the page cache;
- ``group.initial.rebalance.delay.ms=0``: a lone worker's first join does not
  wait 3 s for others;
- internal topics with one replica and few partitions (``__consumer_offsets``
  would have 50 otherwise, each a file set to open at every start);
- 64 MiB segments, so time and size retention can drop old segments of a
  slow topic within hours rather than after a 1 GiB segment fills;
- ``auto.create.topics.enable=false``: a topic made by a first produce would
  get the broker default partition count (civicgrid/bus/topics.py);
- ``metadata.max.idle.interval.ms=5000`` (Kafka's default 500): the controller appends a no-op record to the
  metadata log that often so that other nodes see it alive; with one node it only costs, and at the default it
  was a third of the idle broker's CPU (35 → 23 ms a second, docs/performance.md "The ninth round");
- a second listener on ``stack.kafka_tls_port`` serves TLS with the stack CA's
  server certificate (civicgrid/stack/tls.py), so clients configured for a city's
  TLS cluster (civicgrid/bus/clients.py) are tried against a real broker.
"""

from __future__ import annotations

import base64
import shlex
import shutil
import signal
import subprocess
import uuid
from pathlib import Path

from civicgrid.broker.mosquitto_files import write_private
from civicgrid.bus.admin import broker_answers, ensure_topics
from civicgrid.bus.topics import topic_specs
from civicgrid.settings import Settings
from civicgrid.stack.process import ManagedProcess, StackError, require_free_ports, tail
from civicgrid.stack.tls import local_tls

MAIN_CLASS = "kafka.Kafka"
STORAGE_TOOL = "kafka.tools.StorageTool"

# Kafka 4 logs through log4j 2; one console appender into the stack's log file, Kafka's own chatter at WARN.
LOG4J2 = """\
status = warn
appender.out.type = Console
appender.out.name = out
appender.out.layout.type = PatternLayout
appender.out.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.out.ref = out
logger.kafka.name = kafka
logger.kafka.level = WARN
logger.apache.name = org.apache.kafka
logger.apache.level = WARN
logger.state.name = state.change.logger
logger.state.level = WARN
logger.started.name = kafka.server.KafkaRaftServer
logger.started.level = INFO
"""


def cluster_id() -> str:
    """A KRaft cluster id: 16 random bytes in URL-safe base64, unpadded (as `kafka-storage random-uuid` prints),
    never starting with "-": `kafka-storage format --cluster-id -…` takes it for an option and fails (seen: one
    benchmark stack in a few dozen). Kafka's own `Uuid.randomUuid()` draws again in that case too."""
    while True:
        encoded = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not encoded.startswith("-"):
            return encoded


class KafkaService:
    name = "kafka"

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        var = settings.stack.var_dir.resolve()
        self.dir = var / "kafka"
        self.data_dir = self.dir / "data"
        self.bootstrap = settings.kafka.bootstrap_servers
        host, _, port = self.bootstrap.split(",")[0].rpartition(":")
        self.host, self.port = host or "127.0.0.1", int(port)
        self.controller_port = settings.stack.kafka_controller_port
        self.tls_port = settings.stack.kafka_tls_port
        self.process = ManagedProcess(self.name, var / "run", var / "log" / "kafka.log")

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    # -- lifecycle ---------------------------------------------------------
    def start(self) -> None:
        java, classpath = self._java(), self._classpath()
        require_free_ports(self.host, [(self.port, "CIVICGRID_KAFKA__BOOTSTRAP_SERVERS"),
                                       (self.controller_port, "CIVICGRID_STACK__KAFKA_CONTROLLER_PORT"),
                                       (self.tls_port, "CIVICGRID_STACK__KAFKA_TLS_PORT")])
        self.dir.mkdir(parents=True, exist_ok=True)
        self._write_keystore()
        (self.dir / "log4j2.properties").write_text(LOG4J2)
        (self.dir / "server.properties").write_text(self.server_properties())
        if not (self.data_dir / "meta.properties").exists():
            self._format(java, classpath)
        stack = self.settings.stack
        self.process.start(
            [java, f"-Xms{stack.kafka_heap_mb}m", f"-Xmx{stack.kafka_heap_mb}m", *shlex.split(stack.kafka_jvm_options),
             "-XX:+ExitOnOutOfMemoryError", "-Djava.awt.headless=true", *self._log_options(),
             "-cp", classpath, MAIN_CLASS, str(self.dir / "server.properties")],
            cwd=self.dir,
        )
        self.process.wait_ready(self.answers, self.settings.stack.start_timeout_s, "a Kafka metadata request")
        kafka = self.settings.kafka
        ensure_topics(self.bootstrap, topic_specs(kafka))

    def stop(self) -> bool:
        # SIGTERM is Kafka's controlled shutdown: it closes its logs cleanly, so the next start skips recovery.
        return self.process.stop(signal.SIGTERM, timeout_s=30)

    def answers(self) -> bool:
        return broker_answers(self.bootstrap, timeout_s=1.0)

    def health(self) -> str:
        return "ok" if broker_answers(self.bootstrap, timeout_s=2.0) else "no metadata answer"

    # -- configuration -------------------------------------------------------
    def server_properties(self) -> str:
        kafka, stack = self.settings.kafka, self.settings.stack
        internal_partitions = max(1, kafka.partitions)
        props = {
            "process.roles": "broker,controller",
            "node.id": "1",
            "controller.quorum.voters": f"1@{self.host}:{self.controller_port}",
            "listeners": f"PLAINTEXT://{self.host}:{self.port},SSL://{self.host}:{self.tls_port},"
                         f"CONTROLLER://{self.host}:{self.controller_port}",
            "advertised.listeners": f"PLAINTEXT://{self.host}:{self.port},SSL://{self.host}:{self.tls_port}",
            "controller.listener.names": "CONTROLLER",
            "inter.broker.listener.name": "PLAINTEXT",
            "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,SSL:SSL,CONTROLLER:PLAINTEXT",
            # The TLS listener: the stack CA's server certificate as a PEM key store (key, then certificate).
            "ssl.keystore.type": "PEM",
            "ssl.keystore.location": str(self.keystore),
            "log.dirs": str(self.data_dir),
            "num.partitions": str(kafka.partitions),
            "default.replication.factor": "1",
            "auto.create.topics.enable": "false",
            "offsets.topic.replication.factor": "1",
            "offsets.topic.num.partitions": str(internal_partitions),
            "transaction.state.log.replication.factor": "1",
            "transaction.state.log.min.isr": "1",
            "transaction.state.log.num.partitions": str(internal_partitions),
            "share.coordinator.state.topic.replication.factor": "1",
            "share.coordinator.state.topic.min.isr": "1",
            "group.initial.rebalance.delay.ms": "0",
            "log.segment.bytes": str(stack.kafka_segment_mb * 1024 * 1024),
            "log.retention.check.interval.ms": "60000",
            "num.network.threads": "2",
            "num.io.threads": "4",
            "num.recovery.threads.per.data.dir": "2",
            "metadata.max.idle.interval.ms": "5000",
        }
        lines = ["# Generated by civicgrid stack at every start; edits are overwritten."]
        lines += [f"{key}={value}" for key, value in props.items()]
        return "\n".join(lines) + "\n"

    @property
    def keystore(self) -> Path:
        return self.dir / "server-keystore.pem"

    def _write_keystore(self) -> None:
        tls = local_tls(self.settings.stack.var_dir.resolve() / "tls", self.host)
        write_private(self.keystore, tls.server_key.read_bytes() + tls.server_cert.read_bytes(), 0o600,
                      for_broker=False)

    def _log_options(self) -> list[str]:
        return [f"-Dlog4j2.configurationFile={self.dir / 'log4j2.properties'}",
                f"-Dkafka.logs.dir={self.dir / 'logs'}"]

    def _java(self) -> str:
        java = shutil.which(str(self.settings.stack.java_bin))
        if java is None:
            raise StackError(f"Java ({self.settings.stack.java_bin}) is not installed: run `make setup`")
        return java

    def _classpath(self) -> str:
        libs = self.settings.stack.kafka_libs
        if not any(libs.glob("kafka_2.13-*.jar")):
            raise StackError(f"Apache Kafka's jars are not in {libs}: run `make setup` "
                             "(or set CIVICGRID_STACK__KAFKA_LIBS)")
        return f"{libs.resolve()}/*"

    def _format(self, java: str, classpath: str) -> None:
        """Format the log directory once: a new cluster id and the KRaft metadata log's first checkpoint."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        argv = [java, "-Xmx256m", *self._log_options(), "-cp", classpath, STORAGE_TOOL, "format",
                "--cluster-id", cluster_id(), "--config", str(self.dir / "server.properties"), "--ignore-formatted"]
        log = self.process.log_path
        log.parent.mkdir(parents=True, exist_ok=True)
        with log.open("ab") as out:
            out.write(b"\n--- civicgrid: formatting the Kafka log directory\n")
            out.flush()
            done = subprocess.run(argv, cwd=self.dir, stdout=out, stderr=subprocess.STDOUT, check=False, timeout=120)
        if done.returncode != 0:
            raise StackError(f"formatting {self.data_dir} failed (exit {done.returncode}).\n"
                             f"Last lines of {log}:\n{tail(Path(log))}")
