-- One row per nightly run (cron, systemd timer or `coach serve --nightly-at`), so the
-- daemon's /metrics can report the last run's duration and athletes whichever process ran it.
CREATE TABLE nightly_runs (
    run_id       bigserial PRIMARY KEY,
    night        date,
    started_at   timestamptz NOT NULL,
    finished_at  timestamptz NOT NULL,
    athletes     integer NOT NULL,
    failed       integer NOT NULL,
    skipped      integer NOT NULL,
    runner       text NOT NULL CHECK (runner IN ('command', 'scheduler'))
);
CREATE INDEX nightly_runs_finished_idx ON nightly_runs (finished_at DESC);
