-- 0016_push_tables_statistics_vacuum: how PostgreSQL plans and vacuums the tables every
-- push writes. Both found in coach bench push (auto_explain, perf, the autovacuum log).
--
-- 1. Plan entries lookups for an average athlete. Every query of a push names one
--    athlete, and PostgreSQL estimated that athlete's rows from the most-common-values
--    list of entries.athlete_id. An athlete missing from it (a new one, or one who has
--    grown since the last ANALYZE: on a big table autovacuum analyzes after 10 % of it
--    changed, days apart) came out at one row, so every index that starts with athlete_id
--    cost the same, and the duplicate window search went through entries_day_idx and
--    filtered the athlete's whole history instead of reading the range of
--    entries_activity_start_idx: as new athletes grew, each push read all their entries.
--    With one most-common value kept, any other athlete is estimated at the table's
--    average (rows / distinct athletes); the other columns keep the default statistics.
ALTER TABLE entries ALTER COLUMN athlete_id SET STATISTICS 1;
ANALYZE entries;

-- 2. Vacuum them gently. Inserts alone trigger autovacuum (PostgreSQL 13 and later), and
--    with the default 2 ms cost delay one pass over entries took a third of a core for
--    about 3 s; on a 2-core server already busy with pushes that made a queue of requests
--    lasting seconds (p99 over 100 ms). At 10 ms the same work is spread about five times
--    thinner. These tables are appended to, rarely updated, so vacuum has little to do
--    and no hurry; a DBA may still override it per table.
ALTER TABLE entries SET (autovacuum_vacuum_cost_delay = 10);
ALTER TABLE applied_ops SET (autovacuum_vacuum_cost_delay = 10);
ALTER TABLE entry_sources SET (autovacuum_vacuum_cost_delay = 10);
