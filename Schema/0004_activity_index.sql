-- 0004_activity_index: duplicate detection looks for live activities starting within
-- 10 minutes of each pushed one.
CREATE INDEX entries_activity_start_idx ON entries (athlete_id, started_at)
    WHERE NOT deleted AND kind IN ('run', 'cross');
