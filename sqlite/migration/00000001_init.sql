-- convoi schema, version 1. Times are fixed-width UTC RFC 3339 text, except
-- positions and device events (unix nanoseconds). created_by and updated_by
-- hold the author's user ID, 0 for the system; they are not foreign keys so
-- that deleting or never having a user does not block a write's audit trail.

CREATE TABLE sites (
	id         INTEGER PRIMARY KEY AUTOINCREMENT,
	kind       TEXT NOT NULL,
	name       TEXT NOT NULL,
	lat        REAL NOT NULL,
	lon        REAL NOT NULL,
	entry_lat  REAL NOT NULL,
	entry_lon  REAL NOT NULL,
	address    TEXT NOT NULL DEFAULT '',
	created_by INTEGER NOT NULL DEFAULT 0,
	updated_by INTEGER NOT NULL DEFAULT 0,
	created_at TEXT NOT NULL,
	updated_at TEXT NOT NULL
);
CREATE INDEX sites_kind_idx ON sites (kind);

CREATE TABLE detainees (
	id           INTEGER PRIMARY KEY AUTOINCREMENT,
	name         TEXT NOT NULL,
	aliases      TEXT NOT NULL DEFAULT '[]', -- JSON array of strings
	birth_date   TEXT NOT NULL DEFAULT '',
	legal_status TEXT NOT NULL,
	site_id      INTEGER NOT NULL REFERENCES sites (id),
	dps          INTEGER NOT NULL DEFAULT 0, -- copy of risk.dps, for filtering
	risk         TEXT NOT NULL,              -- JSON RiskRecord
	created_by   INTEGER NOT NULL DEFAULT 0,
	updated_by   INTEGER NOT NULL DEFAULT 0,
	created_at   TEXT NOT NULL,
	updated_at   TEXT NOT NULL
);
CREATE INDEX detainees_site_idx ON detainees (site_id);

CREATE TABLE intel (
	id          INTEGER PRIMARY KEY AUTOINCREMENT,
	detainee_id INTEGER NOT NULL REFERENCES detainees (id),
	observed_at TEXT NOT NULL,
	recorded_at TEXT NOT NULL,
	grading     TEXT NOT NULL,
	kind        TEXT NOT NULL,
	text        TEXT NOT NULL,
	created_by  INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX intel_detainee_idx ON intel (detainee_id, observed_at);

CREATE TABLE vehicles (
	id           INTEGER PRIMARY KEY AUTOINCREMENT,
	registration TEXT NOT NULL UNIQUE,
	class        TEXT NOT NULL,
	capacity     INTEGER NOT NULL,
	site_id      INTEGER REFERENCES sites (id),
	created_by   INTEGER NOT NULL DEFAULT 0,
	updated_by   INTEGER NOT NULL DEFAULT 0,
	created_at   TEXT NOT NULL,
	updated_at   TEXT NOT NULL
);

CREATE TABLE officers (
	id             INTEGER PRIMARY KEY AUTOINCREMENT,
	name           TEXT NOT NULL,
	unit           TEXT NOT NULL,
	qualifications TEXT NOT NULL DEFAULT '[]', -- JSON array
	site_id        INTEGER REFERENCES sites (id),
	created_by     INTEGER NOT NULL DEFAULT 0,
	updated_by     INTEGER NOT NULL DEFAULT 0,
	created_at     TEXT NOT NULL,
	updated_at     TEXT NOT NULL
);

CREATE TABLE trackers (
	id         INTEGER PRIMARY KEY AUTOINCREMENT,
	device_id  TEXT NOT NULL UNIQUE,
	protocol   TEXT NOT NULL,
	model      TEXT NOT NULL DEFAULT '',
	vehicle_id INTEGER REFERENCES vehicles (id),
	officer_id INTEGER REFERENCES officers (id),
	disabled   INTEGER NOT NULL DEFAULT 0,
	created_by INTEGER NOT NULL DEFAULT 0,
	updated_by INTEGER NOT NULL DEFAULT 0,
	created_at TEXT NOT NULL,
	updated_at TEXT NOT NULL,
	CHECK (vehicle_id IS NULL OR officer_id IS NULL)
);
CREATE INDEX trackers_vehicle_idx ON trackers (vehicle_id);
CREATE INDEX trackers_officer_idx ON trackers (officer_id);

CREATE TABLE movements (
	id                INTEGER PRIMARY KEY AUTOINCREMENT,
	ref               TEXT NOT NULL UNIQUE,
	detainee_id       INTEGER NOT NULL REFERENCES detainees (id),
	from_site_id      INTEGER NOT NULL REFERENCES sites (id),
	to_site_id        INTEGER NOT NULL REFERENCES sites (id),
	purpose           TEXT NOT NULL,
	appointment_at    TEXT NOT NULL,
	requester         TEXT NOT NULL,
	state             TEXT NOT NULL,
	cancel_reason     TEXT NOT NULL DEFAULT '',
	escort_level      INTEGER NOT NULL DEFAULT 0,
	planned_departure TEXT,
	route             TEXT, -- JSON RouteSummary
	version           INTEGER NOT NULL DEFAULT 1,
	created_by        INTEGER NOT NULL DEFAULT 0,
	updated_by        INTEGER NOT NULL DEFAULT 0,
	created_at        TEXT NOT NULL,
	updated_at        TEXT NOT NULL
);
CREATE INDEX movements_appointment_idx ON movements (appointment_at);
CREATE INDEX movements_detainee_idx ON movements (detainee_id);
CREATE INDEX movements_from_idx ON movements (from_site_id);
CREATE INDEX movements_to_idx ON movements (to_site_id);
CREATE INDEX movements_state_idx ON movements (state);

-- Crew and vehicles are join tables so that foreign keys hold and so that
-- MovementFilter.CrewMember (the crew's per-object rule) is an indexed lookup.
CREATE TABLE movement_crew (
	movement_id INTEGER NOT NULL REFERENCES movements (id) ON DELETE CASCADE,
	officer_id  INTEGER NOT NULL REFERENCES officers (id),
	position    INTEGER NOT NULL,
	PRIMARY KEY (movement_id, officer_id)
) WITHOUT ROWID;
CREATE INDEX movement_crew_officer_idx ON movement_crew (officer_id);

CREATE TABLE movement_vehicles (
	movement_id INTEGER NOT NULL REFERENCES movements (id) ON DELETE CASCADE,
	vehicle_id  INTEGER NOT NULL REFERENCES vehicles (id),
	position    INTEGER NOT NULL,
	PRIMARY KEY (movement_id, vehicle_id)
) WITHOUT ROWID;
CREATE INDEX movement_vehicles_vehicle_idx ON movement_vehicles (vehicle_id);

CREATE TABLE transitions (
	id          INTEGER PRIMARY KEY AUTOINCREMENT,
	movement_id INTEGER NOT NULL REFERENCES movements (id),
	action      TEXT NOT NULL,
	from_state  TEXT NOT NULL,
	to_state    TEXT NOT NULL,
	reason      TEXT NOT NULL DEFAULT '',
	by_user     INTEGER NOT NULL DEFAULT 0,
	at          TEXT NOT NULL
);
CREATE INDEX transitions_movement_idx ON transitions (movement_id, id);

CREATE TABLE users (
	id            INTEGER PRIMARY KEY AUTOINCREMENT,
	username      TEXT NOT NULL UNIQUE,
	name          TEXT NOT NULL,
	role          TEXT NOT NULL,
	officer_id    INTEGER REFERENCES officers (id),
	site_id       INTEGER REFERENCES sites (id),
	password_hash TEXT NOT NULL DEFAULT '',
	disabled      INTEGER NOT NULL DEFAULT 0,
	created_by    INTEGER NOT NULL DEFAULT 0,
	updated_by    INTEGER NOT NULL DEFAULT 0,
	created_at    TEXT NOT NULL,
	updated_at    TEXT NOT NULL
);

CREATE TABLE tokens (
	id           INTEGER PRIMARY KEY AUTOINCREMENT,
	user_id      INTEGER NOT NULL REFERENCES users (id),
	kind         TEXT NOT NULL,
	name         TEXT NOT NULL DEFAULT '',
	hash         BLOB NOT NULL UNIQUE,
	expires_at   TEXT,
	last_used_at TEXT,
	revoked      INTEGER NOT NULL DEFAULT 0,
	created_by   INTEGER NOT NULL DEFAULT 0,
	created_at   TEXT NOT NULL
);
CREATE INDEX tokens_user_idx ON tokens (user_id);

CREATE TABLE assessments (
	id             INTEGER PRIMARY KEY AUTOINCREMENT,
	movement_id    INTEGER NOT NULL REFERENCES movements (id),
	level          INTEGER NOT NULL,
	score          REAL NOT NULL,
	policy_version TEXT NOT NULL DEFAULT '',
	body           TEXT NOT NULL, -- JSON Assessment
	assessed_by    INTEGER NOT NULL DEFAULT 0,
	assessed_at    TEXT NOT NULL
);
CREATE INDEX assessments_movement_idx ON assessments (movement_id, id);

CREATE TABLE policies (
	id         INTEGER PRIMARY KEY AUTOINCREMENT,
	name       TEXT NOT NULL,
	version    TEXT NOT NULL,
	body       TEXT NOT NULL, -- JSON
	created_by INTEGER NOT NULL DEFAULT 0,
	created_at TEXT NOT NULL,
	UNIQUE (name, version)
);

CREATE TABLE plans (
	id               INTEGER PRIMARY KEY AUTOINCREMENT,
	movement_id      INTEGER NOT NULL REFERENCES movements (id),
	strategy         TEXT NOT NULL, -- JSON
	value            REAL NOT NULL,
	draw_route_index INTEGER,
	draw_departure   TEXT,
	drawn_by         INTEGER,
	drawn_at         TEXT,
	created_by       INTEGER NOT NULL DEFAULT 0,
	created_at       TEXT NOT NULL
);
CREATE INDEX plans_movement_idx ON plans (movement_id, id);

CREATE TABLE idempotency (
	user_id      INTEGER NOT NULL,
	key          TEXT NOT NULL,
	method       TEXT NOT NULL,
	path         TEXT NOT NULL,
	body_hash    BLOB NOT NULL,
	status       INTEGER NOT NULL,
	content_type TEXT NOT NULL DEFAULT '',
	response     BLOB NOT NULL,
	created_at   TEXT NOT NULL,
	PRIMARY KEY (user_id, key)
);
CREATE INDEX idempotency_created_idx ON idempotency (created_at);

-- Positions and device events: the ingest hot path. No foreign keys: the
-- tracker server has already resolved the device.
--
-- The UNIQUE constraints make a device's retransmission a no-op (INSERT OR
-- IGNORE). For positions the key is deliberately time-major, (fix_time,
-- device_id): fixes arrive roughly in time order, so a batch appends to the
-- right edge of the index and dirties a few pages. A device-major index
-- (device_id, fix_time) dirties one 4 KiB page per distinct device in every
-- commit (a batch of 300 fixes from 300 devices wrote ~1.2 MB of WAL) and
-- cut durable ingest from ~125,000 to ~27,000 records/s; see
-- docs/benchmarks-sqlite.md. Per-device reads scan the time window of the
-- same index and filter on device_id, which the index covers.
CREATE TABLE positions (
	id          INTEGER PRIMARY KEY,
	device_id   TEXT NOT NULL,
	tracker_id  INTEGER NOT NULL DEFAULT 0,
	fix_time    INTEGER NOT NULL, -- unix ns
	server_time INTEGER NOT NULL, -- unix ns
	lat         REAL NOT NULL,
	lon         REAL NOT NULL,
	speed_kmh   REAL NOT NULL DEFAULT 0,
	heading     REAL NOT NULL DEFAULT 0,
	altitude_m  REAL NOT NULL DEFAULT 0,
	satellites  INTEGER NOT NULL DEFAULT 0,
	hdop        REAL NOT NULL DEFAULT 0,
	gnss        INTEGER NOT NULL DEFAULT 0,
	valid       INTEGER NOT NULL DEFAULT 0,
	attributes  TEXT, -- JSON object or NULL
	UNIQUE (fix_time, device_id)
);

CREATE TABLE device_events (
	id          INTEGER PRIMARY KEY,
	device_id   TEXT NOT NULL,
	tracker_id  INTEGER NOT NULL DEFAULT 0,
	kind        TEXT NOT NULL,
	severity    INTEGER NOT NULL DEFAULT 0,
	time        INTEGER NOT NULL, -- unix ns
	server_time INTEGER NOT NULL, -- unix ns
	lat         REAL NOT NULL DEFAULT 0,
	lon         REAL NOT NULL DEFAULT 0,
	value       INTEGER NOT NULL DEFAULT 0,
	UNIQUE (device_id, time, kind)
);
CREATE INDEX device_events_time_idx ON device_events (time);
