"""The local service stack (Mosquitto, Apache Kafka, PostgreSQL+TimescaleDB) as child processes under ``var/``."""

from civicgrid.stack.local import LocalStack, ServiceStatus
from civicgrid.stack.process import StackError

__all__ = ["LocalStack", "ServiceStatus", "StackError"]
