-- Feedback to citizens (docs/notify.md, "Retries and failures"): a notification that failed for good is sent again
-- by an administrator (`civicgrid notifier resend`, POST /notifications/{id}/resend) once the receiver is fixed. The
-- notification goes back to pending with its attempts from zero; this row keeps who sent it again, when, why, and
-- the attempts and last error it had failed with, so the history of a message is never overwritten.
-- depends: 0015.duplicates-and-feedback
CREATE TABLE notification_resends (
    id              bigserial PRIMARY KEY,
    notification_id bigint NOT NULL REFERENCES notifications (id) ON DELETE CASCADE,
    at              timestamptz NOT NULL,
    actor           text NOT NULL,              -- the admin's username, or cli:<login> from the command line
    reason          text NOT NULL,
    attempts        integer NOT NULL,           -- the failed attempts before this resend
    last_error      text
);
CREATE INDEX notification_resends_notification ON notification_resends (notification_id);
