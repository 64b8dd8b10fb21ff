-- Per-tracker credentials (issue 12 E4): the SHA-256 of the secret a
-- tracker logs in to the embedded MQTT broker with.
CREATE TABLE device_secrets (
	tracker_id INTEGER PRIMARY KEY REFERENCES trackers (id),
	hash       BLOB NOT NULL,
	created_by INTEGER NOT NULL DEFAULT 0,
	created_at TEXT NOT NULL
);
