-- Up Migration

-- `ledger_append_new_events` (see 1732420800000_append-by-columns.sql) reads the versions of a
-- group of 64 streams or more before it takes the log lock, not under it, so the lock is held for
-- the insert and the commit only: appends of one database are serialised by that lock, and on a
-- log larger than the server's shared buffers one version probe (an index descent to a random
-- leaf page and its heap page) cost about as much as inserting the event.
--
-- The versions and the head are read in one statement, so from one snapshot: it holds every
-- event up to that head and none after it (an appender moves the head and inserts its events
-- in one transaction). Once the lock is held, the events committed since then are exactly those
-- after that head up to the lock's head; their streams' highest versions are merged in from a
-- scan of that range of the log, the rows of the last group or two, which are in memory. When
-- more has been committed in between than 16 rows per stream of the group (another instance
-- wrote a large batch), each stream is probed again under the lock as before.
--
-- A smaller group probes its streams under the lock as before: the scan is one statement more
-- per group, which cost single events (groups of about 20 at 64 connections) more than the lock
-- time it saved. With the scan for every group, single events at 64 connections ran at
-- 0.89-1.18x the previous function's rate (median 0.91x, four paired runs on a 5-million-event
-- log) while batches of 100 at 16 connections ran at 0.94-1.35x (median 1.07x, six pairs).
--
-- Measured on a 2-core VM with PostgreSQL 15, a 2-million-event log, one caller, groups of
-- 1,600 events over 1,600 streams: the lock was held 15-17 µs per event against 24-26 before
-- (the version probes, 10 µs per event, now run before it; the catch-up scan of 1,600 rows
-- took 1.2 ms).
--
-- JIT compilation is off for the function's statements. The generic plan of the catch-up scan
-- estimates its range of positions as a fixed share of the log (it cannot know the bounds), so
-- its cost grows with the log; past about 4 million events it crossed the server's default
-- jit_above_cost and every call compiled it first: 16 ms for a scan that takes 0.5, and single
-- events went from 4,000 to 1,700 a second on that VM.
--
-- The function keeps its signature and its results, so instances of the previous release run
-- against it unchanged.
CREATE OR REPLACE FUNCTION ledger_append_new_events(stream_ids text[], stream_index int[], stream_places int[],
                                                    types text[], sources text[], source_event_ids text[],
                                                    subjects text[], payload_hashes bytea[], datas jsonb,
                                                    metadatas jsonb, raws text[], occurred timestamptz[],
                                                    channel text)
RETURNS TABLE (head bigint, base_versions int[])
LANGUAGE plpgsql VOLATILE SET plan_cache_mode = force_generic_plan SET jit = off AS $$
DECLARE
  read_at bigint;
  at_head bigint;
  bases int[];
  n int := cardinality(source_event_ids);
BEGIN
  IF cardinality(stream_index) <> n OR cardinality(stream_places) <> n OR cardinality(types) <> n
     OR cardinality(sources) <> n OR cardinality(subjects) <> n OR cardinality(payload_hashes) <> n
     OR cardinality(raws) <> n OR cardinality(occurred) <> n
     OR jsonb_array_length(datas) <> n OR jsonb_array_length(metadatas) <> n THEN
    -- ROWS FROM would pad the shorter ones with NULLs.
    RAISE EXCEPTION 'ledger_append_new_events: the column arrays differ in length' USING ERRCODE = 'invalid_parameter_value';
  END IF;
  -- One index probe per id and per stream (LATERAL ... LIMIT 1 is never turned into a join, which
  -- stale or missing statistics would make a hash over a scan of the whole table).
  IF EXISTS (SELECT 1
               FROM unnest(sources, source_event_ids) AS k(source, source_event_id)
              CROSS JOIN LATERAL (SELECT 1 FROM events e
                                   WHERE e.source = k.source AND e.source_event_id = k.source_event_id LIMIT 1) e) THEN
    RETURN;
  END IF;
  IF cardinality(stream_ids) >= 64 THEN
    -- The versions as of the head read with them (one statement, one snapshot).
    SELECT h.position,
           (SELECT array_agg(coalesce(t.stream_version, 0) ORDER BY s.ord)
              FROM unnest(stream_ids) WITH ORDINALITY AS s(stream_id, ord)
              LEFT JOIN LATERAL (SELECT e.stream_version FROM events e WHERE e.stream_id = s.stream_id
                                  ORDER BY e.stream_version DESC LIMIT 1) t ON true)
      INTO read_at, bases
      FROM log_head h;
  END IF;
  UPDATE log_head SET position = position + n RETURNING position - n INTO at_head;
  IF read_at IS NULL OR at_head > read_at + 16 * cardinality(stream_ids) THEN
    SELECT array_agg(coalesce(t.stream_version, 0) ORDER BY s.ord) INTO bases
      FROM unnest(stream_ids) WITH ORDINALITY AS s(stream_id, ord)
      LEFT JOIN LATERAL (SELECT e.stream_version FROM events e WHERE e.stream_id = s.stream_id
                          ORDER BY e.stream_version DESC LIMIT 1) t ON true;
  ELSIF at_head > read_at THEN
    -- This statement's snapshot is taken with the lock held: it sees every event up to at_head.
    SELECT array_agg(greatest(bases[s.ord], coalesce(t.version, 0)) ORDER BY s.ord) INTO bases
      FROM unnest(stream_ids) WITH ORDINALITY AS s(stream_id, ord)
      LEFT JOIN (SELECT e.stream_id, max(e.stream_version) AS version FROM events e
                  WHERE e.position > read_at AND e.position <= at_head
                  GROUP BY e.stream_id) t ON t.stream_id = s.stream_id;
  END IF;
  INSERT INTO events (position, stream_id, stream_version, type, source,
                      source_event_id, subject, payload_hash, data, metadata, raw, occurred_at)
  SELECT at_head + x.p, stream_ids[x.si], bases[x.si] + x.k, x.t, x.o, x.i, x.u, x.h, x.d, x.m, x.r, x.a
    FROM ROWS FROM (unnest(stream_index, stream_places, types, sources, source_event_ids, subjects,
                           payload_hashes, raws, occurred),
                    jsonb_array_elements(datas), jsonb_array_elements(metadatas))
      WITH ORDINALITY AS x(si, k, t, o, i, u, h, r, a, d, m, p);
  PERFORM pg_notify(channel, (at_head + n)::text);
  RETURN QUERY SELECT at_head + n, bases;
END $$;

-- Down Migration
-- The function of 1732420800000_append-by-columns.sql.
CREATE OR REPLACE FUNCTION ledger_append_new_events(stream_ids text[], stream_index int[], stream_places int[],
                                         types text[], sources text[], source_event_ids text[],
                                         subjects text[], payload_hashes bytea[], datas jsonb,
                                         metadatas jsonb, raws text[], occurred timestamptz[],
                                         channel text)
RETURNS TABLE (head bigint, base_versions int[])
LANGUAGE plpgsql VOLATILE SET plan_cache_mode = force_generic_plan AS $$
DECLARE
  at_head bigint;
  bases int[];
  n int := cardinality(source_event_ids);
BEGIN
  IF cardinality(stream_index) <> n OR cardinality(stream_places) <> n OR cardinality(types) <> n
     OR cardinality(sources) <> n OR cardinality(subjects) <> n OR cardinality(payload_hashes) <> n
     OR cardinality(raws) <> n OR cardinality(occurred) <> n
     OR jsonb_array_length(datas) <> n OR jsonb_array_length(metadatas) <> n THEN
    -- ROWS FROM would pad the shorter ones with NULLs.
    RAISE EXCEPTION 'ledger_append_new_events: the column arrays differ in length' USING ERRCODE = 'invalid_parameter_value';
  END IF;
  -- One index probe per id and per stream (LATERAL ... LIMIT 1 is never turned into a join, which
  -- stale or missing statistics would make a hash over a scan of the whole table).
  IF EXISTS (SELECT 1
               FROM unnest(sources, source_event_ids) AS k(source, source_event_id)
              CROSS JOIN LATERAL (SELECT 1 FROM events e
                                   WHERE e.source = k.source AND e.source_event_id = k.source_event_id LIMIT 1) e) THEN
    RETURN;
  END IF;
  UPDATE log_head SET position = position + n RETURNING position - n INTO at_head;
  SELECT array_agg(coalesce(t.stream_version, 0) ORDER BY s.ord) INTO bases
    FROM unnest(stream_ids) WITH ORDINALITY AS s(stream_id, ord)
    LEFT JOIN LATERAL (SELECT e.stream_version FROM events e WHERE e.stream_id = s.stream_id
                        ORDER BY e.stream_version DESC LIMIT 1) t ON true;
  INSERT INTO events (position, stream_id, stream_version, type, source,
                      source_event_id, subject, payload_hash, data, metadata, raw, occurred_at)
  SELECT at_head + x.p, stream_ids[x.si], bases[x.si] + x.k, x.t, x.o, x.i, x.u, x.h, x.d, x.m, x.r, x.a
    FROM ROWS FROM (unnest(stream_index, stream_places, types, sources, source_event_ids, subjects,
                           payload_hashes, raws, occurred),
                    jsonb_array_elements(datas), jsonb_array_elements(metadatas))
      WITH ORDINALITY AS x(si, k, t, o, i, u, h, r, a, d, m, p);
  PERFORM pg_notify(channel, (at_head + n)::text);
  RETURN QUERY SELECT at_head + n, bases;
END $$;
