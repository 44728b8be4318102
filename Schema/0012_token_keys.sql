-- Bearer tokens become <prefix><lookup>.<secret> (issue 7): the lookup id finds the row,
-- the secret is stored in token_hash as HMAC-SHA256 under the server's token key
-- (--token-key-file), compared in constant time by the server. Rows whose token_lookup
-- is NULL hold tokens issued before this migration (SHA-256 of the whole token); they
-- keep working until the device is rotated or the coach re-added.
ALTER TABLE devices ADD COLUMN token_lookup text UNIQUE CHECK (token_lookup IS NULL OR length(token_lookup) = 16);
ALTER TABLE coaches ADD COLUMN token_lookup text UNIQUE CHECK (token_lookup IS NULL OR length(token_lookup) = 16);

-- The fingerprint of the key the tokens were issued with: a daemon or command holding
-- another key refuses to start instead of answering every token 401.
CREATE TABLE token_key (
    singleton   boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    fingerprint text NOT NULL CHECK (fingerprint ~ '^[0-9a-f]{16}$'),
    recorded_at timestamptz NOT NULL DEFAULT now()
);
