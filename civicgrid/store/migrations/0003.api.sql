-- The API's tables: responsibility table, media, API keys, device commands, live feed, cached case facts.
-- depends: 0002.case-record

-- 责任分解表: category (+ optional cell-code prefix) → department. The most specific rule wins:
-- longest grid prefix first, then an exact category over its major (C01 matches C0101).
CREATE TABLE responsibility_rules (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    category_code text NOT NULL CHECK (category_code ~ '^[CE][0-9]{2}([0-9]{2})?$'),
    grid_prefix   text COLLATE "C" NOT NULL DEFAULT '' CHECK (grid_prefix ~ '^[0-9]{0,15}$'),
    department_id text NOT NULL REFERENCES departments (id),
    note          text,
    created_at    timestamptz NOT NULL DEFAULT now(),
    UNIQUE (category_code, grid_prefix)
);

-- Uploaded photos and voice notes, stored under their SHA-256 (the id).
CREATE TABLE media (
    id           text PRIMARY KEY CHECK (id ~ '^[0-9a-f]{64}$'),
    content_type text NOT NULL,
    size_bytes   bigint NOT NULL,
    uploaded_by  bigint REFERENCES users (id),
    created_at   timestamptz NOT NULL DEFAULT now()
);

-- Long-lived keys for integrations (Open311 clients' api_key); only a SHA-256 of the key is kept.
CREATE TABLE api_keys (
    key_hash   text PRIMARY KEY,
    user_id    bigint NOT NULL REFERENCES users (id),
    name       text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    revoked_at timestamptz
);

-- Downlink commands sent through the API and their fate from cg.command-acks.
CREATE TABLE device_commands (
    command_id uuid PRIMARY KEY,
    device_id  text NOT NULL REFERENCES devices (id),
    name       text NOT NULL,
    args       jsonb NOT NULL DEFAULT '{}',
    issued_by  text,
    issued_at  timestamptz NOT NULL,
    timeout_s  double precision NOT NULL,
    status     text NOT NULL DEFAULT 'queued' CHECK (status IN ('queued', 'sent', 'acked', 'failed', 'timed_out')),
    detail     text NOT NULL DEFAULT '',
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX device_commands_device ON device_commands (device_id, issued_at DESC);

-- Where each API process's cg.command-acks reader stopped (partition → next offset).
CREATE TABLE kafka_positions (
    consumer  text NOT NULL,
    topic     text NOT NULL,
    partition integer NOT NULL,
    next_offset bigint NOT NULL,
    PRIMARY KEY (consumer, topic, partition)
);

-- The live feed (SSE): one row per alarm and case event, written by triggers so that every
-- writer (API, streams) feeds it. Readers page by (xid, id) and only read rows whose
-- transaction is older than every transaction still running (pg_snapshot_xmin): a row
-- committed late with a lower id can then never be skipped.
CREATE TABLE feed_events (
    id             bigint GENERATED ALWAYS AS IDENTITY,
    xid            xid8 NOT NULL DEFAULT pg_current_xact_id(),
    kind           text NOT NULL CHECK (kind IN ('alarm', 'case_event')),
    at             timestamptz NOT NULL,
    case_id        uuid,
    department_id  text,
    grid_cell_code text COLLATE "C",
    payload        jsonb NOT NULL,
    created_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (xid, id)
);
CREATE INDEX feed_events_created ON feed_events (created_at);

CREATE FUNCTION feed_case_event() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO feed_events (kind, at, case_id, department_id, grid_cell_code, payload)
    SELECT 'case_event', NEW.time, NEW.case_id,
           coalesce(NEW.payload ->> 'department', c.department_id), coalesce(NEW.payload ->> 'cell', c.grid_cell_code),
           NEW.payload
    FROM (SELECT 1) one LEFT JOIN cases c ON c.id = NEW.case_id;
    RETURN NULL;
END $$;
CREATE TRIGGER case_events_feed AFTER INSERT ON case_events FOR EACH ROW EXECUTE FUNCTION feed_case_event();

CREATE FUNCTION feed_alarm() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO feed_events (kind, at, department_id, grid_cell_code, payload)
    SELECT 'alarm', NEW.time, comp.department_id, coalesce(NEW.grid_cell_code, d.grid_cell_code),
           jsonb_build_object('alarm_id', NEW.alarm_id, 'device_id', NEW.device_id, 'rule', NEW.rule,
                              'action', NEW.action, 'category', NEW.category_code, 'urgency', NEW.urgency,
                              'cell', coalesce(NEW.grid_cell_code, d.grid_cell_code), 'at', NEW.time,
                              'data', NEW.payload)
    FROM (SELECT 1) one
    LEFT JOIN devices d ON d.id = NEW.device_id
    LEFT JOIN components comp ON comp.code = d.component_code;
    RETURN NULL;
END $$;
CREATE TRIGGER alarms_feed AFTER INSERT ON alarms FOR EACH ROW EXECUTE FUNCTION feed_alarm();

-- CJ/T 292 facts per case (civicgrid.domain.case_facts), recomputed when the case's version moves on.
CREATE TABLE case_facts_cache (
    case_id     uuid PRIMARY KEY REFERENCES cases (id),
    version     integer NOT NULL,
    reported_at timestamptz NOT NULL,
    facts       jsonb NOT NULL
);
CREATE INDEX case_facts_cache_reported ON case_facts_cache (reported_at);

-- Cursor pagination of the case list (newest first).
CREATE INDEX cases_reported_id ON cases (reported_at DESC, id DESC);
CREATE INDEX cases_category_reported ON cases (category_code, reported_at DESC);

-- Device status: the latest reading of one device.
CREATE INDEX telemetry_device_time ON telemetry (device_id, time DESC);
