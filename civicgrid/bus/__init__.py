"""Kafka: topic names, record schemas and (de)serialisers shared by every service."""
