-- Alarm acknowledgement shared by every operator console (docs/console.md): the first operator
-- who acknowledges an alarm stops it pulsing on every screen. The ack reaches the other consoles
-- through the live feed (kind 'alarm_ack'), with the alarm's own scope columns.
-- depends: 0007.media-labels

CREATE TABLE alarm_acks (
    alarm_id  text PRIMARY KEY,
    acked_by  bigint NOT NULL REFERENCES users (id),
    acked_at  timestamptz NOT NULL DEFAULT now(),
    note      text
);

ALTER TABLE feed_events DROP CONSTRAINT feed_events_kind_check;
ALTER TABLE feed_events ADD CONSTRAINT feed_events_kind_check CHECK (kind IN ('alarm', 'case_event', 'alarm_ack'));

CREATE FUNCTION feed_alarm_ack() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO feed_events (kind, at, department_id, grid_cell_code, payload)
    SELECT 'alarm_ack', NEW.acked_at, comp.department_id, coalesce(a.grid_cell_code, d.grid_cell_code),
           jsonb_build_object('alarm_id', NEW.alarm_id, 'acked_by', u.username, 'at', NEW.acked_at,
                              'note', NEW.note)
    FROM (SELECT 1) one
    LEFT JOIN LATERAL (SELECT device_id, grid_cell_code FROM alarms
                       WHERE alarm_id = NEW.alarm_id AND action = 'raise' ORDER BY time LIMIT 1) a ON TRUE
    LEFT JOIN devices d ON d.id = a.device_id
    LEFT JOIN components comp ON comp.code = d.component_code
    LEFT JOIN users u ON u.id = NEW.acked_by;
    RETURN NULL;
END $$;
CREATE TRIGGER alarm_acks_feed AFTER INSERT ON alarm_acks FOR EACH ROW EXECUTE FUNCTION feed_alarm_ack();
