"""civicgrid: IoT device gateway and streaming telemetry for digital city management.

The top-level package holds what every service shares: the pure rules in
`civicgrid.domain`, database access in `civicgrid.store`, Kafka records in
`civicgrid.bus`, MQTT broker accounts in `civicgrid.broker`, one `Settings`
object, the `civicgrid` command and the local service stack.
"""

__version__ = "0.1.0"
