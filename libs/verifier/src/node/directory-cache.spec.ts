import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CachedState } from '../types.js';
import { createDirectoryCache } from './index.js';

const state = (manifest: string, shards: Record<string, string>): CachedState => ({
  v: 1,
  manifest,
  shards,
  highestSeq: 3,
  highestVer: 9,
  timeFloor: 1_780_000_000_000,
  keyEvidence: [],
});

describe('createDirectoryCache', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'verifier-cache-'));
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  it('loads nothing from an empty directory, then what it saved; shards one at a time', async () => {
    const cache = createDirectoryCache(dir);
    expect(await cache.load()).toBeNull();
    const saved = state('m1', { ['a'.repeat(64)]: '{"shard":0}', ['b'.repeat(64)]: '{"shard":1}' });
    await cache.save(saved);
    const restarted = createDirectoryCache(dir);
    const { shards, ...rest } = saved;
    expect(await restarted.load()).toEqual({ ...rest, shards: {}, shardHashes: Object.keys(shards) });
    expect(Buffer.from((await restarted.loadShard!('a'.repeat(64)))!).toString()).toBe('{"shard":0}');
    expect(await restarted.loadShard!('c'.repeat(64))).toBeNull();
    expect(await restarted.loadShard!('../state')).toBeNull();
  });

  it('stores shards handed over one at a time, and keeps those the saved state names', async () => {
    const cache = createDirectoryCache(dir);
    await cache.saveShard!('a'.repeat(64), 'A');
    await cache.saveShard!('b'.repeat(64), 'B');
    await cache.save({ ...state('m1', {}), shardHashes: ['a'.repeat(64), 'b'.repeat(64)] });
    expect((await cache.load())!.shardHashes).toEqual(['a'.repeat(64), 'b'.repeat(64)]);
    await cache.saveShard!('c'.repeat(64), 'C');
    await cache.save({ ...state('m2', {}), shardHashes: ['b'.repeat(64), 'c'.repeat(64)] });
    expect((await readdir(join(dir, 'shards'))).sort()).toEqual([`${'b'.repeat(64)}.json`, `${'c'.repeat(64)}.json`]);
    expect(Buffer.from((await createDirectoryCache(dir).loadShard!('c'.repeat(64)))!).toString()).toBe('C');
  });

  it('writes each shard once and prunes the shards a new manifest dropped', async () => {
    const cache = createDirectoryCache(dir);
    await cache.save(state('m1', { ['a'.repeat(64)]: 'A', ['b'.repeat(64)]: 'B' }));
    await writeFile(join(dir, 'shards', `${'a'.repeat(64)}.json`), 'damaged');
    await cache.save(state('m1', { ['a'.repeat(64)]: 'A', ['b'.repeat(64)]: 'B' }));
    expect(Buffer.from((await cache.loadShard!('a'.repeat(64)))!).toString()).toBe('damaged'); // the verifier re-verifies and refuses it
    await cache.save(state('m2', { ['c'.repeat(64)]: 'C', ['b'.repeat(64)]: 'B' }));
    expect((await readdir(join(dir, 'shards'))).sort()).toEqual([`${'b'.repeat(64)}.json`, `${'c'.repeat(64)}.json`]);
  });

  it('rewrites a shard read back from disk when it is handed over again', async () => {
    await createDirectoryCache(dir).save(state('m1', { ['a'.repeat(64)]: 'A' }));
    await writeFile(join(dir, 'shards', `${'a'.repeat(64)}.json`), 'damaged');
    const restarted = createDirectoryCache(dir);
    await restarted.load();
    await restarted.saveShard!('a'.repeat(64), 'A');
    await restarted.save(state('m2', { ['a'.repeat(64)]: 'A' }));
    expect(Buffer.from((await restarted.loadShard!('a'.repeat(64)))!).toString()).toBe('A');
  });
});
