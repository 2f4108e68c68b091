-- The channels a GB/T 28181 device (a camera, an NVR, a lower platform) declared in its last complete Catalog
-- response (docs/gb28181.md): one row per channel, replaced whole when a new catalog completes. Written by
-- `civicgrid gb28181-gateway` only (civicgrid/store/gb28181.py); a device removed takes its channels with it.
-- depends: 0028.password-ends-tokens

CREATE TABLE gb28181_channels (
    device_id     text NOT NULL REFERENCES devices (id) ON DELETE CASCADE,
    channel_id    text NOT NULL CHECK (length(channel_id) BETWEEN 1 AND 64),
    name          text,
    manufacturer  text,
    model         text,
    owner         text,
    civil_code    text,
    address       text,
    parent_id     text,
    parental      boolean NOT NULL DEFAULT false,
    status        text,
    lon           double precision CHECK (lon BETWEEN -180 AND 180),
    lat           double precision CHECK (lat BETWEEN -90 AND 90),
    extra         jsonb NOT NULL DEFAULT '{}',
    catalog_sn    bigint NOT NULL,
    updated_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (device_id, channel_id)
);
