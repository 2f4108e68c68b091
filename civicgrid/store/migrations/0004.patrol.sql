-- Patrol coverage (issue 8): the street network as road segments, standing patrol plans,
-- rejected track fixes, and the rollups the patrol consumer keeps as points arrive.
-- depends: 0003.api

-- Segments of the city's streets (civicgrid.domain.patrol.network.split_streets): a street is cut at
-- its intersections with other streets, short end pieces merged, long pieces cut into equal parts.
CREATE TABLE road_segments (
    id                     text PRIMARY KEY,
    street_id              text,
    name                   text,
    road_class             text NOT NULL CHECK (road_class IN ('main', 'secondary', 'alley')),
    geometry               jsonb NOT NULL,              -- GeoJSON LineString, WGS 84
    length_m               double precision NOT NULL CHECK (length_m > 0),
    responsibility_grid_id text NULL REFERENCES responsibility_grids (id),
    street_seq             integer NOT NULL DEFAULT 0,  -- order of the piece along its street
    updated_at             timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX road_segments_grid ON road_segments (responsibility_grid_id, road_class);

-- A plan per inspector and validity period; `civicgrid city load` seeds one valid from 2000-01-01.
CREATE UNIQUE INDEX patrol_plans_inspector_from ON patrol_plans (inspector_user_id, valid_from);

ALTER TABLE patrol_coverage ADD COLUMN responsibility_grid_id text;
ALTER TABLE patrol_coverage ADD COLUMN device_id text;
ALTER TABLE patrol_coverage ADD COLUMN by_class jsonb NOT NULL DEFAULT '{}';

-- Fixes the cleaning refused, with the reason (no_fix, poor_precision, duplicate, out_of_order, jump):
-- nothing vanishes silently.
CREATE TABLE track_rejects (
    time      timestamptz NOT NULL,
    device_id text NOT NULL,
    seq       bigint NOT NULL,
    reason    text NOT NULL,
    lon       double precision,
    lat       double precision,
    hdop      real,
    UNIQUE (device_id, seq, time)
);
DO $$ BEGIN PERFORM create_hypertable('track_rejects', 'time', chunk_time_interval => INTERVAL '7 days'); END $$;

-- Track playback reads a device's points by time.
CREATE INDEX track_points_device_time ON track_points (device_id, time DESC);

-- Entries of tracks into cells per day and device (the heat map); kept by the patrol consumer.
CREATE TABLE patrol_cell_visits (
    day               date NOT NULL,
    grid_cell_code    text COLLATE "C" NOT NULL,
    device_id         text NOT NULL,
    inspector_user_id bigint,
    visits            integer NOT NULL DEFAULT 0,
    PRIMARY KEY (day, grid_cell_code, device_id)
);

-- The consumer's per-device state (last clean fix, open traversal, anomaly episodes, today's tallies),
-- written in the same transaction as the points, so a restarted worker continues exactly.
CREATE TABLE patrol_device_state (
    device_id  text PRIMARY KEY,
    state      jsonb NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);
