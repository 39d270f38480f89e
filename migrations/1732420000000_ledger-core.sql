-- Up Migration

-- The append-only log. `position` is assigned by the appender while it holds the lock on
-- log_head, so positions are gap-free and in commit order (see libs/event-store).
CREATE TABLE events (
  position        bigint      PRIMARY KEY,
  stream_id       text        NOT NULL,
  stream_version  integer     NOT NULL,
  type            text        NOT NULL,
  source          text        NOT NULL,
  source_event_id text        NOT NULL,
  -- The subject an event is about, when it is about one (history and time travel look it up).
  subject         text,
  payload_hash    bytea       NOT NULL,
  data            jsonb       NOT NULL,
  metadata        jsonb       NOT NULL DEFAULT '{}'::jsonb,
  raw             text,
  occurred_at     timestamptz,
  recorded_at     timestamptz NOT NULL DEFAULT clock_timestamp(),
  CONSTRAINT events_stream_version_key UNIQUE (stream_id, stream_version),
  CONSTRAINT events_source_event_key UNIQUE (source, source_event_id),
  CONSTRAINT events_position_positive CHECK (position > 0)
);

CREATE INDEX events_subject_position ON events (subject, position) WHERE subject IS NOT NULL;
CREATE INDEX events_recorded_at ON events (recorded_at, position);

CREATE TABLE streams (
  stream_id text    PRIMARY KEY,
  version   integer NOT NULL
);

-- One row. Appenders lock it FOR UPDATE for the whole appending transaction.
CREATE TABLE log_head (
  singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
  position  bigint  NOT NULL
);
INSERT INTO log_head (singleton, position) VALUES (true, 0);

-- The log refuses rewrites: only INSERT is allowed on events.
CREATE FUNCTION events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'the event log is append-only (% refused)', TG_OP
    USING ERRCODE = 'restrict_violation';
END $$;
CREATE TRIGGER events_no_update BEFORE UPDATE OR DELETE ON events
  FOR EACH ROW EXECUTE FUNCTION events_append_only();
CREATE TRIGGER events_no_truncate BEFORE TRUNCATE ON events
  FOR EACH STATEMENT EXECUTE FUNCTION events_append_only();

-- Scoped bearer tokens, stored as SHA-256 of the secret only.
CREATE TABLE api_tokens (
  id          text        PRIMARY KEY,
  name        text        NOT NULL,
  scopes      text[]      NOT NULL,
  secret_hash bytea       NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now(),
  created_by  text,
  revoked_at  timestamptz,
  CONSTRAINT api_tokens_hash_len CHECK (octet_length(secret_hash) = 32)
);
-- At most one generated bootstrap admin token, ever (two instances may start at once).
CREATE UNIQUE INDEX api_tokens_one_bootstrap ON api_tokens (name) WHERE name = 'bootstrap-admin';

-- Down Migration
DROP TABLE api_tokens;
DROP TRIGGER events_no_truncate ON events;
DROP TRIGGER events_no_update ON events;
DROP FUNCTION events_append_only();
DROP TABLE log_head;
DROP TABLE streams;
DROP TABLE events;
