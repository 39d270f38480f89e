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

  it('loads nothing from an empty directory, then what it saved', async () => {
    const cache = createDirectoryCache(dir);
    expect(await cache.load()).toBeNull();
    const saved = state('m1', { ['a'.repeat(64)]: '{"shard":0}', ['b'.repeat(64)]: '{"shard":1}' });
    await cache.save(saved);
    expect(await createDirectoryCache(dir).load()).toEqual(saved);
  });

  it('writes each shard once and prunes the shards a new manifest dropped', async () => {
    const cache = createDirectoryCache(dir);
    await cache.save(state('m1', { ['a'.repeat(64)]: 'A', ['b'.repeat(64)]: 'B' }));
    await writeFile(join(dir, 'shards', `${'a'.repeat(64)}.json`), 'damaged');
    await cache.save(state('m1', { ['a'.repeat(64)]: 'A', ['b'.repeat(64)]: 'B' }));
    expect((await cache.load())!.shards['a'.repeat(64)]).toBe('damaged'); // the verifier re-verifies and refuses it
    await cache.save(state('m2', { ['c'.repeat(64)]: 'C', ['b'.repeat(64)]: 'B' }));
    expect((await readdir(join(dir, 'shards'))).sort()).toEqual([`${'b'.repeat(64)}.json`, `${'c'.repeat(64)}.json`]);
  });

  it('rewrites shards read back from disk on the next manifest save', async () => {
    await createDirectoryCache(dir).save(state('m1', { ['a'.repeat(64)]: 'A' }));
    await writeFile(join(dir, 'shards', `${'a'.repeat(64)}.json`), 'damaged');
    const restarted = createDirectoryCache(dir);
    await restarted.load();
    await restarted.save(state('m2', { ['a'.repeat(64)]: 'A' }));
    expect((await restarted.load())!.shards['a'.repeat(64)]).toBe('A');
  });
});
