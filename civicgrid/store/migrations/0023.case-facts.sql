-- CJ/T 292 scoring facts per case, kept up to date in the transaction that writes each case event
-- (civicgrid/store/case_facts.py; docs/performance.md, "Maintained scoring facts"). One column per fact of
-- civicgrid.domain.case_facts.CaseFacts, so a region, department or post table is one grouped read; the
-- per-step lists (every dispatch, every check) are parallel arrays, in the order the steps happened.
-- `version` is the case version the facts were computed at. Cases whose events were written before this
-- migration, or by SQL of their own, are filled by `backfill` in api/case_facts_cache.py.
-- depends: 0003.api
CREATE TABLE case_facts (
    case_id                uuid PRIMARY KEY REFERENCES cases (id),
    version                integer NOT NULL,
    reported_at            timestamptz NOT NULL,
    source                 text NOT NULL,
    reporter               text NOT NULL,
    reporter_role          text NOT NULL,
    cell                   text,
    category               text,
    verify_sender          text,
    verify_sent_on_time    boolean,
    verifier               text,
    verified_on_time       boolean,
    verified               boolean NOT NULL,
    filer                  text,
    filed                  boolean NOT NULL,
    filed_on_time          boolean,
    cancelled              boolean NOT NULL,
    cancelled_after_filing boolean NOT NULL,
    self_handled           boolean NOT NULL,
    dispatchers            text[] NOT NULL,
    dispatched_on_time     boolean[] NOT NULL,
    returns                integer NOT NULL,
    department             text,
    disposals              integer NOT NULL,
    disposed_on_time       boolean,
    reworks                integer NOT NULL,
    check_sender           text,
    check_sent_on_time     boolean,
    checkers               text[] NOT NULL,
    checked_on_time        boolean[] NOT NULL,
    closer                 text,
    closed                 boolean NOT NULL,
    closed_on_time         boolean,
    closed_by_deadline     boolean NOT NULL,
    close_type             text
);
CREATE INDEX case_facts_reported ON case_facts (reported_at);
