"""Simulated ONVIF cameras: a synthetic street scene (`scene.py`) behind a SOAP endpoint (`onvif_server.py`)."""

from simulators.camera.onvif_server import CameraFleet, CameraSim
from simulators.camera.scene import Incident, Scene

__all__ = ["CameraFleet", "CameraSim", "Incident", "Scene"]
