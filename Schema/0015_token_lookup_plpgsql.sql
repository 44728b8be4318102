-- 0015_token_lookup_plpgsql: the token lookups of every device request keep their plans.
--
-- A LANGUAGE sql function with a SET clause (here search_path, which SECURITY DEFINER
-- needs) is never inlined, and its body is parsed and planned again on every call. Every
-- sync request calls squadsync_device_by_lookup before anything else, so that cost was
-- paid once per request. PL/pgSQL caches the plan of its query for the session.
-- Same signatures, same rows, same privileges (CREATE OR REPLACE keeps the grants of 0013).
CREATE OR REPLACE FUNCTION squadsync_device_by_lookup(lookup text)
RETURNS TABLE (id uuid, athlete_id bigint, revoked boolean, erased boolean, token_hash bytea, previous_token_hash bytea)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
#variable_conflict use_column
BEGIN
    RETURN QUERY
    SELECT d.id, d.athlete_id, d.revoked_at IS NOT NULL, a.erased_at IS NOT NULL, d.token_hash,
           CASE WHEN d.previous_expires_at > now() THEN d.previous_token_hash END
    FROM devices d JOIN athletes a ON a.id = d.athlete_id WHERE d.token_lookup = lookup;
END
$$;

CREATE OR REPLACE FUNCTION squadsync_device_by_legacy_hash(hash bytea)
RETURNS TABLE (id uuid, athlete_id bigint, revoked boolean, erased boolean)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
#variable_conflict use_column
BEGIN
    RETURN QUERY
    SELECT d.id, d.athlete_id, d.revoked_at IS NOT NULL, a.erased_at IS NOT NULL
    FROM devices d JOIN athletes a ON a.id = d.athlete_id
    WHERE (d.token_lookup IS NULL AND d.token_hash = hash) OR (d.previous_token_hash = hash AND d.previous_expires_at > now());
END
$$;
