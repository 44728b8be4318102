-- 0003_duplicates: the same activity recorded by two devices is linked, never deleted
-- (shared/SYNC.md "Duplicate activities"). Downstream code counts each group once
-- through the counted_entries view.

-- Exact identities in other systems (FIT file id, Health Connect, HealthKit, Strava).
CREATE TABLE entry_sources (
    athlete_id    bigint NOT NULL REFERENCES athletes (id) ON DELETE CASCADE,
    external_key  text NOT NULL,
    entry_id      uuid NOT NULL,
    PRIMARY KEY (athlete_id, external_key, entry_id)
);

CREATE TABLE duplicate_groups (
    athlete_id        bigint NOT NULL REFERENCES athletes (id) ON DELETE CASCADE,
    group_id          uuid NOT NULL,
    primary_entry_id  uuid,
    members           uuid[] NOT NULL,
    status            text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'dissolved')),
    reason            text NOT NULL,
    seq               bigint NOT NULL,
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (athlete_id, group_id)
);
CREATE UNIQUE INDEX duplicate_groups_feed_idx ON duplicate_groups (athlete_id, seq);

CREATE TABLE duplicate_members (
    athlete_id  bigint NOT NULL REFERENCES athletes (id) ON DELETE CASCADE,
    entry_id    uuid NOT NULL,
    group_id    uuid NOT NULL,
    PRIMARY KEY (athlete_id, entry_id)
);
CREATE INDEX duplicate_members_group_idx ON duplicate_members (athlete_id, group_id);

-- Pairs a coach or athlete separated: never linked automatically again.
CREATE TABLE duplicate_unlinks (
    athlete_id  bigint NOT NULL REFERENCES athletes (id) ON DELETE CASCADE,
    entry_a     uuid NOT NULL,
    entry_b     uuid NOT NULL,
    unlinked_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (athlete_id, entry_a, entry_b),
    CHECK (entry_a < entry_b)
);

-- What load metrics, volume and compliance count: live entries, one per duplicate group.
CREATE VIEW counted_entries AS
SELECT e.*
FROM entries e
LEFT JOIN duplicate_members m ON m.athlete_id = e.athlete_id AND m.entry_id = e.entry_id
LEFT JOIN duplicate_groups g ON g.athlete_id = m.athlete_id AND g.group_id = m.group_id AND g.status = 'active'
WHERE NOT e.deleted AND (g.group_id IS NULL OR g.primary_entry_id = e.entry_id);
