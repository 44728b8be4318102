-- 0001_core: squads, coaches, athletes, memberships and devices.
-- Forward-only: never edit this file once applied; add 0002_... instead.

CREATE TABLE squads (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name        text NOT NULL CHECK (length(btrim(name)) BETWEEN 1 AND 120),
    settings    jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(settings) = 'object'),
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX squads_name_key ON squads (lower(name));

CREATE TABLE coaches (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    handle      text NOT NULL UNIQUE CHECK (handle ~ '^[a-z0-9][a-z0-9._-]{0,39}$'),
    name        text NOT NULL CHECK (length(btrim(name)) BETWEEN 1 AND 120),
    email       text,
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE athletes (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    handle      text NOT NULL UNIQUE CHECK (handle ~ '^[a-z0-9][a-z0-9._-]{0,39}$'),
    name        text NOT NULL CHECK (length(btrim(name)) BETWEEN 1 AND 120),
    time_zone   text NOT NULL,
    sex         text CHECK (sex IN ('female', 'male', 'other')),
    birth_year  integer CHECK (birth_year BETWEEN 1900 AND 2100),
    hr_max      integer CHECK (hr_max BETWEEN 100 AND 250),
    hr_rest     integer CHECK (hr_rest BETWEEN 25 AND 120),
    level       text NOT NULL DEFAULT 'intermediate'
                CHECK (level IN ('beginner', 'intermediate', 'advanced', 'elite')),
    -- Per-athlete overrides of DOMAIN.md defaults, e.g. {"cutback.cycle": [2, 1]}.
    settings    jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(settings) = 'object'),
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    CHECK (hr_rest IS NULL OR hr_max IS NULL OR hr_rest < hr_max)
);

CREATE TABLE coach_squads (
    coach_id    bigint NOT NULL REFERENCES coaches (id) ON DELETE CASCADE,
    squad_id    bigint NOT NULL REFERENCES squads (id) ON DELETE CASCADE,
    role        text NOT NULL DEFAULT 'coach' CHECK (role IN ('head', 'coach', 'assistant')),
    added_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (coach_id, squad_id)
);
CREATE INDEX coach_squads_squad_idx ON coach_squads (squad_id);

CREATE TABLE athlete_squads (
    athlete_id  bigint NOT NULL REFERENCES athletes (id) ON DELETE CASCADE,
    squad_id    bigint NOT NULL REFERENCES squads (id) ON DELETE CASCADE,
    joined_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (athlete_id, squad_id)
);
CREATE INDEX athlete_squads_squad_idx ON athlete_squads (squad_id);

CREATE TABLE devices (
    id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    athlete_id    bigint NOT NULL REFERENCES athletes (id) ON DELETE CASCADE,
    name          text NOT NULL CHECK (length(btrim(name)) BETWEEN 1 AND 120),
    device_type   text NOT NULL DEFAULT 'other' CHECK (device_type IN ('watch', 'phone', 'ring', 'other')),
    -- SHA-256 of the bearer token; the token itself is shown once and never stored.
    token_hash    bytea NOT NULL UNIQUE CHECK (length(token_hash) = 32),
    created_at    timestamptz NOT NULL DEFAULT now(),
    last_seen_at  timestamptz,
    revoked_at    timestamptz
);
CREATE INDEX devices_athlete_idx ON devices (athlete_id);
