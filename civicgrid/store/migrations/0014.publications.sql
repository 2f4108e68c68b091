-- The statistics a centre publishes (docs/statistics.md): the daily statistics, 旬 analysis, monthly publication
-- and yearly assessment, each one row per period holding both documents, so any API replica can serve them and a
-- scheduled run knows what is already out. Generating a period again (CLI, API) replaces its row.
-- depends: 0012.addresses

CREATE TABLE publications (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind         text NOT NULL CHECK (kind IN ('daily', 'xun', 'monthly', 'yearly')),
    period_first date NOT NULL,
    period_last  date NOT NULL CHECK (period_last >= period_first),
    title        text NOT NULL,
    generated_at timestamptz NOT NULL DEFAULT now(),
    trigger      text NOT NULL CHECK (trigger IN ('schedule', 'cli', 'api')),
    cases        integer NOT NULL,
    xlsx         bytea NOT NULL,
    pdf          bytea NOT NULL,
    UNIQUE (kind, period_first)
);
CREATE INDEX publications_generated ON publications (generated_at DESC);
