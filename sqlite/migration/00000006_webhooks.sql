-- Outgoing webhooks (issue 12 Part D): subscriptions, and a transactional
-- outbox. Triggers on the transition tables write every movement, incident
-- and alarm change into webhook_events in the same transaction as the
-- change itself, so that nothing the store accepted is lost if the process
-- stops before it is delivered. The event data is built here, from a fixed
-- list of columns that holds no route, departure time or position.

CREATE TABLE webhooks (
	id          INTEGER PRIMARY KEY AUTOINCREMENT,
	url         TEXT NOT NULL,
	topics      TEXT NOT NULL, -- JSON array of topics
	description TEXT NOT NULL DEFAULT '',
	secret      TEXT NOT NULL,
	disabled    INTEGER NOT NULL DEFAULT 0,
	created_by  INTEGER NOT NULL DEFAULT 0,
	created_at  TEXT NOT NULL,
	updated_at  TEXT NOT NULL
);

CREATE TABLE webhook_events (
	id    INTEGER PRIMARY KEY AUTOINCREMENT,
	topic TEXT NOT NULL,
	type  TEXT NOT NULL,
	data  TEXT NOT NULL -- JSON object
);

CREATE TABLE webhook_deliveries (
	id           INTEGER PRIMARY KEY AUTOINCREMENT,
	webhook_id   INTEGER NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
	message_id   TEXT NOT NULL UNIQUE,
	type         TEXT NOT NULL,
	payload      TEXT NOT NULL,
	state        TEXT NOT NULL,
	attempts     INTEGER NOT NULL DEFAULT 0,
	next_attempt TEXT NOT NULL,
	last_status  INTEGER NOT NULL DEFAULT 0,
	last_error   TEXT NOT NULL DEFAULT '',
	created_at   TEXT NOT NULL,
	delivered_at TEXT
);
CREATE INDEX webhook_deliveries_due_idx ON webhook_deliveries (next_attempt) WHERE state = 'pending';
CREATE INDEX webhook_deliveries_hook_idx ON webhook_deliveries (webhook_id, id);

CREATE TRIGGER webhook_movement_transition AFTER INSERT ON transitions
WHEN NEW.action <> 'update' BEGIN
	INSERT INTO webhook_events (topic, type, data)
	SELECT 'movement', 'movement.' || NEW.to_state,
		json_object('movement_id', m.id, 'ref', m.ref, 'action', NEW.action, 'from', NEW.from_state, 'to', NEW.to_state,
			'escort_level', m.escort_level, 'override', NEW.override <> '')
	FROM movements m WHERE m.id = NEW.movement_id;
END;

CREATE TRIGGER webhook_incident_transition AFTER INSERT ON transitions
WHEN NEW.action IN ('incident', 'resume') OR (NEW.from_state = 'incident' AND NEW.action <> 'update') BEGIN
	INSERT INTO webhook_events (topic, type, data)
	SELECT 'incident',
		CASE NEW.action WHEN 'incident' THEN 'incident.declared' WHEN 'resume' THEN 'incident.stood_down'
			ELSE 'incident.' || NEW.to_state END,
		json_object('movement_id', m.id, 'ref', m.ref, 'escort_level', m.escort_level, 'state', NEW.to_state)
	FROM movements m WHERE m.id = NEW.movement_id;
END;

CREATE TRIGGER webhook_alarm_transition AFTER INSERT ON alarm_transitions BEGIN
	INSERT INTO webhook_events (topic, type, data)
	SELECT 'alarm', 'alarm.' || NEW.to_state,
		json_object('alarm_id', a.id, 'movement_id', a.movement_id, 'rule', a.rule, 'severity', a.severity,
			'from', NEW.from_state, 'to', NEW.to_state)
	FROM alarms a WHERE a.id = NEW.alarm_id;
END;

-- The response's incident records (issue 13): declared and closed. Never
-- their place, attack time, vehicles sought or instructions.
CREATE TRIGGER webhook_incident_declared AFTER INSERT ON incidents BEGIN
	INSERT INTO webhook_events (topic, type, data)
	VALUES ('incident', 'incident.opened',
		json_object('incident_id', NEW.id, 'movement_id', NEW.movement_id, 'alarm_id', NEW.alarm_id, 'state', NEW.state));
END;

CREATE TRIGGER webhook_incident_state AFTER UPDATE OF state ON incidents
WHEN NEW.state <> OLD.state BEGIN
	INSERT INTO webhook_events (topic, type, data)
	VALUES ('incident', 'incident.' || NEW.state,
		json_object('incident_id', NEW.id, 'movement_id', NEW.movement_id, 'alarm_id', NEW.alarm_id, 'state', NEW.state));
END;
