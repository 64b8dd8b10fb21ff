-- Incidents: the response to an attack (issue 13). An incident is declared
-- by a commander from an alarm (at most one incident per alarm) or by hand;
-- it holds the attack point and time, the vehicles sought (JSON array of
-- strings) and the instructions for partner forces, never the movement's
-- schedule. Sightings narrow the escape routes down; unit assignments
-- commit police and gendarmerie units (their posts, sites) to an incident,
-- one active incident per unit at a time.

CREATE TABLE incidents (
	id              INTEGER PRIMARY KEY AUTOINCREMENT,
	movement_id     INTEGER REFERENCES movements (id),
	alarm_id        INTEGER REFERENCES alarms (id),
	lat             REAL NOT NULL,
	lon             REAL NOT NULL,
	place_name      TEXT NOT NULL DEFAULT '',
	attack_at       TEXT NOT NULL,
	vehicles_sought TEXT NOT NULL DEFAULT '[]',
	instructions    TEXT NOT NULL DEFAULT '',
	state           TEXT NOT NULL,
	declared_by     INTEGER NOT NULL DEFAULT 0,
	version         INTEGER NOT NULL DEFAULT 1,
	created_at      TEXT NOT NULL,
	updated_at      TEXT NOT NULL
);
CREATE UNIQUE INDEX incidents_alarm_idx ON incidents (alarm_id) WHERE alarm_id IS NOT NULL;
CREATE INDEX incidents_movement_idx ON incidents (movement_id);

CREATE TABLE incident_sightings (
	id          INTEGER PRIMARY KEY AUTOINCREMENT,
	incident_id INTEGER NOT NULL REFERENCES incidents (id),
	lat         REAL NOT NULL,
	lon         REAL NOT NULL,
	place_name  TEXT NOT NULL DEFAULT '',
	time        TEXT NOT NULL,
	confidence  REAL NOT NULL,
	note        TEXT NOT NULL DEFAULT '',
	recorded_by INTEGER NOT NULL DEFAULT 0,
	created_at  TEXT NOT NULL
);
CREATE INDEX incident_sightings_idx ON incident_sightings (incident_id, time, id);

CREATE TABLE incident_units (
	id          INTEGER PRIMARY KEY AUTOINCREMENT,
	incident_id INTEGER NOT NULL REFERENCES incidents (id),
	site_id     INTEGER NOT NULL REFERENCES sites (id),
	state       TEXT NOT NULL,
	note        TEXT NOT NULL DEFAULT '',
	assigned_by INTEGER NOT NULL DEFAULT 0,
	assigned_at TEXT NOT NULL,
	released_by INTEGER NOT NULL DEFAULT 0,
	released_at TEXT
);
-- A unit is assigned to one incident at a time.
CREATE UNIQUE INDEX incident_units_active_idx ON incident_units (site_id) WHERE state = 'assigned';
CREATE INDEX incident_units_incident_idx ON incident_units (incident_id, id);
