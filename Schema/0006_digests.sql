-- 0006_digests: the per-athlete digest each nightly run writes, stored as rendered data
-- (Schema/digest.schema.json) so that a past digest reads the same later.

CREATE TABLE digests (
    athlete_id      bigint NOT NULL REFERENCES athletes (id) ON DELETE CASCADE,
    night           date NOT NULL,
    digest          jsonb NOT NULL,
    -- The worst open flag's severity, for ranking a squad without opening the JSON.
    worst_severity  text CHECK (worst_severity IN ('info', 'watch', 'act')),
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (athlete_id, night)
);
CREATE INDEX digests_night_idx ON digests (night);
