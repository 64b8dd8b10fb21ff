-- What a commander's override let through at release or start (empty when
-- nothing was overridden); the transition's reason says why.
ALTER TABLE transitions ADD COLUMN override TEXT NOT NULL DEFAULT '';
