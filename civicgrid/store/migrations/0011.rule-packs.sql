-- A city's rules by version (docs/rules.md): every load of a rule pack that differs from the latest is a new
-- version, kept for good, so a case judged by the rules it was filed under can always find them.
-- depends: 0010.telemetry-one-device-index
CREATE TABLE rule_packs (
    version   integer PRIMARY KEY CHECK (version > 0),
    digest    text NOT NULL,              -- SHA-256 of the content as canonical JSON
    content   jsonb NOT NULL,             -- every table of the pack: {catalogue, time_limits, working_calendar, ...}
    source    text NOT NULL,              -- the directory it was loaded from, 'admin API', 'shipped defaults'
    loaded_by text NOT NULL,
    loaded_at timestamptz NOT NULL DEFAULT now()
);
-- The version a case was filed under; its deadlines and light keep using it. NULL only for cases filed before
-- versions existed, until the first process stores version 1 (the shipped defaults they were judged by).
ALTER TABLE cases ADD COLUMN rules_version integer REFERENCES rule_packs (version);
