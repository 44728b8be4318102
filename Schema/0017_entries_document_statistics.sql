-- 0017_entries_document_statistics: ANALYZE of entries skips the two documents.
-- No query filters on doc or merge_state as whole values, so their statistics (most
-- common values and a histogram of whole jsonb documents) were never used, and building
-- them was most of what an ANALYZE of entries cost: perf caught an autoanalyze in the
-- latency phase of coach bench push, 5 % of the machine, spent sorting sampled documents
-- (jsonb_cmp, compareJsonbContainers). The other columns keep their statistics, and the
-- tombstone purge's `doc ? 'body'` falls back to the default estimate, next to its
-- `deleted` and `deleted_at` conditions.
ALTER TABLE entries ALTER COLUMN doc SET STATISTICS 0, ALTER COLUMN merge_state SET STATISTICS 0;
