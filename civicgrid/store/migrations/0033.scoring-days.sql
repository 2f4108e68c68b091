-- Daily rollups of the scoring facts (civicgrid/store/scoring_days.py): per local day (UTC+8), what the
-- department and region tables count, one row per department, unit grid cell and rules version, kept by
-- difference in the transaction that writes a case's facts. A table for a period of whole days sums them
-- (api/queries/scoring.py) instead of grouping the period's rows of case_facts (docs/domain.md §6).
-- depends: 0031.case-facts-rules-version
CREATE TABLE scoring_department_days (
    day        date NOT NULL,
    department text NOT NULL,
    due        integer NOT NULL,  -- cases dispatched to it
    closed     integer NOT NULL,
    on_time    integer NOT NULL,  -- disposed on time
    reworks    integer NOT NULL,
    disposals  integer NOT NULL,
    PRIMARY KEY (day, department)
);
CREATE TABLE scoring_cell_days (
    day         date NOT NULL,
    cell        text NOT NULL,
    cases       integer NOT NULL,  -- located in the cell, filed or not
    filed       integer NOT NULL,
    public      integer NOT NULL,  -- filed from the hotline and verified
    due         integer NOT NULL,  -- filed and not cancelled
    closed      integer NOT NULL,
    by_deadline integer NOT NULL,  -- closed by the disposal deadline
    PRIMARY KEY (day, cell)
);
CREATE TABLE scoring_version_days (
    day           date NOT NULL,
    rules_version integer NOT NULL,  -- NULL on the case (filed before versions existed): 1
    cases         integer NOT NULL,
    PRIMARY KEY (day, rules_version)
);
-- The facts already kept, rolled up once.
INSERT INTO scoring_department_days
SELECT ((f.reported_at AT TIME ZONE 'UTC') + interval '8 hours')::date, f.department, count(*),
       count(*) FILTER (WHERE f.closed), count(*) FILTER (WHERE f.disposed_on_time), sum(f.reworks), sum(f.disposals)
  FROM case_facts f WHERE cardinality(f.dispatchers) > 0 AND f.department <> '' GROUP BY 1, 2;
INSERT INTO scoring_cell_days
SELECT ((f.reported_at AT TIME ZONE 'UTC') + interval '8 hours')::date, f.cell, count(*),
       count(*) FILTER (WHERE f.filed),
       count(*) FILTER (WHERE f.filed AND f.source = 'hotline' AND f.verified),
       count(*) FILTER (WHERE f.filed AND NOT f.cancelled),
       count(*) FILTER (WHERE f.filed AND NOT f.cancelled AND f.closed),
       count(*) FILTER (WHERE f.filed AND NOT f.cancelled AND f.closed AND f.closed_by_deadline)
  FROM case_facts f WHERE f.cell IS NOT NULL GROUP BY 1, 2;
INSERT INTO scoring_version_days
SELECT ((f.reported_at AT TIME ZONE 'UTC') + interval '8 hours')::date, coalesce(f.rules_version, 1), count(*)
  FROM case_facts f GROUP BY 1, 2;
