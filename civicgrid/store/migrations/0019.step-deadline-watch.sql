-- The deadline watch for every step (docs/streams.md, civicgrid/cases/deadlines.py): the running clock of each step
-- of each open case — accept, verify, file, dispatch, dispose, check, close — with the moment it is 80 % used and
-- its deadline, and whether its warning (预警) and overdue event (超期) were recorded. A clock is one step instance:
-- (case, step, started_at); a step restarted by a rework or a return starts a new one. The marks are set in the
-- transaction that records the event, so each is recorded once, whichever worker and however often restarted.
-- depends: 0015.duplicates-and-feedback
CREATE TABLE case_step_clocks (
    case_id     uuid NOT NULL REFERENCES cases (id),
    step        text NOT NULL CHECK (step IN ('accept', 'verify', 'file', 'dispatch', 'dispose', 'check', 'close')),
    started_at  timestamptz NOT NULL,
    warn_at     timestamptz NOT NULL,
    deadline_at timestamptz NOT NULL,
    warned_at   timestamptz,          -- platform time the warning was recorded (NULL: not yet)
    overdue_at  timestamptz,          -- platform time the overdue event was recorded (NULL: not yet)
    PRIMARY KEY (case_id, step, started_at)
);
CREATE INDEX case_step_clocks_warn ON case_step_clocks (warn_at) WHERE warned_at IS NULL;
CREATE INDEX case_step_clocks_due ON case_step_clocks (deadline_at) WHERE overdue_at IS NULL;

-- The case version the watch last read each case's clocks at: a case whose version moved is read again.
CREATE TABLE case_step_watch (
    case_id        uuid PRIMARY KEY REFERENCES cases (id),
    synced_version integer NOT NULL
);

-- Scoring now judges each case by the rules version it was filed under (docs/rules.md); facts cached before were
-- judged by the current version's limits, so they are computed again.
TRUNCATE case_facts_cache;
