-- civicgrid initial schema: DESIGN.md "Storage".
-- Codes are stored with COLLATE "C" so a btree index answers prefix roll-ups
-- (a 9-digit street or 12-digit community prefix selects all its cells).

CREATE EXTENSION IF NOT EXISTS timescaledb;

-- What the TimescaleDB build offers (written by civicgrid.store.migrate.record_features).
CREATE TABLE platform_features (
    name        text PRIMARY KEY,
    value       text NOT NULL,
    detected_at timestamptz NOT NULL DEFAULT now()
);

-- ---------------------------------------------------------------- organisation
CREATE TABLE departments (
    id         text PRIMARY KEY,
    name       text NOT NULL,
    name_en    text,
    parent_id  text REFERENCES departments (id),
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE responsibility_grids (
    id         text PRIMARY KEY,
    name       text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE grid_cells (
    code                   text COLLATE "C" PRIMARY KEY CHECK (code ~ '^[0-9]{14,15}$'),
    responsibility_grid_id text REFERENCES responsibility_grids (id),
    name                   text,
    geometry               jsonb NOT NULL,              -- GeoJSON Polygon/MultiPolygon, WGS 84
    area_m2                double precision NOT NULL CHECK (area_m2 > 0),
    created_at             timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX grid_cells_responsibility_grid ON grid_cells (responsibility_grid_id);

CREATE TABLE users (
    id                     bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    username               text NOT NULL UNIQUE,
    display_name           text,
    password_hash          text NOT NULL,
    role                   text NOT NULL CHECK (role IN ('operator', 'dispatcher', 'department', 'inspector',
                                                         'shift_leader', 'leader', 'admin')),
    department_id          text REFERENCES departments (id),
    responsibility_grid_id text REFERENCES responsibility_grids (id),
    enabled                boolean NOT NULL DEFAULT true,
    created_at             timestamptz NOT NULL DEFAULT now()
);

-- ---------------------------------------------------------------- components and devices
CREATE TABLE components (
    code           text COLLATE "C" PRIMARY KEY CHECK (code ~ '^[0-9]{16}$'),
    category_code  text NOT NULL CHECK (category_code ~ '^C[0-9]{4}$'),
    name           text,
    department_id  text REFERENCES departments (id),   -- 主管部门 supervising department
    owner          text,                               -- 权属单位
    maintainer     text,                               -- 养护单位
    grid_cell_code text COLLATE "C" REFERENCES grid_cells (code),
    state          text NOT NULL DEFAULT 'intact' CHECK (state IN ('intact', 'damaged', 'missing', 'occupied')),
    lon            double precision,
    lat            double precision,
    data_source    text,
    recorded_on    date,
    changed_at     timestamptz,
    attributes     jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX components_grid_cell ON components (grid_cell_code);

CREATE TABLE devices (
    id                text PRIMARY KEY CHECK (id ~ '^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$'),
    kind              text NOT NULL,
    profile           text NOT NULL,
    -- Mosquitto-format PBKDF2-SHA512 hash ($7$...): the broker files are generated
    -- from it, and the secret itself is never stored.
    secret_hash       text NOT NULL,
    enabled           boolean NOT NULL DEFAULT true,
    component_code    text COLLATE "C" REFERENCES components (code),
    grid_cell_code    text COLLATE "C" REFERENCES grid_cells (code),
    inspector_user_id bigint REFERENCES users (id),
    attributes        jsonb NOT NULL DEFAULT '{}',
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now(),
    last_seen_at      timestamptz
);

-- ---------------------------------------------------------------- cases
CREATE TABLE cases (
    id                uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    case_no           text UNIQUE,
    source            text NOT NULL CHECK (source IN ('inspector', 'hotline', 'video', 'sensor', 'leader', 'transfer')),
    source_record_id  text UNIQUE,             -- idempotency: re-delivery never makes a second case
    state             text NOT NULL CHECK (state IN ('reported', 'verifying', 'filed', 'dispatched', 'disposing',
                                                     'disposed', 'checking', 'closed', 'suspended', 'cancelled')),
    category_code     text NOT NULL CHECK (category_code ~ '^[CE][0-9]{4}$'),
    disposal_class    text CHECK (disposal_class IN ('A', 'B', 'C', 'D', 'E', 'F')),
    component_code    text COLLATE "C" REFERENCES components (code),
    grid_cell_code    text COLLATE "C" REFERENCES grid_cells (code),
    lon               double precision,
    lat               double precision,
    address           text,
    description       text,
    department_id     text REFERENCES departments (id),
    reported_at       timestamptz NOT NULL,
    step_deadline     timestamptz,
    disposal_deadline timestamptz,
    suspended_from    text,
    rework_count      integer NOT NULL DEFAULT 0,
    return_count      integer NOT NULL DEFAULT 0,
    postpone_count    integer NOT NULL DEFAULT 0,
    close_type        text CHECK (close_type IN ('on_time', 'overdue', 'special')),
    closed_at         timestamptz,
    version           integer NOT NULL DEFAULT 0,
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX cases_state ON cases (state);
CREATE INDEX cases_grid_cell ON cases (grid_cell_code);
CREATE INDEX cases_department_state ON cases (department_id, state);
CREATE INDEX cases_reported_at ON cases (reported_at);

-- Transactional outbox: a case transition and its Kafka record commit together;
-- a relay publishes rows in id order and stamps published_at.
CREATE TABLE outbox (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    topic        text NOT NULL,
    key          text NOT NULL,
    payload      jsonb NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    published_at timestamptz
);
CREATE INDEX outbox_unpublished ON outbox (id) WHERE published_at IS NULL;

-- ---------------------------------------------------------------- patrol
CREATE TABLE patrol_plans (
    id                     bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    inspector_user_id      bigint NOT NULL REFERENCES users (id),
    responsibility_grid_id text NOT NULL REFERENCES responsibility_grids (id),
    window_start           time NOT NULL DEFAULT '07:30',
    window_end             time NOT NULL DEFAULT '18:30',
    main_road_passes       integer NOT NULL DEFAULT 5,
    secondary_road_passes  integer NOT NULL DEFAULT 4,
    valid_from             date NOT NULL DEFAULT current_date,
    valid_to               date
);

CREATE TABLE patrol_coverage (
    day                date NOT NULL,
    inspector_user_id  bigint NOT NULL REFERENCES users (id),
    segments_required  integer NOT NULL DEFAULT 0,
    segments_met       integer NOT NULL DEFAULT 0,
    cells_visited      integer NOT NULL DEFAULT 0,
    plan_met_pct       double precision NOT NULL DEFAULT 0,
    inside_grid_s      double precision NOT NULL DEFAULT 0,
    outside_grid_s     double precision NOT NULL DEFAULT 0,
    distance_m         double precision NOT NULL DEFAULT 0,
    detail             jsonb NOT NULL DEFAULT '{}',
    updated_at         timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (day, inspector_user_id)
);

-- ---------------------------------------------------------------- hypertables
-- Unique keys include the time column (a hypertable requirement) and make the
-- batched sinks idempotent: re-delivered records hit ON CONFLICT DO NOTHING.
CREATE TABLE telemetry (
    time        timestamptz NOT NULL,
    device_id   text NOT NULL,
    seq         bigint NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now(),
    payload     jsonb NOT NULL,
    UNIQUE (device_id, seq, time)
);
DO $$ BEGIN PERFORM create_hypertable('telemetry', 'time', chunk_time_interval => INTERVAL '1 day'); END $$;

CREATE TABLE track_points (
    time           timestamptz NOT NULL,
    device_id      text NOT NULL,
    seq            bigint NOT NULL,
    lon            double precision NOT NULL,
    lat            double precision NOT NULL,
    speed_mps      real,
    heading_deg    real,
    hdop           real,
    grid_cell_code text COLLATE "C",
    segment_id     text,
    UNIQUE (device_id, seq, time)
);
DO $$ BEGIN PERFORM create_hypertable('track_points', 'time', chunk_time_interval => INTERVAL '1 day'); END $$;

CREATE TABLE device_events (
    time       timestamptz NOT NULL,
    device_id  text NOT NULL,
    seq        bigint NOT NULL,
    event_type text NOT NULL,
    payload    jsonb NOT NULL,
    UNIQUE (device_id, seq, time)
);
DO $$ BEGIN PERFORM create_hypertable('device_events', 'time', chunk_time_interval => INTERVAL '7 days'); END $$;

CREATE TABLE alarms (
    time           timestamptz NOT NULL,
    alarm_id       text NOT NULL,
    device_id      text NOT NULL,
    rule           text NOT NULL,
    action         text NOT NULL CHECK (action IN ('raise', 'clear')),
    category_code  text,
    urgency        text,
    grid_cell_code text COLLATE "C",
    payload        jsonb NOT NULL DEFAULT '{}',
    UNIQUE (alarm_id, action, time)
);
DO $$ BEGIN PERFORM create_hypertable('alarms', 'time', chunk_time_interval => INTERVAL '7 days'); END $$;
CREATE INDEX alarms_device_time ON alarms (device_id, time DESC);

CREATE TABLE case_events (
    time       timestamptz NOT NULL,
    case_id    uuid NOT NULL,
    seq        integer NOT NULL,          -- the case's version after this transition
    action     text NOT NULL,
    from_state text,
    to_state   text NOT NULL,
    actor      text,
    role       text,
    note       text,
    payload    jsonb NOT NULL DEFAULT '{}',
    UNIQUE (case_id, seq, time)
);
DO $$ BEGIN PERFORM create_hypertable('case_events', 'time', chunk_time_interval => INTERVAL '30 days'); END $$;
CREATE INDEX case_events_case ON case_events (case_id, time);
