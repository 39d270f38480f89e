import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { PayloadInvalidError } from './billing.errors.js';
import { canonicalJson, sha256OfCanonical } from './canonical-json.hash.js';
import { parseJsonBody } from './json-body.parser.js';

// Rebuilds every object with its keys in a different (reversed) insertion order.
function reorder(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(reorder);
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).reverse().map(([k, v]) => [k, reorder(v)]));
  }
  return value;
}

describe('canonicalJson', () => {
  it('sorts keys recursively and keeps array order', () => {
    expect(canonicalJson({ b: 1, a: { d: [2, { z: true, y: null }], c: 'x' } })).toBe(
      '{"a":{"c":"x","d":[2,{"y":null,"z":true}]},"b":1}',
    );
  });

  it('sorts by UTF-16 code units and escapes as JSON does', () => {
    expect(canonicalJson({ é: 1, z: 2, Z: 3, '\u20ac': 4, '"q"': 'line\nbreak' })).toBe(
      '{"\\"q\\"":"line\\nbreak","Z":3,"z":2,"é":1,"€":4}',
    );
  });

  it('follows JSON.stringify for undefined, non-finite numbers and toJSON', () => {
    expect(canonicalJson({ a: undefined, b: [undefined, Number.NaN], c: new Date(0) })).toBe(
      '{"b":[null,null],"c":"1970-01-01T00:00:00.000Z"}',
    );
  });

  it('refuses what has no JSON form', () => {
    const cyclic: Record<string, unknown> = {};
    cyclic['self'] = cyclic;
    expect(() => canonicalJson(cyclic)).toThrow(TypeError);
    expect(() => canonicalJson(10n)).toThrow(TypeError);
    expect(() => canonicalJson(undefined)).toThrow(TypeError);
  });

  it('refuses absurd nesting as a payload problem rather than overflowing the stack', () => {
    const deep = JSON.parse(`${'['.repeat(5000)}${']'.repeat(5000)}`) as unknown;
    expect(() => canonicalJson(deep)).toThrow(PayloadInvalidError);
  });

  it('allows 512 levels below the top and refuses a value deeper than that', () => {
    const nested = (levels: number): unknown => JSON.parse(`${'['.repeat(levels + 1)}${']'.repeat(levels + 1)}`);
    expect(canonicalJson(nested(512))).toBe(`${'['.repeat(513)}${']'.repeat(513)}`);
    expect(() => canonicalJson(nested(513))).toThrow(PayloadInvalidError);
  });

  // The definition, without the speed: stored payload hashes depend on these exact bytes.
  const plain = (v: unknown): string =>
    Array.isArray(v)
      ? `[${v.map(plain).join(',')}]`
      : v !== null && typeof v === 'object'
        ? `{${Object.keys(v).sort().map((k) => `${JSON.stringify(k)}:${plain((v as Record<string, unknown>)[k])}`).join(',')}}`
        : JSON.stringify(v);

  it('is the definition written plainly: keys sorted by code unit, JSON.stringify for the rest (property)', () => {
    fc.assert(fc.property(fc.jsonValue(), (value) => expect(canonicalJson(value)).toBe(plain(value))), { numRuns: 500 });
  });

  it('is the definition for objects of many keys, and for names it has quoted before (property)', () => {
    // Objects of more than 24 keys are sorted another way than smaller ones, and key names are
    // quoted from a cache: the same names, in objects of every size, again and again. Long names
    // (not cached) and names that need escapes are among them.
    const names = fc.oneof(
      fc.constantFrom('id', 'a', 'B', 'é', '€', '"q"', 'line\nbreak', '\u0000', '10', '9', '\ud83d', 'x'.repeat(65)),
      fc.string({ unit: 'binary', maxLength: 80 }),
    );
    const doc = fc.dictionary(names, fc.jsonValue({ maxDepth: 2 }), { minKeys: 0, maxKeys: 60 });
    fc.assert(fc.property(doc, (value) => expect(canonicalJson(value)).toBe(plain(value))), { numRuns: 1_000 });
  });

  it('answers the same after the quoted-key cache has been filled and emptied', () => {
    const wide = Object.fromEntries(Array.from({ length: 12_000 }, (_, i) => [`k${i}`, i]));
    expect(canonicalJson(wide)).toBe(plain(wide));
    expect(canonicalJson(wide)).toBe(plain(wide));
  });

  it('is independent of key order and parses back to the same value (property)', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        const canonical = canonicalJson(value);
        expect(canonicalJson(reorder(value))).toBe(canonical);
        expect(canonicalJson(JSON.parse(canonical))).toBe(canonical);
        expect(JSON.parse(canonical)).toEqual(JSON.parse(JSON.stringify(value)));
      }),
    );
  });
});

describe('sha256OfCanonical', () => {
  it('hashes the canonical UTF-8 text', () => {
    const expected = createHash('sha256').update('{"a":1,"b":"ü"}', 'utf8').digest();
    expect(sha256OfCanonical({ b: 'ü', a: 1 }).equals(expected)).toBe(true);
    expect(sha256OfCanonical({ a: 1 })).toHaveLength(32);
  });
});

describe('parseJsonBody', () => {
  it('parses raw bytes', () => {
    expect(parseJsonBody(Buffer.from('{"id":"evt_1","n":[1,2]}'))).toEqual({ id: 'evt_1', n: [1, 2] });
  });

  it.each([
    ['malformed JSON', Buffer.from('{"id":'), /not valid JSON/],
    ['invalid UTF-8', Buffer.from([0x7b, 0xff, 0x7d]), /not valid UTF-8/],
    ['an empty body', Buffer.alloc(0), /not valid JSON/],
  ])('refuses %s as PAYLOAD_INVALID at the root', (_, body, message) => {
    try {
      parseJsonBody(body);
      throw new Error('expected a PayloadInvalidError');
    } catch (e) {
      expect(e).toBeInstanceOf(PayloadInvalidError);
      const issues = (e as PayloadInvalidError).issues;
      expect(issues).toHaveLength(1);
      expect(issues[0]?.path).toBe('');
      expect(issues[0]?.message).toMatch(message);
      expect((e as PayloadInvalidError).code).toBe('PAYLOAD_INVALID');
    }
  });
});
