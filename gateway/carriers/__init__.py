"""NB-IoT devices through the carriers' IoT platforms (CTWing/AEP, OneNET): HTTP push in (docs/carriers.md)."""
