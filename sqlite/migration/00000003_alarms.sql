-- Alarms raised by the monitor and the control room's work on them
-- (issue 10). An alarm is open, acknowledged, escalated or resolved; while
-- it is not resolved, the same rule on the same movement updates it, which
-- the partial unique index enforces. Every state change is a row of
-- alarm_transitions: who (0 for the system), when, and the note.

CREATE TABLE alarms (
	id          INTEGER PRIMARY KEY AUTOINCREMENT,
	movement_id INTEGER NOT NULL REFERENCES movements (id),
	vehicle_id  INTEGER REFERENCES vehicles (id),
	rule        TEXT NOT NULL,
	severity    INTEGER NOT NULL,
	detail      TEXT NOT NULL DEFAULT '',
	lat         REAL NOT NULL DEFAULT 0,
	lon         REAL NOT NULL DEFAULT 0,
	place_name  TEXT NOT NULL DEFAULT '',
	first_seen  TEXT NOT NULL,
	last_seen   TEXT NOT NULL,
	count       INTEGER NOT NULL DEFAULT 1,
	state       TEXT NOT NULL,
	resolution  TEXT NOT NULL DEFAULT '',
	ack_due     TEXT NOT NULL,
	version     INTEGER NOT NULL DEFAULT 1,
	created_at  TEXT NOT NULL,
	updated_at  TEXT NOT NULL
);
CREATE UNIQUE INDEX alarms_active_idx ON alarms (movement_id, rule) WHERE state <> 'resolved';
CREATE INDEX alarms_movement_idx ON alarms (movement_id, id);
CREATE INDEX alarms_last_seen_idx ON alarms (last_seen);
-- The control room's listing: unresolved alarms, most severe and newest first.
CREATE INDEX alarms_unresolved_idx ON alarms (severity DESC, last_seen DESC, id DESC) WHERE state <> 'resolved';
CREATE INDEX alarms_overdue_idx ON alarms (ack_due) WHERE state = 'open';

CREATE TABLE alarm_transitions (
	id         INTEGER PRIMARY KEY AUTOINCREMENT,
	alarm_id   INTEGER NOT NULL REFERENCES alarms (id),
	from_state TEXT NOT NULL, -- '' when the alarm was raised
	to_state   TEXT NOT NULL,
	by_user    INTEGER NOT NULL DEFAULT 0,
	at         TEXT NOT NULL,
	note       TEXT NOT NULL DEFAULT ''
);
CREATE INDEX alarm_transitions_alarm_idx ON alarm_transitions (alarm_id, id);
