-- Up Migration

-- A delivery's verbatim body (`raw`: about 3.7 KB for a Stripe subscription event) pushes its
-- row past the size at which PostgreSQL compresses the row's largest values, and pglz, the
-- default method, is slow: on a 2-core VM with PostgreSQL 15 it was the larger part of what a
-- Stripe webhook event costs the server beyond a generic one. lz4 compresses several times
-- faster. Values already stored keep the method they were written with (both stay readable);
-- only new ones use lz4.
--
-- A catalog change only: the table is not rewritten, and its lock is held for milliseconds.
--
-- lz4 needs a server built with it (Debian's and most packagers' are; the embedded one is not).
-- A server without it keeps pglz.
DO $$
BEGIN
  ALTER TABLE events ALTER COLUMN raw SET COMPRESSION lz4, ALTER COLUMN data SET COMPRESSION lz4;
EXCEPTION WHEN feature_not_supported THEN
  RAISE NOTICE 'this server is built without lz4: the log keeps pglz compression';
END $$;

-- Down Migration
ALTER TABLE events ALTER COLUMN raw SET COMPRESSION default, ALTER COLUMN data SET COMPRESSION default;
