-- Up Migration

-- One group append in one statement, so the log lock is held only while the server works and
-- commits, never across a round trip to the appender (whose event loop may be busy with HTTP).
--
-- The appender has already read the group's streams and dedupe keys outside the lock and
-- planned it: `doc` holds the rows, `p` the offset of each position after the head (1..n) and
-- `v` its stream version. If another appender wrote one of those streams or recorded one of
-- those source events since the read, the insert fails on a unique key: on
-- (stream_id, stream_version), because stream versions are contiguous and the other appender
-- took the next one, or on (source, source_event_id). Nothing is written and the appender
-- plans the group again under the lock. Called outside an explicit transaction, the statement
-- commits before the lock is released, so positions stay gap-free and in commit order.
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

-- Down Migration
DROP FUNCTION ledger_append(jsonb, text[], int[], int, text);
