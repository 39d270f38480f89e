import { createHash } from 'node:crypto';
import { PayloadInvalidError } from './billing.errors.js';

const MAX_DEPTH = 512;

function write(value: unknown, depth: number, seen: Set<object>, out: string[], inArray: boolean): boolean {
  if (depth > MAX_DEPTH) {
    throw new PayloadInvalidError([{ path: '', message: `nests deeper than ${MAX_DEPTH} levels` }]);
  }
  if (value !== null && typeof value === 'object' && typeof (value as { toJSON?: unknown }).toJSON === 'function') {
    value = (value as { toJSON(): unknown }).toJSON();
  }
  switch (typeof value) {
    case 'string':
    case 'boolean':
      out.push(JSON.stringify(value));
      return true;
    case 'number':
      // JSON.stringify's number form is the one RFC 8785 prescribes; non-finite become null.
      out.push(Number.isFinite(value) ? JSON.stringify(value) : 'null');
      return true;
    case 'bigint':
      throw new TypeError('a bigint has no JSON form');
    case 'undefined':
    case 'function':
    case 'symbol':
      if (inArray) out.push('null');
      return inArray;
    case 'object':
      break;
  }
  if (value === null) {
    out.push('null');
    return true;
  }
  const obj = value as object;
  if (seen.has(obj)) throw new TypeError('cannot serialise a cyclic structure');
  seen.add(obj);
  if (Array.isArray(obj)) {
    out.push('[');
    obj.forEach((item: unknown, i) => {
      if (i > 0) out.push(',');
      write(item, depth + 1, seen, out, true);
    });
    out.push(']');
  } else {
    out.push('{');
    let first = true;
    // Default sort compares UTF-16 code units, as RFC 8785 requires.
    for (const key of Object.keys(obj).sort()) {
      const mark = out.length;
      out.push(first ? '' : ',', JSON.stringify(key), ':');
      if (write((obj as Record<string, unknown>)[key], depth + 1, seen, out, false)) first = false;
      else out.length = mark;
    }
    out.push('}');
  }
  seen.delete(obj);
  return true;
}

/**
 * Serialises a JSON value with object keys sorted recursively (RFC 8785 style for anything
 * `JSON.parse` produces), so two equal documents give the same string whatever their key
 * order or whitespace. Follows `JSON.stringify` for the rest (`toJSON`, `undefined` members
 * omitted, `undefined` array items and non-finite numbers as `null`).
 *
 * @throws {PayloadInvalidError} nesting deeper than 512 levels
 * @throws {TypeError} a bigint, a cycle, or nothing serialisable at the top level
 *
 * @example
 * ```ts
 * canonicalJson({ b: 1, a: { d: [2, 1], c: null } }); // '{"a":{"c":null,"d":[2,1]},"b":1}'
 * ```
 */
export function canonicalJson(value: unknown): string {
  const out: string[] = [];
  if (!write(value, 0, new Set(), out, false)) throw new TypeError('the value has no JSON form');
  return out.join('');
}

/**
 * SHA-256 (32 bytes) of {@link canonicalJson}: the "same body" hash for deduplication.
 *
 * @example
 * ```ts
 * sha256OfCanonical({ a: 1, b: 2 }).equals(sha256OfCanonical({ b: 2, a: 1 })); // true
 * ```
 */
export function sha256OfCanonical(value: unknown): Buffer {
  return createHash('sha256').update(canonicalJson(value), 'utf8').digest();
}
