-- An erased athlete keeps an id-only row (so the tombstones of their entries still have an
-- owner and devices learn of the deletion); erased_at marks it, and the nightly job and
-- pushes leave such an athlete alone.
ALTER TABLE athletes ADD COLUMN erased_at timestamptz;
