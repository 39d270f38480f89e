import type pg from 'pg';
import { createTestDatabase, type TestDatabase } from '../../../test/support/test-database.js';
import { createPool } from './index.js';
import { byteaArrayParam, int4ArrayParam, jsonbArrayParam, textArrayParam } from './binary-params.js';

/** The binary parameters read back by a real server, against the same values sent as text. */
describe('binary parameters', () => {
  let db: TestDatabase;
  let pool: pg.Pool;

  beforeAll(async () => {
    db = await createTestDatabase({ migrate: false });
    pool = createPool({ connectionString: db.url, max: 1 });
  });

  afterAll(async () => {
    await pool.end();
    await db.drop();
  });

  const roundTrip = async (cast: string, param: Buffer): Promise<unknown> =>
    (await pool.query<{ v: unknown }>(`SELECT $1::${cast} AS v`, [param])).rows[0]!.v;

  it('text[]: empty, nulls, quotes, backslashes, commas, braces, multi-byte and astral characters', async () => {
    const values = ['', null, 'a"b', 'c\\d', 'e,f', '{g}', 'NULL', ' lead and trail ', 'héllo wörld', '日本語', '😀 emoji', 'x'.repeat(5000)];
    expect(await roundTrip('text[]', textArrayParam(values))).toEqual(values);
    expect(await roundTrip('text[]', textArrayParam([]))).toEqual([]);
    // The same literal the text format would give: element by element, and its cardinality.
    const { rows } = await pool.query<{ same: boolean; n: number }>(
      'SELECT $1::text[] IS NOT DISTINCT FROM $2::text[] AS same, cardinality($1::text[]) AS n',
      [textArrayParam(values), values],
    );
    expect(rows[0]).toEqual({ same: true, n: values.length });
  });

  it('text[]: a lone surrogate is written as U+FFFD, as a text parameter writes it', async () => {
    const { rows } = await pool.query<{ binary: string[]; text: string }>('SELECT $1::text[] AS binary, $2::text AS text', [
      textArrayParam(['a\ud800b']),
      'a\ud800b',
    ]);
    expect(rows[0]!.binary).toEqual([rows[0]!.text]);
    expect(rows[0]!.text).toBe('a\ufffdb');
  });

  it('int4[]: the whole range', async () => {
    const values = [0, 1, -1, 2_147_483_647, -2_147_483_648, 42];
    expect(await roundTrip('int4[]', int4ArrayParam(values))).toEqual(values);
  });

  it('bytea[]: arbitrary bytes, an empty value and a SHA-256 digest', async () => {
    const values = [Buffer.from([0, 1, 2, 255, 0x5c, 0x22]), Buffer.alloc(0), Buffer.alloc(32, 0xab)];
    expect(await roundTrip('bytea[]', byteaArrayParam(values))).toEqual(values);
  });

  it('jsonb: the array of the elements, which the server parses as it parses text', async () => {
    const elements = [{ a: 1, b: [true, null, 'x'] }, 'text with "quotes" and ünïcode', 3.5, null, {}, []].map((v) => JSON.stringify(v));
    expect(await roundTrip('jsonb', jsonbArrayParam(elements))).toEqual(elements.map((e) => JSON.parse(e)));
    expect(await roundTrip('jsonb', jsonbArrayParam([]))).toEqual([]);
    // Malformed JSON is refused by the server as a text parameter would be.
    await expect(roundTrip('jsonb', jsonbArrayParam(['{"a":']))).rejects.toMatchObject({ code: '22P02' });
  });

  it('a binary array of the wrong element type is refused, never read as another type', async () => {
    await expect(roundTrip('int4[]', textArrayParam(['1']))).rejects.toMatchObject({ code: '42804' });
  });
});
