-- Up Migration

-- Where each projection has got to in the log. Written in the same transaction as the
-- projection's own tables (exactly-once effect).
CREATE TABLE projection_checkpoints (
  name       text        PRIMARY KEY,
  position   bigint      NOT NULL DEFAULT 0,
  updated_at timestamptz NOT NULL DEFAULT now()
);

-- The entitlement read model. Tables are named ent_*; a rebuild builds ent_*__rebuild beside
-- them and swaps the names atomically.
CREATE TABLE ent_catalog (
  singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
  catalog   jsonb   NOT NULL,
  position  bigint  NOT NULL
);

-- One fold per subscription (source:id): its distinct deliveries in last-writer-wins order.
CREATE TABLE ent_subscriptions (
  key     text  PRIMARY KEY,
  subject text,
  fold    jsonb NOT NULL
);
CREATE INDEX ent_subscriptions_subject ON ent_subscriptions (subject);

-- One row per subject: its admin grants and provider features, and the time-independent
-- sources of its entitlements (each with valid_until); a read evaluates them at "now".
-- position: the last event that touched the subject.
CREATE TABLE ent_subjects (
  subject           text   PRIMARY KEY,
  grants            jsonb,
  provider_features jsonb,
  sources           jsonb  NOT NULL,
  position          bigint NOT NULL
);

-- Down Migration
DROP TABLE ent_subjects;
DROP TABLE ent_subscriptions;
DROP TABLE ent_catalog;
DROP TABLE projection_checkpoints;
