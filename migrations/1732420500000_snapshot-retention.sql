-- Up Migration

-- The shards each manifest names, so old shards can be pruned in SQL: under a steady stream of
-- changes every publication rewrites most shards, and keeping every version fills the disk.
ALTER TABLE snapshot_manifests ADD COLUMN shard_hashes text[];

-- Manifests published before this column existed: their names come from the JWS payload
-- (base64url JSON; PostgreSQL's base64 wants the standard alphabet and padding).
UPDATE snapshot_manifests
   SET shard_hashes = ARRAY(
         SELECT s->>'sha256'
           FROM (SELECT split_part(jws, '.', 2) AS payload) p,
                jsonb_array_elements(
                  convert_from(decode(rpad(translate(p.payload, '-_', '+/'),
                                           ((length(p.payload) + 3) / 4) * 4, '='), 'base64'), 'UTF8')::jsonb
                  -> 'shards') AS s);

ALTER TABLE snapshot_manifests ALTER COLUMN shard_hashes SET NOT NULL;

-- Down Migration
ALTER TABLE snapshot_manifests DROP COLUMN shard_hashes;
