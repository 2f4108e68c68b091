"""ONVIF cameras: the client (onvif_client), frame analysis (analysis) and the poller (``civicgrid cameras``)."""
