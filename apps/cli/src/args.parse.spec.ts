import { InvalidArgumentError } from 'commander';
import { parseBaseUrl, parseGrantValue, parseInstant, parsePosition, parseScopes, pointQuery } from './args.parse.js';

describe('parseGrantValue', () => {
  it.each([
    ['true', true],
    ['false', false],
    ['50', 50],
    ['-3', -3],
    ['0', 0],
    ['2.5', 2.5],
    ['.5', 0.5],
    ['1e3', '1e3'],
    ['gold', 'gold'],
    ['True', 'True'],
    ['', ''],
  ])('%j → %j', (raw, expected) => {
    expect(parseGrantValue(raw)).toEqual(expected);
  });

  it('refuses an integer beyond 2^53 rather than rounding it', () => {
    expect(() => parseGrantValue('9007199254740993')).toThrow(InvalidArgumentError);
  });
});

describe('parseInstant', () => {
  it('normalises zoned ISO-8601 times to UTC', () => {
    expect(parseInstant('2026-11-24T10:00:00Z')).toBe('2026-11-24T10:00:00.000Z');
    expect(parseInstant('2026-11-24T11:00:00+01:00')).toBe('2026-11-24T10:00:00.000Z');
    expect(parseInstant('2026-11-24T10:00Z')).toBe('2026-11-24T10:00:00.000Z');
    expect(parseInstant('2026-11-24T10:00:00.123456Z')).toBe('2026-11-24T10:00:00.123Z');
  });

  it.each(['yesterday', '2026-11-24', '2026-11-24T10:00:00', '2026-13-40T10:00:00Z', '1732442400'])('refuses %j', (raw) => {
    expect(() => parseInstant(raw)).toThrow(InvalidArgumentError);
  });
});

describe('parsePosition', () => {
  it('takes whole numbers only', () => {
    expect(parsePosition('0')).toBe(0);
    expect(parsePosition('1234')).toBe(1234);
    for (const bad of ['-1', '1.5', 'abc', '', '1e3', '1234567890123456']) expect(() => parsePosition(bad)).toThrow(InvalidArgumentError);
  });
});

describe('parseScopes', () => {
  it('splits on commas, trims, drops empties and duplicates', () => {
    expect(parseScopes('events:write, entitlements:read,,events:write')).toEqual(['events:write', 'entitlements:read']);
    expect(() => parseScopes(' , ')).toThrow(InvalidArgumentError);
  });
});

describe('parseBaseUrl', () => {
  it('keeps http(s) URLs without a trailing slash, path prefixes included', () => {
    expect(parseBaseUrl('http://127.0.0.1:3000/')).toBe('http://127.0.0.1:3000');
    expect(parseBaseUrl('https://ledger.test/prefix//')).toBe('https://ledger.test/prefix');
    expect(() => parseBaseUrl('ftp://x')).toThrow(InvalidArgumentError);
    expect(() => parseBaseUrl('localhost:3000x')).toThrow(InvalidArgumentError);
  });
});

describe('pointQuery', () => {
  it('builds ?at= and ?position= as the read endpoints name them', () => {
    expect(pointQuery({})).toBe('');
    expect(pointQuery({ position: 12 })).toBe('?position=12');
    expect(pointQuery({ at: '2026-11-24T10:00:00.000Z' })).toBe('?at=2026-11-24T10%3A00%3A00.000Z');
    expect(pointQuery({ at: '2026-11-24T10:00:00.000Z', position: 3 })).toBe('?at=2026-11-24T10%3A00%3A00.000Z&position=3');
  });
});
