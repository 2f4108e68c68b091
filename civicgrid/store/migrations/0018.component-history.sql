-- Base data kept current (docs/basedata.md): every change of a component — added, edited, moved, retired, imported,
-- or its state following a case — kept with who, when, why and the fields before and after.
-- A retired component keeps its row (devices, cases and their history name it); it leaves the exports and
-- the lists of current components. `state_case_id`: the case whose report set the current state, so only that
-- case's close (or cancellation) sets it back.
-- depends: 0015.duplicates-and-feedback

ALTER TABLE components ADD COLUMN retired_at timestamptz;
ALTER TABLE components ADD COLUMN state_case_id uuid;

CREATE TABLE component_history (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    component_code text COLLATE "C" NOT NULL REFERENCES components (code),
    at             timestamptz NOT NULL,
    actor          text NOT NULL,
    action         text NOT NULL CHECK (action IN ('add', 'edit', 'move', 'retire', 'import', 'case')),
    reason         text,
    before         jsonb,
    after          jsonb NOT NULL,
    case_id        uuid,
    case_seq       integer,
    -- A case event read twice from Kafka changes the component once.
    UNIQUE (component_code, case_id, case_seq)
);
CREATE INDEX component_history_component ON component_history (component_code, at DESC, id DESC);
