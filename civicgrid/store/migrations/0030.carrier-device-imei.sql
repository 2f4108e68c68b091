-- A OneNET NB-IoT device is addressed by its module's IMEI in the platform's command API (/nbiot/execute),
-- while its pushes name it by dev_id: the binding keeps both (docs/carriers.md, "Commands").
-- depends: 0029.gb28181-channels

ALTER TABLE carrier_devices ADD COLUMN imei text CHECK (imei ~ '^[0-9]{15}$');
