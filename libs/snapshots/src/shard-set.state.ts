import { assertShardCount, shardOf } from './shard.assign.js';
import { decodeShard } from './shard.decode.js';
import { assembleShard, type EncodedShard, entryJson, type MemberIndex, memberBytes } from './shard.encode.js';
import { isNonNegativeInt } from './ordering.util.js';
import { InvalidArgumentError, InvalidShardError, VerRegressionError } from './snapshot.errors.js';
import type { SubjectEntry } from './subject-entry.build.js';

/** One entry of the manifest's `shards` claim. */
export interface ManifestShard {
  readonly id: number;
  /** Lowercase hex SHA-256 of the shard's bytes: its name under `/v1/snapshots/shards/`. */
  readonly sha256: string;
  /** Subjects in the shard. */
  readonly count: number;
  /** Size of the shard's bytes (a verifier caps its download at this). */
  readonly bytes: number;
}

/** The current state of one shard. */
export interface ShardSnapshot extends EncodedShard {
  readonly id: number;
  /** The position at which this shard's content last changed (0 if never). */
  readonly ver: number;
}

interface ShardSlot {
  encoded: EncodedShard;
  ver: number;
  /**
   * Subject → where its member lies in `encoded.bytes`. The bytes are the only copy of the
   * content: re-encoding reuses unchanged members as views, so a 1M-subject set costs about
   * its shards' size in memory.
   */
  index: MemberIndex;
}

/**
 * Every shard of a snapshot, kept up to date incrementally: a change re-encodes only the
 * shards whose content actually changed; the others keep their bytes, hash and `ver`.
 * No IO; not safe for concurrent callers (one publisher owns it).
 *
 * @example
 * const set = new ShardSet(256);
 * set.applyChanges(new Map([['org_42', subjectEntry(sources, [])]]), 1234); // [254]
 * set.applyChanges(new Map([['org_42', null]]), 1240); // [254]: org_42 left its shard
 * const shards = set.manifestEntries(); // [{ id: 0, sha256: '…', count: 0, bytes: 35 }, …]
 */
export class ShardSet {
  readonly shardCount: number;
  readonly #slots: ShardSlot[];
  readonly #byHash = new Map<string, number>();
  #ver = 0;
  #subjects = 0;

  constructor(shardCount: number) {
    assertShardCount(shardCount);
    if (shardCount > 1 << 20) throw new InvalidArgumentError('a ShardSet holds at most 2^20 shards in memory');
    this.shardCount = shardCount;
    this.#slots = Array.from({ length: shardCount }, (_, id) => {
      const { encoded, index } = assembleShard(id, 0, new Map());
      this.#byHash.set(encoded.sha256, id);
      return { encoded, ver: 0, index };
    });
  }

  /**
   * Builds a set from a subject stream in one pass, each shard encoded once (what
   * `applyChanges` would do with one huge batch, without holding the batch): for a first
   * publication or a rebuild. Shards with subjects get `ver`; empty ones stay at 0.
   *
   * @throws {InvalidArgumentError} a subject given twice
   * @throws {InvalidSubjectEntryError} an entry that cannot be published
   *
   * @example
   * const set = ShardSet.build(256, readModel.streamEntries(), checkpoint);
   */
  static build(shardCount: number, entries: Iterable<readonly [string, SubjectEntry | null]>, ver: number): ShardSet {
    const set = new ShardSet(shardCount);
    if (!isNonNegativeInt(ver)) throw new InvalidArgumentError(`ver must be a non-negative integer, got ${ver}`);
    const members = set.#slots.map(() => new Map<string, string | Uint8Array>());
    for (const [subject, entry] of entries) {
      if (typeof subject !== 'string') throw new InvalidArgumentError('a subject must be a string');
      const shard = members[shardOf(subject, shardCount)] as Map<string, string | Uint8Array>;
      if (shard.has(subject)) throw new InvalidArgumentError(`subject ${JSON.stringify(subject)} is given twice`);
      const json = entry === null ? null : entryJson(entry);
      if (json !== null) shard.set(subject, memberBytes(subject, json));
    }
    members.forEach((m, id) => {
      if (m.size === 0) return;
      const next = assembleShard(id, ver, m);
      set.#install(id, set.#slots[id] as ShardSlot, next.encoded, ver, next.index);
      m.clear();
    });
    set.#ver = ver;
    return set;
  }

  /**
   * Rebuilds a set from previously published shard bytes (after a restart), so unchanged
   * shards keep their `ver` and hash; shards not given start empty at ver 0.
   *
   * @throws {InvalidShardError} bytes that are not a canonical shard of this set
   *
   * @example
   * const set = ShardSet.restore(256, storedShardBytes);
   */
  static restore(shardCount: number, shards: Iterable<Uint8Array>): ShardSet {
    const set = new ShardSet(shardCount);
    const seen = new Set<number>();
    for (const bytes of shards) {
      const decoded = decodeShard(bytes);
      const id = decoded.shard;
      const slot = set.#slots[id];
      if (slot === undefined) throw new InvalidShardError(`shard ${id} is outside 0…${shardCount - 1}`);
      if (seen.has(id)) throw new InvalidShardError(`shard ${id} is given twice`);
      seen.add(id);
      const members = new Map<string, string | Uint8Array>();
      for (const [subject, entry] of decoded.subjects) {
        if (shardOf(subject, shardCount) !== id) {
          throw new InvalidShardError(`subject ${JSON.stringify(subject)} does not belong in shard ${id}`);
        }
        const json = entryJson(entry);
        if (json !== null) members.set(subject, memberBytes(subject, json));
      }
      const next = assembleShard(id, decoded.ver, members);
      if (!next.encoded.bytes.equals(bytes)) throw new InvalidShardError(`shard ${id} is not in the canonical layout`);
      set.#install(id, slot, next.encoded, decoded.ver, next.index);
      set.#ver = Math.max(set.#ver, decoded.ver);
    }
    return set;
  }

  /** The highest `ver` applied so far. */
  get ver(): number {
    return this.#ver;
  }

  /** Subjects held across all shards. */
  get subjectCount(): number {
    return this.#subjects;
  }

  /**
   * Applies a batch of subject changes made at ledger position `ver` (an entry replaces the
   * subject's, null or an empty entry removes it) and returns the ids of the shards whose
   * content changed, ascending. Those get `ver` and new bytes; every other shard is untouched.
   * All-or-nothing: a bad entry throws before anything changes.
   *
   * @throws {VerRegressionError} `ver` lower than one already applied
   * @throws {InvalidSubjectEntryError} an entry that cannot be published
   *
   * @example
   * set.applyChanges(new Map([['org_42', entry], ['org_7', null]]), 1234); // e.g. [12, 254]
   */
  applyChanges(changes: ReadonlyMap<string, SubjectEntry | null>, ver: number): number[] {
    const steps = this.#applySteps(changes, ver);
    for (;;) {
      const step = steps.next();
      if (step.done) return step.value;
    }
  }

  /**
   * `applyChanges` in slices of about `sliceMs` of work, awaiting `pause()` between them, so
   * a publisher sharing its event loop with other work (a projector, HTTP) never holds it for
   * the whole batch. The same result and the same all-or-nothing rule: every entry is checked
   * before any shard changes. The set must not be used by anyone else until it resolves.
   *
   * @throws {VerRegressionError} `ver` lower than one already applied
   * @throws {InvalidSubjectEntryError} an entry that cannot be published
   *
   * @example
   * const changed = await set.applyChangesInSlices(changes, 1234, () => new Promise((r) => setImmediate(r)));
   */
  async applyChangesInSlices(
    changes: ReadonlyMap<string, SubjectEntry | null>,
    ver: number,
    pause: () => Promise<void>,
    sliceMs = 10,
  ): Promise<number[]> {
    const steps = this.#applySteps(changes, ver);
    let sliceStart = performance.now();
    for (;;) {
      const step = steps.next();
      if (step.done) return step.value;
      if (performance.now() - sliceStart >= sliceMs) {
        await pause();
        sliceStart = performance.now();
      }
    }
  }

  /** The work of `applyChanges`, yielding after every few entries checked and every shard re-encoded. */
  *#applySteps(changes: ReadonlyMap<string, SubjectEntry | null>, ver: number): Generator<void, number[], void> {
    if (!isNonNegativeInt(ver)) throw new InvalidArgumentError(`ver must be a non-negative integer, got ${ver}`);
    if (ver < this.#ver) throw new VerRegressionError(this.#ver, ver);

    // Checked and encoded first, nothing changed yet: a bad entry throws before any shard moves.
    const byShard = new Map<number, [string, string | null][]>();
    let n = 0;
    for (const [subject, entry] of changes) {
      if (typeof subject !== 'string') throw new InvalidArgumentError('a subject must be a string');
      const json = entry === null ? null : entryJson(entry);
      const id = shardOf(subject, this.shardCount);
      const member = json === null ? null : memberBytes(subject, json);
      const list = byShard.get(id);
      if (list) list.push([subject, member]);
      else byShard.set(id, [[subject, member]]);
      if (++n % 256 === 0) yield;
    }
    // Another caller may have moved the set while this one paused (a misuse, refused here).
    if (ver < this.#ver) throw new VerRegressionError(this.#ver, ver);

    const changed: number[] = [];
    for (const [id, list] of byShard) {
      const slot = this.#slots[id] as ShardSlot;
      const bytes = slot.encoded.bytes;
      const edits = list.filter(([subject, member]) => {
        const at = slot.index.get(subject);
        if (at === undefined) return member !== null;
        return member === null || bytes.toString('utf8', at[0], at[1]) !== member;
      });
      if (edits.length === 0) continue;
      const members = new Map<string, string | Uint8Array>();
      for (const [subject, [start, end]] of slot.index) members.set(subject, bytes.subarray(start, end));
      for (const [subject, member] of edits) {
        if (member === null) members.delete(subject);
        else members.set(subject, member);
      }
      const next = assembleShard(id, ver, members);
      this.#install(id, slot, next.encoded, ver, next.index);
      changed.push(id);
      yield;
    }
    this.#ver = ver;
    return changed.sort((a, b) => a - b);
  }

  /**
   * The manifest's `shards` claim: every shard, empty ones included, ordered by id.
   *
   * @example
   * signManifest({ ...claims, shard_count: set.shardCount, shards: set.manifestEntries() }, key);
   */
  manifestEntries(): ManifestShard[] {
    return this.#slots.map((s, id) => ({ id, sha256: s.encoded.sha256, count: s.encoded.count, bytes: s.encoded.bytes.length }));
  }

  /**
   * The current state of shard `id`.
   *
   * @example
   * set.shard(254).ver; // 1234
   */
  shard(id: number): ShardSnapshot {
    const slot = this.#slots[id];
    if (slot === undefined) throw new InvalidArgumentError(`no shard ${id} in a set of ${this.shardCount}`);
    return { id, ...slot.encoded, ver: slot.ver };
  }

  /**
   * The bytes of the current shard named `sha256`, for `GET /v1/snapshots/shards/{sha256}`;
   * undefined when no current shard has that hash.
   *
   * @example
   * set.bytesByHash(set.manifestEntries()[0].sha256); // <Buffer 7b 22 73 …>
   */
  bytesByHash(sha256: string): Buffer | undefined {
    const id = this.#byHash.get(sha256);
    return id === undefined ? undefined : this.#slots[id]?.encoded.bytes;
  }

  /**
   * Every subject held, shard by shard.
   *
   * @example
   * [...set.subjects()]; // ['org_7', 'org_42', …]
   */
  *subjects(): IterableIterator<string> {
    for (const slot of this.#slots) yield* slot.index.keys();
  }

  /**
   * The entry subject `subject` has in its shard, or null.
   *
   * @example
   * set.entry('org_42')?.plan; // 'pro'
   */
  entry(subject: string): SubjectEntry | null {
    const slot = this.#slots[shardOf(subject, this.shardCount)];
    const at = slot?.index.get(subject);
    if (slot === undefined || at === undefined) return null;
    const key = Buffer.byteLength(JSON.stringify(subject), 'utf8') + 1;
    return JSON.parse(slot.encoded.bytes.subarray(at[0] + key, at[1]).toString('utf8')) as SubjectEntry;
  }

  #install(id: number, slot: ShardSlot, encoded: EncodedShard, ver: number, index: MemberIndex): void {
    this.#byHash.delete(slot.encoded.sha256);
    this.#byHash.set(encoded.sha256, id);
    this.#subjects += index.size - slot.index.size;
    slot.encoded = encoded;
    slot.ver = ver;
    slot.index = index;
  }
}
