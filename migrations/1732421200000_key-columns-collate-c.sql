-- Up Migration

-- The log's identifier columns compare bytes, not words: stream_id, source, source_event_id and
-- subject take the "C" collation. They are keys (looked up by equality, never sorted for a
-- reader), and under the database's default collation every comparison in their indexes went
-- through the locale's string collation (strcoll), for each step of each descent of the stream,
-- dedupe and subject indexes. Equality is the same under both (byte equality; PostgreSQL's
-- database collations are deterministic), so no lookup, unique key or answer changes.
--
-- Measured on a 2-core VM with PostgreSQL 15, in a database with the en_US.UTF-8 collation (the
-- default of the official PostgreSQL container image, among others) holding a 1-million-event
-- log over 50,000 streams, against the previous release: batches of 100 at 16 connections ran
-- 1.36-1.66x as fast (median 1.41x, four pairs) and cost the server 0.52-0.64x the CPU per
-- event (about 30 µs against 50); a stream-version look-up took 11-12 µs against 16-17. Single
-- events, bound by the instance's CPU, ran as fast as before (0.94-1.09x, three pairs) on 0.79-
-- 0.94x the server's CPU. In a C.UTF-8 database, whose collation is cheaper, batches ran 0.94-
-- 1.18x (median 1.02x, four pairs on fresh logs) on 0.82-1.04x the server's CPU per event.
--
-- The table is not rewritten (the values do not change), but the three indexes on these
-- columns are rebuilt while the migration holds the table's lock, which stops appends and
-- reads: 3.5 s for 1 million events, 7.7 s for 3 million, on that VM. Run it at a quiet time on
-- a large log.
--
-- Queries compare these columns with parameters and with arrays the appender sends, whose
-- collation is the default: a column's collation wins over the default, so they use the new
-- indexes as they are. The functions keep their signatures and results; instances of the
-- previous release run against it unchanged.
ALTER TABLE events
  ALTER COLUMN stream_id TYPE text COLLATE "C",
  ALTER COLUMN source TYPE text COLLATE "C",
  ALTER COLUMN source_event_id TYPE text COLLATE "C",
  ALTER COLUMN subject TYPE text COLLATE "C";

-- Down Migration
ALTER TABLE events
  ALTER COLUMN stream_id TYPE text COLLATE "default",
  ALTER COLUMN source TYPE text COLLATE "default",
  ALTER COLUMN source_event_id TYPE text COLLATE "default",
  ALTER COLUMN subject TYPE text COLLATE "default";
