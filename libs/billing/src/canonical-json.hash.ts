import { hash } from 'node:crypto';
import { PayloadInvalidError } from './billing.errors.js';

const MAX_DEPTH = 512;

/** Object keys already quoted as JSON strings: an event's objects share a few hundred names. */
const quotedKeys = new Map<string, string>();
const MAX_QUOTED_KEYS = 10_000;
const MAX_CACHED_KEY_LENGTH = 64;

/** `key` as a JSON string, from the cache when it is a short name seen before. */
function quotedKey(key: string): string {
  let quoted = quotedKeys.get(key);
  if (quoted === undefined) {
    quoted = JSON.stringify(key);
    if (key.length <= MAX_CACHED_KEY_LENGTH) {
      if (quotedKeys.size >= MAX_QUOTED_KEYS) quotedKeys.clear();
      quotedKeys.set(key, quoted);
    }
  }
  return quoted;
}

/**
 * Sorts keys by UTF-16 code units, as `Array.prototype.sort` does by default (`>` compares
 * strings the same way); an object's few keys sort faster by insertion than through the
 * generic sort.
 */
function sortKeys(keys: string[]): void {
  const n = keys.length;
  if (n > 24) {
    keys.sort();
    return;
  }
  for (let i = 1; i < n; i++) {
    const key = keys[i]!;
    let j = i - 1;
    while (j >= 0 && keys[j]! > key) {
      keys[j + 1] = keys[j]!;
      j -= 1;
    }
    keys[j + 1] = key;
  }
}

/**
 * Appends the canonical form of `value` to `out`; undefined when it has none (undefined, a
 * function, a symbol), which an object member then omits and an array item writes as null.
 * `path` holds the objects being written, outermost first: a cycle is told apart from mere
 * depth only once the depth limit is passed, so the common case pays nothing for it.
 */
function write(value: unknown, path: object[]): string | undefined {
  if (value !== null && typeof value === 'object' && typeof (value as { toJSON?: unknown }).toJSON === 'function') {
    value = (value as { toJSON(): unknown }).toJSON();
  }
  switch (typeof value) {
    case 'string':
      return JSON.stringify(value);
    case 'boolean':
      return value ? 'true' : 'false';
    case 'number':
      // JSON.stringify's number form is the one RFC 8785 prescribes; non-finite become null.
      return Number.isFinite(value) ? JSON.stringify(value) : 'null';
    case 'bigint':
      throw new TypeError('a bigint has no JSON form');
    case 'undefined':
    case 'function':
    case 'symbol':
      return undefined;
  }
  if (value === null) return 'null';
  const obj = value as object;
  // Members of an object at the limit would lie deeper than it (the top level is depth 0).
  if (path.length >= MAX_DEPTH && (Array.isArray(obj) ? obj.length : Object.keys(obj).length) > 0) {
    if (path.includes(obj)) throw new TypeError('cannot serialise a cyclic structure');
    throw new PayloadInvalidError([{ path: '', message: `nests deeper than ${MAX_DEPTH} levels` }]);
  }
  path.push(obj);
  let out: string;
  if (Array.isArray(obj)) {
    out = '[';
    for (let i = 0; i < obj.length; i++) {
      if (i > 0) out += ',';
      out += write(obj[i], path) ?? 'null';
    }
    out += ']';
  } else {
    out = '{';
    let first = true;
    // By UTF-16 code units, as RFC 8785 requires.
    const keys = Object.keys(obj);
    sortKeys(keys);
    for (let i = 0; i < keys.length; i++) {
      const key = keys[i]!;
      const member = write((obj as Record<string, unknown>)[key], path);
      if (member === undefined) continue;
      out += first ? `${quotedKey(key)}:${member}` : `,${quotedKey(key)}:${member}`;
      first = false;
    }
    out += '}';
  }
  path.pop();
  return out;
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
  const out = write(value, []);
  if (out === undefined) throw new TypeError('the value has no JSON form');
  return out;
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
  return hash('sha256', canonicalJson(value), 'buffer');
}
