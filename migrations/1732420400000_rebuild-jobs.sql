-- Up Migration

-- Bumped by each blue/green swap of a projection's tables: whoever derives state from the
-- model incrementally (the snapshot publisher) knows to compare everything once.
ALTER TABLE projection_checkpoints ADD COLUMN generation integer NOT NULL DEFAULT 0;
-- The projection generation a manifest was published from.
ALTER TABLE snapshot_manifests ADD COLUMN generation integer NOT NULL DEFAULT 0;

-- Admin jobs (projection rebuilds): progress written by the instance running the job, read
-- by any instance. A job whose heartbeat stops is reported failed (its instance died).
CREATE TABLE admin_jobs (
  id           text        PRIMARY KEY,
  kind         text        NOT NULL,
  target       text        NOT NULL,
  state        text        NOT NULL CHECK (state IN ('queued', 'running', 'succeeded', 'failed')),
  phase        text,
  processed    bigint      NOT NULL DEFAULT 0,
  total        bigint      NOT NULL DEFAULT 0,
  actor        text        NOT NULL,
  reason       text,
  error        text,
  result       jsonb,
  created_at   timestamptz NOT NULL DEFAULT now(),
  started_at   timestamptz,
  heartbeat_at timestamptz NOT NULL DEFAULT now(),
  finished_at  timestamptz
);
CREATE INDEX admin_jobs_created ON admin_jobs (created_at DESC);

-- Down Migration
DROP TABLE admin_jobs;
ALTER TABLE snapshot_manifests DROP COLUMN generation;
ALTER TABLE projection_checkpoints DROP COLUMN generation;
