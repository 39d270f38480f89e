import { mkdir, readFile, readdir, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { CacheAdapter, CachedState } from '../types.js';

const STATE_FILE = 'state.json';
const SHARDS_DIR = 'shards';
const HEX64 = /^[0-9a-f]{64}$/;

type StateFile = Omit<CachedState, 'shards' | 'shardHashes'> & { readonly shardHashes: readonly string[] };

/**
 * A {@link CacheAdapter} that keeps the verifier's state in a directory: `state.json` (manifest,
 * highest seq/ver, time floor, key evidence) and one immutable file per shard, named by its
 * SHA-256. It stores shards itself (`loadShard`/`saveShard`), so the verifier reads them one at a
 * time while re-verifying and keeps no shard text in memory. Writes are atomic (temporary file,
 * then rename); a shard is written once. Nothing read back is trusted: the verifier re-verifies it.
 *
 * @example
 * ```ts
 * import { createDirectoryCache } from '@app/verifier/node';
 * const verifier = createVerifier({ ...options, cache: createDirectoryCache('/var/cache/verifier') });
 * ```
 */
export function createDirectoryCache(dir: string): CacheAdapter {
  const shardsDir = join(dir, SHARDS_DIR);
  // shards this adapter wrote itself; one read back is written again when handed over, in case it was damaged
  let written = new Set<string>();
  let lastManifest: string | null | undefined;
  let dirReady: Promise<unknown> | null = null;

  async function writeAtomic(path: string, data: string): Promise<void> {
    const tmp = `${path}.${Date.now().toString(36)}${Math.random().toString(36).slice(2)}.tmp`;
    await writeFile(tmp, data, { mode: 0o600 });
    await rename(tmp, path);
  }

  async function writeShard(hash: string, text: string): Promise<void> {
    if (written.has(hash)) return;
    await (dirReady ??= mkdir(shardsDir, { recursive: true, mode: 0o700 }).catch((e: unknown) => {
      dirReady = null;
      throw e;
    }));
    await writeAtomic(join(shardsDir, `${hash}.json`), text);
    written.add(hash);
  }

  return {
    async load() {
      let raw: string;
      try {
        raw = await readFile(join(dir, STATE_FILE), 'utf8');
      } catch (e) {
        if ((e as { code?: string }).code === 'ENOENT') return null;
        throw e;
      }
      const state = JSON.parse(raw) as StateFile;
      const shardHashes = (Array.isArray(state.shardHashes) ? state.shardHashes : []).filter((h): h is string => typeof h === 'string' && HEX64.test(h));
      // shards are read one at a time through loadShard, while the verifier re-verifies them
      return { ...state, shards: {}, shardHashes };
    },

    async loadShard(hash) {
      if (!HEX64.test(hash)) return null;
      try {
        return await readFile(join(shardsDir, `${hash}.json`));
      } catch (e) {
        // a missing shard fails re-verification, which is the point
        if ((e as { code?: string }).code === 'ENOENT') return null;
        throw e;
      }
    },

    async saveShard(hash, text) {
      if (HEX64.test(hash)) await writeShard(hash, text);
    },

    async save(state) {
      await mkdir(shardsDir, { recursive: true, mode: 0o700 });
      const given = Object.keys(state.shards).filter((h) => HEX64.test(h));
      for (const hash of given) await writeShard(hash, state.shards[hash] ?? '');
      const hashes = [...new Set([...(state.shardHashes ?? []).filter((h) => HEX64.test(h)), ...given])];
      const { shards: _shards, shardHashes: _hashes, ...rest } = state;
      const file: StateFile = { ...rest, shardHashes: hashes };
      await writeAtomic(join(dir, STATE_FILE), JSON.stringify(file));
      if (state.manifest !== lastManifest) {
        lastManifest = state.manifest;
        const keep = new Set(hashes.map((h) => `${h}.json`));
        for (const name of await readdir(shardsDir)) {
          if (!keep.has(name)) await rm(join(shardsDir, name), { force: true });
        }
        written = new Set([...written].filter((h) => keep.has(`${h}.json`)));
      }
    },
  };
}
