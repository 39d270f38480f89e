-- Up Migration

-- The publisher reads the subjects changed since the last published position.
CREATE INDEX ent_subjects_position ON ent_subjects (position);

-- Every published manifest, so any instance can serve it and seq survives restarts.
CREATE TABLE snapshot_manifests (
  seq          bigint      PRIMARY KEY,
  ver          bigint      NOT NULL,
  sha256       text        NOT NULL UNIQUE,
  jws          text        NOT NULL,
  published_at timestamptz NOT NULL DEFAULT now()
);

-- Content-addressed, immutable shard bytes.
CREATE TABLE snapshot_shards (
  sha256     text        PRIMARY KEY,
  shard      integer     NOT NULL,
  ver        bigint      NOT NULL,
  bytes      bytea       NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);

-- Public keys of every instance's signing keys (never private material), so the JWKS any
-- instance serves covers what every other instance signed.
CREATE TABLE signing_keys (
  kid          text        PRIMARY KEY,
  jwk          jsonb       NOT NULL,
  state        text        NOT NULL,
  retire_after timestamptz,
  updated_at   timestamptz NOT NULL DEFAULT now()
);

-- Down Migration
DROP TABLE signing_keys;
DROP TABLE snapshot_shards;
DROP TABLE snapshot_manifests;
DROP INDEX ent_subjects_position;
