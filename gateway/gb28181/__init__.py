"""GB/T 28181 video devices (cameras, NVRs) as a SIP server: ``civicgrid gb28181-gateway`` (docs/gb28181.md)."""
