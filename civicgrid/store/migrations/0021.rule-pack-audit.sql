-- Who changed the city's rules, when, what and why (docs/rules.md, "Audit"): one row per stored rule-pack version,
-- written in the transaction that stores the version, so a version never exists without its record.
-- `tables_changed` and `summary` compare the version with the one before it; `reason` is the admin's own words
-- (NULL when the change came without one: a process started with `rules_dir`, a CLI load without --reason).
-- depends: 0011.rule-packs
CREATE TABLE rule_pack_audit (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    version          integer NOT NULL UNIQUE REFERENCES rule_packs (version),
    previous_version integer REFERENCES rule_packs (version),
    at               timestamptz NOT NULL DEFAULT now(),
    actor            text NOT NULL,
    source           text NOT NULL,
    digest           text NOT NULL,
    tables_changed   text[] NOT NULL,
    summary          text NOT NULL,
    reason           text
);
CREATE INDEX rule_pack_audit_at ON rule_pack_audit (at DESC, id DESC);
-- The versions stored before this table: their record says what is known (who, when, from where), no reason.
INSERT INTO rule_pack_audit (version, previous_version, at, actor, source, digest, tables_changed, summary)
SELECT version, lag(version) OVER (ORDER BY version), loaded_at, loaded_by, source, digest, '{}',
       'stored before the audit record existed'
FROM rule_packs;
