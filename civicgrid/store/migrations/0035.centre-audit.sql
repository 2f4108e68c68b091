-- Who added, changed or removed a centre, when, what before → after and why (docs/centres.md, "Audit"), in the
-- style of the rules' record (rule_pack_audit): one row per change, written in the transaction that makes it, by
-- civicgrid/store/centres.py. No foreign key to `centres`: a removed centre's records stay. `before` and `after`
-- are the centre's fields (NULL before it was added, after it was removed); `reason` is the admin's own words.
-- depends: 0027.centres
CREATE TABLE centre_audit (
    id        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    centre_id text NOT NULL,
    at        timestamptz NOT NULL DEFAULT now(),
    actor     text NOT NULL,
    change    text NOT NULL CHECK (change IN ('added', 'changed', 'removed')),
    before    jsonb,
    after     jsonb,
    summary   text NOT NULL,
    reason    text
);
CREATE INDEX centre_audit_at ON centre_audit (at DESC, id DESC);
CREATE INDEX centre_audit_centre ON centre_audit (centre_id, at DESC, id DESC);
-- The centres stored before this table: a record of what is known (the centre as it is now, when it was created).
INSERT INTO centre_audit (centre_id, at, actor, change, after, summary)
SELECT id, created_at, 'unknown', 'added',
       jsonb_build_object('id', id, 'name', name, 'name_en', name_en, 'level', level, 'cell_prefix', cell_prefix,
                          'parent_id', parent_id),
       'stored before the audit record existed'
FROM centres;
