-- Explicit, expiring grants of one movement's schedule to one user
-- (issue 12): revoking keeps the row, with who revoked it and when.
CREATE TABLE schedule_grants (
	id          INTEGER PRIMARY KEY AUTOINCREMENT,
	movement_id INTEGER NOT NULL REFERENCES movements (id),
	user_id     INTEGER NOT NULL REFERENCES users (id),
	valid_from  TEXT NOT NULL,
	expires_at  TEXT NOT NULL,
	reason      TEXT NOT NULL,
	created_by  INTEGER NOT NULL DEFAULT 0,
	created_at  TEXT NOT NULL,
	revoked_by  INTEGER NOT NULL DEFAULT 0,
	revoked_at  TEXT
);
CREATE INDEX schedule_grants_movement_idx ON schedule_grants (movement_id);
CREATE INDEX schedule_grants_user_idx ON schedule_grants (user_id, expires_at);
