-- The case record as the lifecycle (civicgrid.domain) and the case builder (streams) need it.
-- depends: 0001.initial-schema

-- Source names follow civicgrid.domain.case_state.Source.
ALTER TABLE cases DROP CONSTRAINT cases_source_check;
ALTER TABLE cases ADD CONSTRAINT cases_source_check
    CHECK (source IN ('inspector', 'camera', 'hotline', 'leader', 'transfer', 'sensor'));
ALTER TABLE cases DROP CONSTRAINT cases_close_type_check;
ALTER TABLE cases ADD CONSTRAINT cases_close_type_check CHECK (close_type IN ('normal', 'overdue', 'special'));
-- The whole CaseState of the lifecycle (pending requests, extensions, suspension, flags);
-- the columns beside it are copies for queries and indexes.
ALTER TABLE cases ADD COLUMN snapshot jsonb NOT NULL DEFAULT '{}';
ALTER TABLE cases ADD COLUMN category_name text;
ALTER TABLE cases ADD COLUMN outside_grid boolean NOT NULL DEFAULT false;
ALTER TABLE cases ADD COLUMN evidence_count integer NOT NULL DEFAULT 0;
ALTER TABLE cases ADD COLUMN last_evidence_at timestamptz;
CREATE INDEX cases_open_component ON cases (component_code) WHERE state NOT IN ('closed', 'cancelled');
CREATE INDEX cases_open_category_cell ON cases (category_code, grid_cell_code, reported_at)
    WHERE state NOT IN ('closed', 'cancelled');
CREATE INDEX cases_cell_prefix ON cases (grid_cell_code text_pattern_ops);

-- Evidence: sensor readings, alarms, photos, camera snapshots, each once (idempotent on its record id).
CREATE TABLE case_evidence (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    case_id          uuid NOT NULL REFERENCES cases (id),
    source_record_id text NOT NULL UNIQUE,
    kind             text NOT NULL CHECK (kind IN ('alarm', 'report', 'camera_event', 'photo', 'voice',
                                                   'snapshot', 'reading', 'note')),
    at               timestamptz NOT NULL,
    device_id        text,
    data             jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX case_evidence_case ON case_evidence (case_id, at);

-- Deadline watch: each (case, deadline kind, deadline) is escalated once.
CREATE TABLE case_deadline_alerts (
    case_id     uuid NOT NULL REFERENCES cases (id),
    kind        text NOT NULL,
    deadline_at timestamptz NOT NULL,
    alerted_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (case_id, kind, deadline_at)
);
