-- NB-IoT devices that report through a carrier's platform (docs/carriers.md): the platform's own device id
-- (CTWing deviceId, OneNET dev_id) → our device. One carrier id names one device; a device may be known to
-- several platforms (a SIM moved between carriers keeps its history under our id).
-- depends: 0021.rule-pack-audit

CREATE TABLE carrier_devices (
    platform          text NOT NULL CHECK (platform IN ('ctwing', 'onenet')),
    carrier_device_id text NOT NULL CHECK (length(carrier_device_id) BETWEEN 1 AND 128),
    device_id         text NOT NULL REFERENCES devices (id) ON DELETE CASCADE,
    created_at        timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (platform, carrier_device_id)
);
CREATE INDEX carrier_devices_device ON carrier_devices (device_id);
