-- Row-level security on every athlete-owned table (issue 7, defence in depth).
--
-- `coach serve` runs its sessions as squadsync_app (--db-role), which owns nothing, and
-- each request's transaction names whose rows it may touch with SET LOCAL (set_config(...,
-- true), so it also works behind PgBouncer in transaction mode):
--   squadsync.athlete_id  the device's athlete (sync endpoints)
--   squadsync.coach_id    the coach (coach endpoints): the athletes of the coach's squads
-- A statement without a scope sees no athlete's rows and can write none. The owner (the
-- migrations, the CLI, cron's nightly job) is not subject to the policies.

DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'squadsync_app') THEN
        CREATE ROLE squadsync_app NOLOGIN;
    END IF;
EXCEPTION WHEN duplicate_object THEN NULL;  -- another database of this cluster made it first
END $$;

-- The migrating role must be able to switch to it (superusers always can).
DO $$
BEGIN
    IF NOT pg_has_role(current_user, 'squadsync_app', 'MEMBER') THEN
        EXECUTE format('GRANT squadsync_app TO %I', current_user);
    END IF;
END $$;

GRANT USAGE ON SCHEMA public TO squadsync_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO squadsync_app;
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO squadsync_app;
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO squadsync_app;
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE, SELECT ON SEQUENCES TO squadsync_app;
-- The schema history and the token key's fingerprint are the owner's alone; the daemon
-- only reads them.
REVOKE INSERT, UPDATE, DELETE ON schema_migrations, token_key FROM squadsync_app;

CREATE FUNCTION squadsync_scope_athlete() RETURNS bigint
LANGUAGE sql STABLE AS $$ SELECT nullif(current_setting('squadsync.athlete_id', true), '')::bigint $$;

-- Whether the scoped coach may see the athlete. SECURITY DEFINER: it reads the squad
-- tables as their owner, so policies never recurse.
CREATE FUNCTION squadsync_coach_sees(athlete bigint) RETURNS boolean
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
    SELECT EXISTS (
        SELECT 1 FROM athlete_squads m JOIN coach_squads c ON c.squad_id = m.squad_id
        WHERE m.athlete_id = athlete AND c.coach_id = nullif(current_setting('squadsync.coach_id', true), '')::bigint)
$$;

-- Device authentication happens before any scope is known: these return the one row a
-- token's lookup id (or legacy SHA-256) names, and nothing else.
CREATE FUNCTION squadsync_device_by_lookup(lookup text)
RETURNS TABLE (id uuid, athlete_id bigint, revoked boolean, erased boolean, token_hash bytea, previous_token_hash bytea)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
    SELECT d.id, d.athlete_id, d.revoked_at IS NOT NULL, a.erased_at IS NOT NULL, d.token_hash,
           CASE WHEN d.previous_expires_at > now() THEN d.previous_token_hash END
    FROM devices d JOIN athletes a ON a.id = d.athlete_id WHERE d.token_lookup = lookup
$$;

CREATE FUNCTION squadsync_device_by_legacy_hash(hash bytea)
RETURNS TABLE (id uuid, athlete_id bigint, revoked boolean, erased boolean)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
    SELECT d.id, d.athlete_id, d.revoked_at IS NOT NULL, a.erased_at IS NOT NULL
    FROM devices d JOIN athletes a ON a.id = d.athlete_id
    WHERE (d.token_lookup IS NULL AND d.token_hash = hash) OR (d.previous_token_hash = hash AND d.previous_expires_at > now())
$$;

-- Squad-wide figures for GET /metrics: counts only, no athlete's rows.
CREATE FUNCTION squadsync_flag_counts() RETURNS TABLE (code text, flags bigint)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
    SELECT f.code, count(*)::bigint FROM flags f GROUP BY f.code ORDER BY f.code
$$;

REVOKE EXECUTE ON FUNCTION squadsync_coach_sees(bigint), squadsync_device_by_lookup(text),
    squadsync_device_by_legacy_hash(bytea), squadsync_flag_counts() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION squadsync_coach_sees(bigint), squadsync_device_by_lookup(text),
    squadsync_device_by_legacy_hash(bytea), squadsync_flag_counts() TO squadsync_app;

ALTER TABLE athletes ENABLE ROW LEVEL SECURITY;
CREATE POLICY scoped ON athletes TO squadsync_app
    USING (id = squadsync_scope_athlete() OR squadsync_coach_sees(id));

DO $$
DECLARE
    owned text;
BEGIN
    FOR owned IN
        SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'athlete_id' AND NOT a.attisdropped
        WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p')
    LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', owned);
        EXECUTE format('CREATE POLICY scoped ON %I TO squadsync_app
            USING (athlete_id = squadsync_scope_athlete() OR squadsync_coach_sees(athlete_id))', owned);
    END LOOP;
END $$;

-- plan_weeks hang off plans.
ALTER TABLE plan_weeks ENABLE ROW LEVEL SECURITY;
CREATE POLICY scoped ON plan_weeks TO squadsync_app
    USING (EXISTS (SELECT 1 FROM plans p WHERE p.plan_id = plan_weeks.plan_id));
