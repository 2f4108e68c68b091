-- Centres on levels (一级监督、两级指挥、三级管理; civicgrid/domain/centres.py, docs/centres.md): a city centre
-- over district (and street) centres, each covering the cells whose code starts with its prefix. A case is
-- handled by one centre (`cases.centre_id`, NULL: the top) until it is escalated or transferred; users and
-- departments belong to a centre (NULL: the top, the whole city, as in a one-centre town). The live feed
-- carries the centre of each event so that a district's streams see only their own.
-- depends: 0008.alarm-acks
CREATE TABLE centres (
    id          text PRIMARY KEY,
    name        text NOT NULL,
    name_en     text,
    level       text NOT NULL CHECK (level IN ('city', 'district', 'street')),
    cell_prefix text COLLATE "C" NOT NULL UNIQUE CHECK (cell_prefix ~ '^[0-9]{0,12}$'),
    parent_id   text REFERENCES centres (id),
    created_at  timestamptz NOT NULL DEFAULT now()
);

ALTER TABLE users ADD COLUMN centre_id text REFERENCES centres (id);
ALTER TABLE departments ADD COLUMN centre_id text REFERENCES centres (id);
ALTER TABLE cases ADD COLUMN centre_id text REFERENCES centres (id);
CREATE INDEX cases_centre_reported ON cases (centre_id, reported_at DESC) WHERE centre_id IS NOT NULL;
ALTER TABLE feed_events ADD COLUMN centre_id text;

-- The deepest centre covering a cell (CentreTree.owner_of), for rows that do not carry one (alarms).
CREATE FUNCTION centre_of_cell(cell text) RETURNS text LANGUAGE sql STABLE AS $$
    SELECT id FROM centres WHERE cell LIKE cell_prefix || '%' ORDER BY length(cell_prefix) DESC LIMIT 1
$$;

CREATE OR REPLACE FUNCTION feed_case_event() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO feed_events (kind, at, case_id, department_id, grid_cell_code, centre_id, payload)
    SELECT 'case_event', NEW.time, NEW.case_id,
           coalesce(NEW.payload ->> 'department', c.department_id), coalesce(NEW.payload ->> 'cell', c.grid_cell_code),
           c.centre_id, NEW.payload
    FROM (SELECT 1) one LEFT JOIN cases c ON c.id = NEW.case_id;
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION feed_alarm() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO feed_events (kind, at, department_id, grid_cell_code, centre_id, payload)
    SELECT 'alarm', NEW.time, comp.department_id, coalesce(NEW.grid_cell_code, d.grid_cell_code),
           centre_of_cell(coalesce(NEW.grid_cell_code, d.grid_cell_code)),
           jsonb_build_object('alarm_id', NEW.alarm_id, 'device_id', NEW.device_id, 'rule', NEW.rule,
                              'action', NEW.action, 'category', NEW.category_code, 'urgency', NEW.urgency,
                              'cell', coalesce(NEW.grid_cell_code, d.grid_cell_code), 'at', NEW.time,
                              'data', NEW.payload)
    FROM (SELECT 1) one
    LEFT JOIN devices d ON d.id = NEW.device_id
    LEFT JOIN components comp ON comp.code = d.component_code;
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION feed_alarm_ack() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO feed_events (kind, at, department_id, grid_cell_code, centre_id, payload)
    SELECT 'alarm_ack', NEW.acked_at, comp.department_id, coalesce(a.grid_cell_code, d.grid_cell_code),
           centre_of_cell(coalesce(a.grid_cell_code, d.grid_cell_code)),
           jsonb_build_object('alarm_id', NEW.alarm_id, 'acked_by', u.username, 'at', NEW.acked_at,
                              'note', NEW.note)
    FROM (SELECT 1) one
    LEFT JOIN LATERAL (SELECT device_id, grid_cell_code FROM alarms
                       WHERE alarm_id = NEW.alarm_id AND action = 'raise' ORDER BY time LIMIT 1) a ON TRUE
    LEFT JOIN devices d ON d.id = a.device_id
    LEFT JOIN components comp ON comp.code = d.component_code
    LEFT JOIN users u ON u.id = NEW.acked_by;
    RETURN NULL;
END $$;
