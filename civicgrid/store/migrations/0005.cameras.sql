-- Cameras (ONVIF): registry entries beside the device row, regions of interest, health, detections.
-- depends: 0003.api

-- A camera is a device of kind 'camera' (its component and grid cell links live on `devices`);
-- this row adds how to reach it. The ONVIF password is never stored: `password_ref` names
-- where the gateway reads it (env:VAR, file:PATH, or secrets:KEY in cameras.secrets_file).
CREATE TABLE cameras (
    device_id           text PRIMARY KEY REFERENCES devices (id) ON DELETE CASCADE,
    name                text NOT NULL,
    onvif_url           text NOT NULL CHECK (onvif_url ~ '^https?://[^/@]+(:[0-9]+)?/?$'),
    username            text NOT NULL,
    password_ref        text NOT NULL CHECK (password_ref ~ '^(env|file|secrets):.+$'),
    lon                 double precision,
    lat                 double precision,
    image_width         integer CHECK (image_width > 0),
    image_height        integer CHECK (image_height > 0),
    snapshot_interval_s double precision CHECK (snapshot_interval_s > 0),
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now()
);

-- Regions of interest: a polygon in image pixels, the event code it watches for, and how long
-- something must stay in it before it is an event.
CREATE TABLE camera_rois (
    device_id  text NOT NULL REFERENCES cameras (device_id) ON DELETE CASCADE,
    id         text NOT NULL CHECK (id ~ '^[A-Za-z0-9_.-]{1,64}$'),
    position   integer NOT NULL DEFAULT 0,
    name       text NOT NULL,
    event_code text NOT NULL CHECK (event_code ~ '^[CE][0-9]{4}$'),
    polygon    jsonb NOT NULL,
    dwell_s    double precision NOT NULL CHECK (dwell_s >= 0),
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (device_id, id)
);

-- Health as the gateway's poller reports it on cg.status, and the latest snapshot (overwritten;
-- snapshots that are evidence are kept as media).
CREATE TABLE camera_status (
    device_id          text PRIMARY KEY REFERENCES devices (id) ON DELETE CASCADE,
    reachable          boolean NOT NULL DEFAULT false,
    last_snapshot_at   timestamptz,
    last_event_at      timestamptz,
    last_error         text,
    detail             jsonb NOT NULL DEFAULT '{}',
    latest_snapshot    bytea,
    latest_snapshot_at timestamptz,
    updated_at         timestamptz NOT NULL DEFAULT now()
);

-- Detection history (one row per camera event on cg.events), idempotent like the other sinks.
CREATE TABLE camera_detections (
    time        timestamptz NOT NULL,
    device_id   text NOT NULL,
    seq         bigint NOT NULL,
    kind        text NOT NULL CHECK (kind IN ('occupancy', 'tamper_covered', 'tamper_defocus', 'tamper_moved',
                                              'motion', 'qr')),
    cleared     boolean NOT NULL DEFAULT false,
    roi_id      text,
    event_code  text,
    snapshot_id text,
    payload     jsonb NOT NULL DEFAULT '{}',
    UNIQUE (device_id, seq, time)
);
DO $$ BEGIN PERFORM create_hypertable('camera_detections', 'time', chunk_time_interval => INTERVAL '7 days'); END $$;
CREATE INDEX camera_detections_device_time ON camera_detections (device_id, time DESC);
