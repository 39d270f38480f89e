/**
 * Query parameters in PostgreSQL's binary format (node-postgres sends a Buffer value as a
 * binary parameter, and every other value as text). The append path sends its column arrays
 * this way: the server takes each element by its length prefix instead of parsing an array
 * literal (quotes, backslash escapes, `\x` hex for bytea), and this process writes each value
 * once into one buffer instead of escaping it into a literal, joining the literals and copying
 * the joined string again to encode it.
 *
 * The formats are PostgreSQL's `array_send`/`array_recv` (one dimension, lower bound 1), and
 * `jsonb_send`/`jsonb_recv` (version byte 1, then the JSON text). The statement must declare
 * each parameter's type (`$1::text[]`): a binary value is read as that type, whose element type
 * must be the one written here.
 */

/** Element type OIDs (pg_type): fixed since PostgreSQL 7. */
const BYTEA_OID = 17;
const INT4_OID = 23;
const TEXT_OID = 25;

/** ndim, has-nulls flag, element type, then the dimension's length and lower bound. */
const ARRAY_HEADER_BYTES = 20;
const JSONB_VERSION = 1;

function arrayHeader(size: number, elementOid: number, count: number, hasNull: boolean): Buffer {
  const buf = Buffer.allocUnsafe(size);
  buf.writeInt32BE(1, 0);
  buf.writeInt32BE(hasNull ? 1 : 0, 4);
  buf.writeInt32BE(elementOid, 8);
  buf.writeInt32BE(count, 12);
  buf.writeInt32BE(1, 16);
  return buf;
}

/** A `text[]` parameter; null elements are SQL NULL. Strings are written as UTF-8 (a lone surrogate as U+FFFD, as for a text parameter). */
export function textArrayParam(values: ReadonlyArray<string | null>): Buffer {
  let size = ARRAY_HEADER_BYTES;
  let hasNull = false;
  for (const v of values) {
    if (v === null) {
      size += 4;
      hasNull = true;
    } else {
      size += 4 + Buffer.byteLength(v, 'utf8');
    }
  }
  const buf = arrayHeader(size, TEXT_OID, values.length, hasNull);
  let at = ARRAY_HEADER_BYTES;
  for (const v of values) {
    if (v === null) {
      buf.writeInt32BE(-1, at);
      at += 4;
    } else {
      const n = buf.write(v, at + 4, 'utf8');
      buf.writeInt32BE(n, at);
      at += 4 + n;
    }
  }
  return buf;
}

/** An `int4[]` parameter. */
export function int4ArrayParam(values: readonly number[]): Buffer {
  const buf = arrayHeader(ARRAY_HEADER_BYTES + values.length * 8, INT4_OID, values.length, false);
  let at = ARRAY_HEADER_BYTES;
  for (const v of values) {
    buf.writeInt32BE(4, at);
    buf.writeInt32BE(v, at + 4);
    at += 8;
  }
  return buf;
}

/** A `bytea[]` parameter. */
export function byteaArrayParam(values: readonly Buffer[]): Buffer {
  let size = ARRAY_HEADER_BYTES;
  for (const v of values) size += 4 + v.length;
  const buf = arrayHeader(size, BYTEA_OID, values.length, false);
  let at = ARRAY_HEADER_BYTES;
  for (const v of values) {
    buf.writeInt32BE(v.length, at);
    v.copy(buf, at + 4);
    at += 4 + v.length;
  }
  return buf;
}

/** A `jsonb` parameter holding the JSON array of `elements`, each already JSON text. */
export function jsonbArrayParam(elements: readonly string[]): Buffer {
  // The version byte, the brackets and a comma between elements.
  let size = 1 + 2 + Math.max(0, elements.length - 1);
  for (const e of elements) size += Buffer.byteLength(e, 'utf8');
  const buf = Buffer.allocUnsafe(size);
  buf[0] = JSONB_VERSION;
  buf[1] = 0x5b; // [
  let at = 2;
  for (let i = 0; i < elements.length; i++) {
    if (i > 0) buf[at++] = 0x2c; // ,
    at += buf.write(elements[i]!, at, 'utf8');
  }
  buf[at] = 0x5d; // ]
  return buf;
}
