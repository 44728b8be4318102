-- 0014_push_write_path: the two rows a push writes besides each entry carry no foreign
-- keys. A foreign key is checked by a trigger per inserted row (one SPI query each, two
-- for applied_ops); measured with pg_stat_statements in `coach bench push`, inserting the
-- op log and the external ids took as long as inserting the entries themselves.
--
-- What the constraints guarded still holds without them:
-- - both tables are written only inside a push (or an athlete import), which holds the
--   athlete's athlete_sync row, itself a foreign key to athletes, locked until commit;
-- - athletes and devices are never deleted (erasure keeps an id-only athlete row, a
--   device is revoked, not deleted), so the ON DELETE actions never ran;
-- - applied_ops.device_id names the authenticated device of the push that wrote the row.
ALTER TABLE applied_ops DROP CONSTRAINT applied_ops_athlete_id_fkey;
ALTER TABLE applied_ops DROP CONSTRAINT applied_ops_device_id_fkey;
ALTER TABLE entry_sources DROP CONSTRAINT entry_sources_athlete_id_fkey;
