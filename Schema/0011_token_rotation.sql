-- `coach devices rotate`: the old token keeps working for a grace period, so a phone that
-- has not yet stored its new token is not locked out.
ALTER TABLE devices
    ADD COLUMN previous_token_hash bytea UNIQUE CHECK (previous_token_hash IS NULL OR length(previous_token_hash) = 32),
    ADD COLUMN previous_expires_at timestamptz;
