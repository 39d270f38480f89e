-- Up Migration
-- A subject's live API keys (ids, names and SHA-256 digests; never the keys), folded from
-- api_key.created / api_key.revoked. Their digests travel in the subject's shard entry.
ALTER TABLE ent_subjects ADD COLUMN api_keys jsonb;

-- Down Migration
ALTER TABLE ent_subjects DROP COLUMN api_keys;
