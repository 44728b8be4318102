-- 0007_audit: every coach action (acknowledging a flag, overriding a planned day,
-- resolving a conflict): who, when, what it was before and after.

CREATE TABLE audit_log (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    athlete_id  bigint REFERENCES athletes (id) ON DELETE SET NULL,
    actor       text NOT NULL,
    action      text NOT NULL,
    subject     text NOT NULL,
    before      jsonb,
    after       jsonb,
    note        text,
    at          timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX audit_log_athlete_idx ON audit_log (athlete_id, id);
