-- Duplicates and feedback to citizens (docs/open311.md, docs/notify.md).
-- The people who reported a case: the first caller, and every later one whose report was linked to it as a
-- duplicate instead of being filed. Those with `callback` are told when the case closes.
-- depends: 0012.addresses
CREATE TABLE case_callers (
    id          bigserial PRIMARY KEY,
    case_id     uuid NOT NULL REFERENCES cases (id) ON DELETE CASCADE,
    channel     text NOT NULL,                -- open311, hotline (a call taken in the console), inspector, ...
    name        text,
    phone       text,
    email       text,
    account_id  text,                         -- the Open311 client's own id of the person
    client      text,                         -- who filed it for them: the API user (an Open311 key's operator)
    callback    boolean NOT NULL DEFAULT false,
    linked      boolean NOT NULL DEFAULT false, -- came as a duplicate of this case
    description text,
    media_url   text,
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX case_callers_case ON case_callers (case_id);
-- Open311 lists a case a client linked a caller to (not only the hotline's own cases).
CREATE INDEX case_callers_open311 ON case_callers (case_id) WHERE channel = 'open311';

-- Open cases near a point: the duplicate candidates of a new report (civicgrid/store/duplicates.py). Only open
-- cases with a point are indexed, so the index stays the size of the open work, not of the history.
CREATE INDEX cases_open_geography ON cases USING gist ((ST_SetSRID(ST_MakePoint(lon, lat), 4326)::geography))
    WHERE state NOT IN ('closed', 'cancelled') AND lon IS NOT NULL AND lat IS NOT NULL;

-- One message to one caller about one case event (the close): written by the notifier when it reads the event,
-- then sent, retried on failure with back-off, and kept with every attempt's outcome (civicgrid/notify/).
CREATE TABLE notifications (
    id              bigserial PRIMARY KEY,
    case_id         uuid NOT NULL REFERENCES cases (id) ON DELETE CASCADE,
    caller_id       bigint NOT NULL REFERENCES case_callers (id) ON DELETE CASCADE,
    event_seq       integer NOT NULL,         -- the case event it tells of
    channel         text NOT NULL,            -- the notifier: webhook, sms, wecom
    status          text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sent', 'failed')),
    attempts        integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    last_error      text,
    sent_at         timestamptz,
    created_at      timestamptz NOT NULL DEFAULT now(),
    UNIQUE (caller_id, event_seq, channel)
);
CREATE INDEX notifications_due ON notifications (next_attempt_at) WHERE status = 'pending';
CREATE INDEX notifications_case ON notifications (case_id);
