-- 0005_plans_nightly: training plans with revisions, the nightly run's daily rollups,
-- metrics and flags, and the per-athlete progress that makes the run re-runnable.

-- A plan: weeks of sessions up to a race. The plan as first made is kept in `original`.
CREATE TABLE plans (
    plan_id        uuid PRIMARY KEY,
    athlete_id     bigint NOT NULL REFERENCES athletes (id) ON DELETE CASCADE,
    status         text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'replaced')),
    source         text NOT NULL CHECK (source IN ('generated', 'imported')),
    race_date      date,
    distance       text,
    days_per_week  integer CHECK (days_per_week BETWEEN 1 AND 7),
    start_km       numeric,
    cycle_build    integer NOT NULL DEFAULT 3 CHECK (cycle_build BETWEEN 1 AND 6),
    cycle_down     integer NOT NULL DEFAULT 1 CHECK (cycle_down BETWEEN 1 AND 2),
    start_date     date NOT NULL,
    end_date       date NOT NULL,
    original       jsonb NOT NULL,
    created_by     text NOT NULL,
    created_at     timestamptz NOT NULL DEFAULT now(),
    CHECK (end_date >= start_date)
);
CREATE UNIQUE INDEX plans_one_active_idx ON plans (athlete_id) WHERE status = 'active';

CREATE TABLE plan_weeks (
    plan_id      uuid NOT NULL REFERENCES plans (plan_id) ON DELETE CASCADE,
    week_start   date NOT NULL,
    phase        text NOT NULL CHECK (phase IN ('base', 'build', 'peak', 'taper', 'race', 'recovery')),
    cutback      boolean NOT NULL DEFAULT false,
    PRIMARY KEY (plan_id, week_start)
);

-- The current state of each planned day (one row per day, rest days included). Mirrored
-- into `entries` as kind plan_session (same entry_id), which is how devices pull it.
CREATE TABLE plan_sessions (
    athlete_id     bigint NOT NULL REFERENCES athletes (id) ON DELETE CASCADE,
    session_id     uuid NOT NULL,
    plan_id        uuid NOT NULL REFERENCES plans (plan_id) ON DELETE CASCADE,
    session_date   date NOT NULL,
    session_type   text NOT NULL,
    distance_m     integer NOT NULL DEFAULT 0 CHECK (distance_m >= 0),
    duration_s     integer NOT NULL DEFAULT 0 CHECK (duration_s >= 0),
    target         text NOT NULL DEFAULT '',
    drills         text[] NOT NULL DEFAULT '{}',
    hard           boolean NOT NULL DEFAULT false,
    revision       integer NOT NULL DEFAULT 0,
    -- Set by a coach override: the nightly run never changes this day again.
    coach_locked   boolean NOT NULL DEFAULT false,
    note           text,
    PRIMARY KEY (athlete_id, session_id),
    UNIQUE (plan_id, session_date)
);
CREATE INDEX plan_sessions_day_idx ON plan_sessions (athlete_id, session_date);

-- Every change of a planned day, the generation included (before = null).
CREATE TABLE plan_revisions (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    athlete_id     bigint NOT NULL REFERENCES athletes (id) ON DELETE CASCADE,
    plan_id        uuid NOT NULL REFERENCES plans (plan_id) ON DELETE CASCADE,
    session_date   date,
    author         text NOT NULL CHECK (author IN ('plan', 'rule', 'coach')),
    actor          text NOT NULL,
    rule           text,
    rule_version   integer,
    night          date,
    reason         text NOT NULL,
    evidence       jsonb NOT NULL DEFAULT '{}',
    before         jsonb,
    after          jsonb,
    created_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX plan_revisions_athlete_idx ON plan_revisions (athlete_id, id);
-- A rule changes a day at most once per night: a re-run cannot write it twice.
CREATE UNIQUE INDEX plan_revisions_rule_night_idx ON plan_revisions (plan_id, session_date, rule, night)
    WHERE author = 'rule';

-- What the entries of one athlete-day add up to (counted entries only: one per
-- duplicate group). Typed columns, so the nightly run never re-reads JSON.
CREATE TABLE daily_rollups (
    athlete_id          bigint NOT NULL REFERENCES athletes (id) ON DELETE CASCADE,
    local_date          date NOT NULL,
    run_m               double precision NOT NULL DEFAULT 0,
    run_s               double precision NOT NULL DEFAULT 0,
    train_s             double precision NOT NULL DEFAULT 0,
    load                double precision NOT NULL DEFAULT 0,
    runs                integer NOT NULL DEFAULT 0,
    easy_s              double precision NOT NULL DEFAULT 0,
    hard_s              double precision NOT NULL DEFAULT 0,
    cadence_runs        integer NOT NULL DEFAULT 0,
    low_cadence_runs    integer NOT NULL DEFAULT 0,
    long_runs           integer NOT NULL DEFAULT 0,
    worst_fade_pct      double precision,
    quality_runs        integer NOT NULL DEFAULT 0,
    quality_no_warmup   integer NOT NULL DEFAULT 0,
    resting_hr          double precision,
    hrv_rmssd           double precision,
    sleep_s             double precision,
    legs                text,
    soreness            double precision,
    illness             boolean,
    pain_max            double precision,
    pain_locations      text[] NOT NULL DEFAULT '{}',
    PRIMARY KEY (athlete_id, local_date)
);

-- The metrics of each athlete-day, written by the nightly run.
CREATE TABLE daily_metrics (
    athlete_id     bigint NOT NULL REFERENCES athletes (id) ON DELETE CASCADE,
    local_date     date NOT NULL,
    metrics        jsonb NOT NULL,
    ewma_acute     double precision NOT NULL,
    ewma_chronic   double precision NOT NULL,
    -- Live fatigue flags after the night's evaluation (NULL: flags not evaluated that day).
    active_flags   integer,
    computed_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (athlete_id, local_date)
);

CREATE TABLE flags (
    flag_id          uuid PRIMARY KEY,
    athlete_id       bigint NOT NULL REFERENCES athletes (id) ON DELETE CASCADE,
    code             text NOT NULL,
    severity         text NOT NULL CHECK (severity IN ('info', 'watch', 'act')),
    raised_on        date NOT NULL,
    rule             text NOT NULL,
    rule_version     integer NOT NULL,
    evidence         jsonb NOT NULL,
    data_quality     text NOT NULL,
    status           text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'acknowledged', 'cleared')),
    cleared_on       date,
    acknowledged_at  timestamptz,
    acknowledged_by  text,
    ack_note         text,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now()
);
-- At most one live flag per athlete and code: a re-run or a persisting condition
-- never raises it twice; it is raised again only after it has cleared.
CREATE UNIQUE INDEX flags_live_idx ON flags (athlete_id, code) WHERE status <> 'cleared';
CREATE INDEX flags_athlete_idx ON flags (athlete_id, raised_on);

-- How far the nightly run has got per athlete, and which entries it has seen.
CREATE TABLE nightly_state (
    athlete_id     bigint PRIMARY KEY REFERENCES athletes (id) ON DELETE CASCADE,
    last_night     date,
    seen_seq       bigint NOT NULL DEFAULT 0,
    updated_at     timestamptz NOT NULL DEFAULT now()
);

-- The nightly run finds an athlete's entries by the start instant as well as by local_date.
CREATE INDEX entries_started_idx ON entries (athlete_id, started_at) WHERE NOT deleted;
