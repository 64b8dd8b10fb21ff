-- Recipient notices (issue 12 Part C): the distinct variant of a movement's
-- arrival window and handover code each outside recipient was given, so
-- that a leak can be traced to its recipient. A variant is never given
-- twice for one movement.
CREATE TABLE notices (
	id           INTEGER PRIMARY KEY AUTOINCREMENT,
	movement_id  INTEGER NOT NULL REFERENCES movements (id),
	recipient    TEXT NOT NULL,
	user_id      INTEGER REFERENCES users (id),
	window_start TEXT NOT NULL,
	window_end   TEXT NOT NULL,
	code         TEXT NOT NULL,
	basis        TEXT NOT NULL, -- the expected arrival the variant was drawn around
	issued_by    INTEGER NOT NULL DEFAULT 0,
	issued_at    TEXT NOT NULL
);
CREATE UNIQUE INDEX notices_recipient_idx ON notices (movement_id, recipient, basis);
CREATE UNIQUE INDEX notices_window_idx ON notices (movement_id, window_start, window_end);
CREATE UNIQUE INDEX notices_code_idx ON notices (movement_id, code);
CREATE INDEX notices_code_any_idx ON notices (code);
