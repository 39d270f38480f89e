-- Up Migration

-- Three changes to the append path, each measured on a 2-core VM with PostgreSQL 15:
--
-- A stream's version is the highest stream_version of its events, one backward step on the
-- unique (stream_id, stream_version) index, so the `streams` table goes: keeping it cost every
-- group an upsert of each of its streams while the log lock was held.
--
-- The rows come as one array per column, with `data` and `metadata` as one JSON array each,
-- not as one JSON document of row objects: parsing and taking apart that document cost the
-- server about a third of its time per appended event, and building it the appender as much.
-- A row's position is its place in the arrays (1..n) after the head.
--
-- Each function takes the log lock by moving the head (UPDATE ... RETURNING, one statement where
-- there were two) and plans its statements once per session: with plan_cache_mode at `auto`
-- PostgreSQL planned them again on every call (the arrays' lengths make each custom plan look
-- cheaper than the generic one), which cost a small group about a third of its server time.
-- The generic plans are the ones wanted at every size (index probes per key; see below).
--
-- Every instance must run this version once the migration has run: an older instance would
-- read versions from the table this drops and call the functions it replaces.

DROP FUNCTION ledger_append(jsonb, text[], int[], int, text);
DROP FUNCTION ledger_append_new_events(jsonb, text[], int[], text[], text[], int, text);
DROP TABLE streams;

-- `data` is JSON, never JSON null (jsonb_array_elements would store a null element as one, where
-- the row documents before gave SQL NULL and the NOT NULL refused it). NOT VALID: no row holds
-- one, and a check of the whole log would hold its lock for as long as the scan takes.
ALTER TABLE events ADD CONSTRAINT events_data_not_json_null CHECK (jsonb_typeof(data) <> 'null') NOT VALID;

-- See 1732420600000_append-function.sql: the planned group append, each row with its stream and
-- the version planned for it. An appender that wrote one of the streams or recorded one of the
-- events since the plan was read makes the insert fail on a unique key; nothing is written and
-- the group is planned again under the lock.
CREATE FUNCTION ledger_append(stream_ids text[], stream_versions int[], types text[], sources text[],
                              source_event_ids text[], subjects text[], payload_hashes bytea[],
                              datas jsonb, metadatas jsonb, raws text[], occurred timestamptz[],
                              channel text)
RETURNS bigint
LANGUAGE plpgsql VOLATILE SET plan_cache_mode = force_generic_plan AS $$
DECLARE
  head bigint;
  n int := cardinality(source_event_ids);
BEGIN
  IF cardinality(stream_ids) <> n OR cardinality(stream_versions) <> n OR cardinality(types) <> n
     OR cardinality(sources) <> n OR cardinality(subjects) <> n OR cardinality(payload_hashes) <> n
     OR cardinality(raws) <> n OR cardinality(occurred) <> n
     OR jsonb_array_length(datas) <> n OR jsonb_array_length(metadatas) <> n THEN
    -- ROWS FROM would pad the shorter ones with NULLs.
    RAISE EXCEPTION 'ledger_append: the column arrays differ in length' USING ERRCODE = 'invalid_parameter_value';
  END IF;
  UPDATE log_head SET position = position + n RETURNING position - n INTO head;
  INSERT INTO events (position, stream_id, stream_version, type, source,
                      source_event_id, subject, payload_hash, data, metadata, raw, occurred_at)
  SELECT head + x.p, x.s, x.v, x.t, x.o, x.i, x.u, x.h, x.d, x.m, x.r, x.a
    FROM ROWS FROM (unnest(stream_ids, stream_versions, types, sources, source_event_ids, subjects,
                           payload_hashes, raws, occurred),
                    jsonb_array_elements(datas), jsonb_array_elements(metadatas))
      WITH ORDINALITY AS x(s, v, t, o, i, u, h, r, a, d, m, p);
  PERFORM pg_notify(channel, (head + n)::text);
  RETURN head + n;
END $$;

-- See 1732420700000_append-new-events-function.sql: a group whose events are all new and whose
-- units state no expected version but 'any', in one round trip. Each row names its stream by
-- its index in `stream_ids` (`stream_index`, from 1) and its place among the group's events of
-- that stream (`stream_places`, from 1). Outside the lock the ids are looked up (no row
-- returned, nothing written, if any is recorded); under it the streams' versions are read, so
-- they cannot go stale, and the rows are inserted at head + their place with version + place.
CREATE FUNCTION ledger_append_new_events(stream_ids text[], stream_index int[], stream_places int[],
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

-- Down Migration
-- Stop every instance first. The lock keeps appenders out while the versions are copied back.
LOCK TABLE log_head;
ALTER TABLE events DROP CONSTRAINT events_data_not_json_null;
DROP FUNCTION ledger_append_new_events(text[], int[], int[], text[], text[], text[], text[], bytea[], jsonb, jsonb, text[], timestamptz[], text);
DROP FUNCTION ledger_append(text[], int[], text[], text[], text[], text[], bytea[], jsonb, jsonb, text[], timestamptz[], text);

CREATE TABLE streams (
  stream_id text    PRIMARY KEY,
  version   integer NOT NULL
);
INSERT INTO streams (stream_id, version)
SELECT stream_id, max(stream_version) FROM events GROUP BY stream_id;

CREATE FUNCTION ledger_append(doc jsonb, stream_ids text[], stream_versions int[], n int, channel text)
RETURNS bigint
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
  head bigint;
BEGIN
  SELECT position INTO head FROM log_head FOR UPDATE;
  INSERT INTO events (position, stream_id, stream_version, type, source,
                      source_event_id, subject, payload_hash, data, metadata, raw, occurred_at)
  SELECT head + x.p, x.s, x.v, x.t, x.o, x.i, x.u, decode(x.h, 'hex'), x.d, x.m, x.r, x.a
    FROM jsonb_to_recordset(doc)
      AS x(p bigint, s text, v int, t text, o text, i text, u text, h text, d jsonb, m jsonb, r text, a timestamptz);
  INSERT INTO streams (stream_id, version)
  SELECT * FROM unnest(stream_ids, stream_versions)
  ON CONFLICT (stream_id) DO UPDATE SET version = EXCLUDED.version;
  UPDATE log_head SET position = head + n;
  PERFORM pg_notify(channel, (head + n)::text);
  RETURN head + n;
END $$;

CREATE FUNCTION ledger_append_new_events(doc jsonb, stream_ids text[], stream_counts int[],
                                  sources text[], source_event_ids text[], n int, channel text)
RETURNS TABLE (head bigint, base_versions int[])
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
  at_head bigint;
  bases int[];
BEGIN
  IF EXISTS (SELECT 1
               FROM unnest(sources, source_event_ids) AS k(source, source_event_id)
              CROSS JOIN LATERAL (SELECT 1 FROM events e
                                   WHERE e.source = k.source AND e.source_event_id = k.source_event_id LIMIT 1) e) THEN
    RETURN;
  END IF;
  SELECT position INTO at_head FROM log_head FOR UPDATE;
  SELECT array_agg(coalesce(t.version, 0) ORDER BY s.ord) INTO bases
    FROM unnest(stream_ids) WITH ORDINALITY AS s(stream_id, ord)
    LEFT JOIN LATERAL (SELECT version FROM streams t WHERE t.stream_id = s.stream_id LIMIT 1) t ON true;
  INSERT INTO events (position, stream_id, stream_version, type, source,
                      source_event_id, subject, payload_hash, data, metadata, raw, occurred_at)
  SELECT at_head + x.p, stream_ids[x.si], bases[x.si] + x.k, x.t, x.o, x.i, x.u, decode(x.h, 'hex'), x.d, x.m, x.r, x.a
    FROM jsonb_to_recordset(doc)
      AS x(p bigint, si int, k int, t text, o text, i text, u text, h text, d jsonb, m jsonb, r text, a timestamptz);
  INSERT INTO streams (stream_id, version)
  SELECT s.stream_id, bases[s.ord] + stream_counts[s.ord]
    FROM unnest(stream_ids) WITH ORDINALITY AS s(stream_id, ord)
  ON CONFLICT (stream_id) DO UPDATE SET version = EXCLUDED.version;
  UPDATE log_head SET position = at_head + n;
  PERFORM pg_notify(channel, (at_head + n)::text);
  RETURN QUERY SELECT at_head + n, bases;
END $$;
