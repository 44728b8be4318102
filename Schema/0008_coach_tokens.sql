-- 0008_coach_tokens: coaches authenticate to /v1/coach/... with a bearer token shown
-- once by `coach coaches add`; only its SHA-256 is kept.

ALTER TABLE coaches ADD COLUMN token_hash bytea UNIQUE CHECK (token_hash IS NULL OR length(token_hash) = 32);
ALTER TABLE coaches ADD COLUMN revoked_at timestamptz;
