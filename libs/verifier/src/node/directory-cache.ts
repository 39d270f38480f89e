import { mkdir, readFile, readdir, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { isAscii } from 'node:buffer';
import type { CacheAdapter, CachedState } from '../types.js';

const STATE_FILE = 'state.json';
const SHARDS_DIR = 'shards';
const HEX64 = /^[0-9a-f]{64}$/;
const READ_CONCURRENCY = 8;

/**
 * UTF-8 bytes as one flat string (readFile's 'utf8' builds large files from chunks). ASCII, what
 * the ledger's shards are, is copied as Latin-1: the same characters, without UTF-8 decoding.
 */
function decode(bytes: Buffer): string {
  return isAscii(bytes) ? bytes.toString('latin1') : bytes.toString('utf8');
}

type StateFile = Omit<CachedState, 'shards'> & { readonly shardHashes: readonly string[] };

/**
 * A {@link CacheAdapter} that keeps the verifier's state in a directory: `state.json` (manifest,
 * highest seq/ver, time floor, key evidence) and one immutable file per shard, named by its
 * SHA-256. Writes are atomic (temporary file, then rename); a shard is written once. Nothing read
 * back is trusted: the verifier re-verifies it.
 *
 * @example
 * ```ts
 * import { createDirectoryCache } from '@app/verifier/node';
 * const verifier = createVerifier({ ...options, cache: createDirectoryCache('/var/cache/verifier') });
 * ```
 */
export function createDirectoryCache(dir: string): CacheAdapter {
  const shardsDir = join(dir, SHARDS_DIR);
  // shards this adapter wrote itself; those read back are rewritten once, in case they were damaged
  let written = new Set<string>();
  let lastManifest: string | null | undefined;

  async function writeAtomic(path: string, data: string): Promise<void> {
    const tmp = `${path}.${Date.now().toString(36)}${Math.random().toString(36).slice(2)}.tmp`;
    await writeFile(tmp, data, { mode: 0o600 });
    await rename(tmp, path);
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
      const shards: Record<string, string> = {};
      const hashes = (Array.isArray(state.shardHashes) ? state.shardHashes : []).filter((h): h is string => typeof h === 'string' && HEX64.test(h));
      let next = 0;
      const reader = async (): Promise<void> => {
        while (next < hashes.length) {
          const hash = hashes[next++]!;
          try {
            shards[hash] = decode(await readFile(join(shardsDir, `${hash}.json`)));
          } catch {
            // a missing shard fails re-verification, which is the point
          }
        }
      };
      // a few reads in flight: the files are small, and one at a time leaves the disk idle
      await Promise.all(Array.from({ length: READ_CONCURRENCY }, reader));
      const { shardHashes: _omitted, ...rest } = state;
      return { ...rest, shards };
    },

    async save(state) {
      await mkdir(shardsDir, { recursive: true, mode: 0o700 });
      const hashes = Object.keys(state.shards).filter((h) => HEX64.test(h));
      for (const hash of hashes) {
        if (written.has(hash)) continue;
        await writeAtomic(join(shardsDir, `${hash}.json`), state.shards[hash] ?? '');
        written.add(hash);
      }
      const { shards: _shards, ...rest } = state;
      const file: StateFile = { ...rest, shardHashes: hashes };
      await writeAtomic(join(dir, STATE_FILE), JSON.stringify(file));
      if (state.manifest !== lastManifest) {
        lastManifest = state.manifest;
        const keep = new Set(hashes.map((h) => `${h}.json`));
        for (const name of await readdir(shardsDir)) {
          if (!keep.has(name)) await rm(join(shardsDir, name), { force: true });
        }
        written = new Set(hashes);
      }
    },
  };
}
