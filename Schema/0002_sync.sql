-- 0002_sync: the sync protocol v1 (shared/SYNC.md): entries, conflicts, the permanent
-- op log, and the per-athlete counter that makes the pull cursor gap-free.

-- One row per athlete. Every push locks it (UPDATE ... RETURNING), so one athlete's
-- writers commit one after another and the seq they hand out is committed in order:
-- a reader can never see seq N+1 while N is still in flight.
CREATE TABLE athlete_sync (
    athlete_id   bigint PRIMARY KEY REFERENCES athletes (id) ON DELETE CASCADE,
    last_seq     bigint NOT NULL DEFAULT 0,
    server_hlc   text,
    -- Cursors below this seq predate purged tombstones: pull answers 410 cursor_expired.
    horizon_seq  bigint NOT NULL DEFAULT 0
);

CREATE TABLE entries (
    athlete_id   bigint NOT NULL REFERENCES athletes (id) ON DELETE CASCADE,
    entry_id     uuid NOT NULL,
    kind         text NOT NULL,
    version      integer NOT NULL CHECK (version >= 1),
    seq          bigint NOT NULL,
    deleted      boolean NOT NULL DEFAULT false,
    deleted_at   timestamptz,
    -- The canonical envelope (entry_id, kind, schema_version, time, source, body, extra),
    -- re-serialized by the server, never the request's bytes.
    doc          jsonb NOT NULL,
    -- Per-field registers and per-device opinions of the merge engine.
    merge_state  jsonb NOT NULL,
    created_hlc  text NOT NULL,
    updated_hlc  text NOT NULL,
    started_at   timestamptz,
    local_date   date,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (athlete_id, entry_id)
);
CREATE UNIQUE INDEX entries_feed_idx ON entries (athlete_id, seq);
CREATE INDEX entries_day_idx ON entries (athlete_id, local_date) WHERE NOT deleted;

CREATE TABLE sync_conflicts (
    athlete_id    bigint NOT NULL REFERENCES athletes (id) ON DELETE CASCADE,
    conflict_id   uuid NOT NULL,
    entry_id      uuid NOT NULL,
    field         text NOT NULL,
    loser_op_id   uuid NOT NULL,
    loser_device  text NOT NULL,
    other         jsonb NOT NULL,
    kept          jsonb NOT NULL,
    status        text NOT NULL CHECK (status IN ('open', 'superseded', 'resolved')),
    seq           bigint NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (athlete_id, conflict_id)
);
CREATE UNIQUE INDEX sync_conflicts_feed_idx ON sync_conflicts (athlete_id, seq);
CREATE INDEX sync_conflicts_entry_idx ON sync_conflicts (athlete_id, entry_id);

-- Exactly once, forever: the result of every op, written in the same transaction as
-- its effect, echoed to any retry as `duplicate`.
CREATE TABLE applied_ops (
    athlete_id  bigint NOT NULL REFERENCES athletes (id) ON DELETE CASCADE,
    op_id       uuid NOT NULL,
    device_id   uuid REFERENCES devices (id) ON DELETE SET NULL,
    entry_id    uuid,
    result      jsonb NOT NULL,
    applied_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (athlete_id, op_id)
);

ALTER TABLE devices ADD COLUMN last_sync_at timestamptz;
