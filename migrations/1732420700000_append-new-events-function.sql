-- Up Migration

-- The common group append in one statement and one round trip: no event of the group is in the
-- log yet and no unit states an expected version other than 'any' (what ingest and the webhooks
-- send). Nothing
-- then needs reading before the group is planned: the appender sends the rows with their
-- offset after the head (`p`), the index of their stream in `stream_ids` (`si`, from 1) and
-- their place among the group's events of that stream (`k`, from 1).
--
-- Outside the lock the function looks the group's source event ids up; if any is recorded it
-- returns no row and writes nothing, and the appender plans the group itself (ledger_append).
-- Otherwise it takes the `log_head` lock, reads the streams' versions under it (so they cannot
-- go stale), inserts at head + p with version + k, moves the streams and the head, notifies,
-- and returns the new head and the versions the streams had before the group (base_versions). If another appender recorded one
-- of the ids after the look-up, the insert fails on (source, source_event_id) and writes
-- nothing; the appender then plans the group under the lock. Called outside an explicit
-- transaction, the statement commits before the lock is released: positions stay gap-free and
-- in commit order.
CREATE FUNCTION ledger_append_new_events(doc jsonb, stream_ids text[], stream_counts int[],
                                  sources text[], source_event_ids text[], n int, channel text)
RETURNS TABLE (head bigint, base_versions int[])
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
  at_head bigint;
  bases int[];
BEGIN
  -- One index probe per id and per stream (LATERAL ... LIMIT 1 is never turned into a join, which
  -- stale or missing statistics would make a hash over a scan of the whole table).
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

-- Down Migration
DROP FUNCTION ledger_append_new_events(jsonb, text[], int[], text[], text[], int, text);
