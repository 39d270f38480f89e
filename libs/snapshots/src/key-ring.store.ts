import { generateKeyPairSync, randomUUID, type KeyObject } from 'node:crypto';
import { link, mkdir, open, readFile, rename, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { assertPrivateMode, importPrivateOkp, publicJwk, toSigningKey } from './key-material.util.js';
import { isPositiveInt } from './ordering.util.js';
import { InvalidArgumentError, KeyRingInvalidError, KeyRotationRefusedError } from './snapshot.errors.js';
import { loadSigningKey } from './signing-key.load.js';
import type { Jwks, SigningKey } from './signing-key.types.js';

/** The file holding the ring inside its directory (one file, so a rotation is one atomic rename). */
export const KEY_RING_FILE = 'keyring.json';

export type KeyState = 'current' | 'next' | 'previous';

/** What the ring says about one key; no key material. */
export interface KeyInfo {
  readonly kid: string;
  readonly state: KeyState;
  /** Null for a `LEDGER_SIGNING_KEY` file: the ring did not create it. */
  readonly created_at: string | null;
  /** For `previous`: when it stopped signing, and until when the JWKS keeps it. */
  readonly retired_at?: string;
  readonly retire_after?: string;
}

export interface KeyRotation {
  /** `announced`: a new `next` key is published, not yet signing; `promoted`: `next` now signs. */
  readonly action: 'announced' | 'promoted';
  readonly current: string;
  readonly next: string | null;
}

export interface KeyRingOptions {
  readonly now: Date;
  /** `SNAPSHOT_TTL_S` (default 900); a retired key stays in the JWKS max(snapshot, token TTL). */
  readonly snapshotTtlS?: number;
  /** `TOKEN_TTL_S` (default 900). */
  readonly tokenTtlS?: number;
  /** Key generator port (tests inject one); defaults to a fresh Ed25519 key from node:crypto. */
  readonly generate?: () => KeyObject;
}

interface RingKey {
  readonly signing: SigningKey;
  readonly state: KeyState;
  readonly created_at: string | null;
  readonly retired_at?: string;
  readonly retire_after?: string;
}

const defaultGenerate = (): KeyObject => generateKeyPairSync('ed25519').privateKey;

/**
 * The ledger's Ed25519 signing keys: `current` signs; `next` is announced in the JWKS before
 * it signs, so verifiers learn it in advance; `previous` keys stay in the JWKS until
 * everything they signed has expired (`retire_after`). Persisted in one file of a 0700
 * directory (default `LEDGER_DATA_DIR/keys`), mode 0600, replaced atomically. With a fixed
 * `LEDGER_SIGNING_KEY` ({@link KeyRing.fromFile}) the ring holds that key alone and refuses
 * to rotate. Nothing it returns or throws carries private key material except `signingKey()`.
 *
 * @example
 * const ring = process.env.LEDGER_SIGNING_KEY
 *   ? await KeyRing.fromFile(process.env.LEDGER_SIGNING_KEY)
 *   : await KeyRing.open(join(dataDir, 'keys'), { now: new Date(), snapshotTtlS: 900, tokenTtlS: 900 });
 * await ring.rotate(new Date()); // announce a next key
 * ring.jwks(new Date()); // { keys: [{ kty: 'OKP', crv: 'Ed25519', x, kid, alg: 'EdDSA', use: 'sig' }, …] }
 */
export class KeyRing {
  readonly #file: string;
  readonly #fixed: boolean;
  readonly #retainS: number;
  readonly #generate: () => KeyObject;
  #keys: readonly RingKey[];

  private constructor(file: string, fixed: boolean, retainS: number, generate: () => KeyObject, keys: readonly RingKey[]) {
    this.#file = file;
    this.#fixed = fixed;
    this.#retainS = retainS;
    this.#generate = generate;
    this.#keys = keys;
  }

  /**
   * Opens the ring persisted in `dir`, creating the directory (0700) and a first key when empty.
   *
   * @throws {KeyFileInsecureError} the directory or ring file is accessible by group/others
   * @throws {KeyRingInvalidError} the ring file is unreadable or inconsistent
   *
   * @example
   * const ring = await KeyRing.open('.data/keys', { now: new Date() });
   */
  static async open(dir: string, options: KeyRingOptions): Promise<KeyRing> {
    const retainS = retention(options);
    const generate = options.generate ?? defaultGenerate;
    const createdAt = isoOf(options.now);
    await mkdir(dir, { recursive: true, mode: 0o700 });
    await assertPrivateMode(dir, 'directory');
    const file = join(dir, KEY_RING_FILE);

    let text = await readIfExists(file);
    if (text === null) {
      const first = await toSigningKey(generatedKey(generate));
      const ring = new KeyRing(file, false, retainS, generate, [{ signing: first, state: 'current', created_at: createdAt }]);
      // link() fails if another process created the ring meanwhile: then use theirs.
      const created = await writeAtomically(file, serialise(ring.#keys), true);
      if (created) return ring;
      text = await readIfExists(file);
      if (text === null) throw new KeyRingInvalidError(file, 'it vanished while being created');
    }
    await assertPrivateMode(file, 'file');
    return new KeyRing(file, false, retainS, generate, await parse(file, text));
  }

  /**
   * A ring of the one key in `LEDGER_SIGNING_KEY`: it signs, it is the whole JWKS, and
   * {@link KeyRing.rotate} is refused (the operator rotates the file).
   *
   * @throws {KeyFileInsecureError} {@link KeyFileInvalidError} as {@link loadSigningKey}
   *
   * @example
   * const ring = await KeyRing.fromFile('/etc/ledger/signing.jwk');
   */
  static async fromFile(file: string): Promise<KeyRing> {
    const signing = await loadSigningKey(file);
    return new KeyRing(file, true, 0, defaultGenerate, [{ signing, state: 'current', created_at: null }]);
  }

  /** True when the key comes from `LEDGER_SIGNING_KEY` and cannot be rotated here. */
  get fixed(): boolean {
    return this.#fixed;
  }

  /**
   * The key that signs now (private: hand it to the signer only).
   *
   * @example
   * await signManifest(claims, ring.signingKey());
   */
  signingKey(): SigningKey {
    return this.#byState('current').signing;
  }

  /**
   * The public JWKS: current, then next (announced), then previous keys not yet past `retire_after`.
   *
   * @example
   * ring.jwks(new Date()).keys.map((k) => k.kid);
   */
  jwks(now: Date): Jwks {
    const at = msOf(now);
    const order: Record<KeyState, number> = { current: 0, next: 1, previous: 2 };
    const keys = this.#keys
      .filter((k) => k.state !== 'previous' || at < Date.parse(k.retire_after ?? ''))
      .sort((a, b) => order[a.state] - order[b.state] || (b.retired_at ?? '').localeCompare(a.retired_at ?? ''))
      .map((k) => publicJwk(k.signing));
    return { keys };
  }

  /**
   * Every key of the ring with its state and dates (for the CLI and health); no key material.
   *
   * @example
   * ring.describe(); // [{ kid: '…', state: 'current', created_at: '…' }]
   */
  describe(): KeyInfo[] {
    return this.#keys.map(({ signing, state, created_at, retired_at, retire_after }) => ({
      kid: signing.kid,
      state,
      created_at,
      ...(retired_at === undefined ? {} : { retired_at, retire_after }),
    }));
  }

  /**
   * One rotation step, persisted before it takes effect: without a `next` key, generate one
   * and announce it (it is in the JWKS but does not sign); with one, promote it to `current`
   * and retire the current key to `previous` until `now + max(SNAPSHOT_TTL_S, TOKEN_TTL_S)`.
   * Previous keys already past `retire_after` are dropped from the file.
   *
   * @throws {KeyRotationRefusedError} the key is fixed by `LEDGER_SIGNING_KEY`
   *
   * @example
   * await ring.rotate(now); // { action: 'announced', current: 'A', next: 'B' }
   * await ring.rotate(later); // { action: 'promoted', current: 'B', next: null }
   */
  async rotate(now: Date): Promise<KeyRotation> {
    if (this.#fixed) throw new KeyRotationRefusedError(this.#file);
    const at = msOf(now);
    const iso = new Date(at).toISOString();
    const kept = this.#keys.filter((k) => k.state !== 'previous' || at < Date.parse(k.retire_after ?? ''));
    const current = this.#byState('current');
    const next = kept.find((k) => k.state === 'next');

    let keys: RingKey[];
    let rotation: KeyRotation;
    if (next === undefined) {
      const fresh = await toSigningKey(generatedKey(this.#generate));
      keys = [...kept, { signing: fresh, state: 'next', created_at: iso }];
      rotation = { action: 'announced', current: current.signing.kid, next: fresh.kid };
    } else {
      const retireAfter = new Date(at + this.#retainS * 1000).toISOString();
      keys = kept.map((k): RingKey => {
        if (k === current) return { ...k, state: 'previous', retired_at: iso, retire_after: retireAfter };
        if (k === next) return { ...k, state: 'current' };
        return k;
      });
      rotation = { action: 'promoted', current: next.signing.kid, next: null };
    }
    await writeAtomically(this.#file, serialise(keys), false);
    this.#keys = keys;
    return rotation;
  }

  #byState(state: KeyState): RingKey {
    const k = this.#keys.find((x) => x.state === state);
    if (k === undefined) throw new KeyRingInvalidError(this.#file, `no ${state} key`);
    return k;
  }
}

function retention(o: KeyRingOptions): number {
  const snapshot = o.snapshotTtlS ?? 900;
  const token = o.tokenTtlS ?? 900;
  if (!isPositiveInt(snapshot) || !isPositiveInt(token)) {
    throw new InvalidArgumentError('snapshotTtlS and tokenTtlS must be positive integers (seconds)');
  }
  return Math.max(snapshot, token);
}

function msOf(d: Date): number {
  const ms = d instanceof Date ? d.getTime() : Number.NaN;
  if (Number.isNaN(ms)) throw new InvalidArgumentError('now must be a valid Date');
  return ms;
}

const isoOf = (d: Date): string => new Date(msOf(d)).toISOString();

function generatedKey(generate: () => KeyObject): KeyObject {
  const key = generate();
  if (key?.type !== 'private' || key.asymmetricKeyType !== 'ed25519') {
    throw new InvalidArgumentError('the key generator must return a private Ed25519 KeyObject');
  }
  return key;
}

interface StoredKey {
  kid: string;
  state: KeyState;
  created_at: string | null;
  retired_at?: string;
  retire_after?: string;
  jwk: { kty: 'OKP'; crv: 'Ed25519'; x: string; d: string };
}

function serialise(keys: readonly RingKey[]): string {
  const stored = keys.map((k): StoredKey => {
    const jwk = k.signing.key.export({ format: 'jwk' });
    return {
      kid: k.signing.kid,
      state: k.state,
      created_at: k.created_at,
      ...(k.retired_at === undefined ? {} : { retired_at: k.retired_at, retire_after: k.retire_after }),
      jwk: { kty: 'OKP', crv: 'Ed25519', x: String(jwk.x), d: String(jwk.d) },
    };
  });
  return `${JSON.stringify({ format: 1, keys: stored }, null, 2)}\n`;
}

async function parse(file: string, text: string): Promise<RingKey[]> {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    // JSON.parse's message quotes the input: it could echo a private key.
    throw new KeyRingInvalidError(file, 'not valid JSON');
  }
  const stored = (doc as { format?: unknown; keys?: unknown } | null)?.keys;
  if ((doc as { format?: unknown } | null)?.format !== 1 || !Array.isArray(stored)) {
    throw new KeyRingInvalidError(file, 'expected {"format":1,"keys":[…]}');
  }
  const keys: RingKey[] = [];
  for (const [i, s] of (stored as Partial<StoredKey>[]).entries()) {
    const bad = (what: string): KeyRingInvalidError => new KeyRingInvalidError(file, `keys[${i}]: ${what}`);
    if (s.state !== 'current' && s.state !== 'next' && s.state !== 'previous') throw bad('state must be current, next or previous');
    if (typeof s.created_at !== 'string' || Number.isNaN(Date.parse(s.created_at))) throw bad('created_at must be a date');
    const key = importPrivateOkp(s.jwk);
    if (key === null) throw bad('jwk is not an Ed25519 private key');
    const signing = await toSigningKey(key);
    if (signing.kid !== s.kid) throw bad('kid is not the thumbprint of its key');
    if (s.state === 'previous') {
      if (typeof s.retired_at !== 'string' || typeof s.retire_after !== 'string' || Number.isNaN(Date.parse(s.retire_after))) {
        throw bad('a previous key needs retired_at and retire_after');
      }
      keys.push({ signing, state: s.state, created_at: s.created_at, retired_at: s.retired_at, retire_after: s.retire_after });
    } else {
      keys.push({ signing, state: s.state, created_at: s.created_at });
    }
  }
  if (keys.filter((k) => k.state === 'current').length !== 1) throw new KeyRingInvalidError(file, 'needs exactly one current key');
  if (keys.filter((k) => k.state === 'next').length > 1) throw new KeyRingInvalidError(file, 'has more than one next key');
  if (new Set(keys.map((k) => k.signing.kid)).size !== keys.length) throw new KeyRingInvalidError(file, 'lists a key twice');
  return keys;
}

async function readIfExists(file: string): Promise<string | null> {
  try {
    return await readFile(file, 'utf8');
  } catch (e) {
    if ((e as { code?: unknown }).code === 'ENOENT') return null;
    throw new KeyRingInvalidError(file, `cannot read it (${String((e as { code?: unknown }).code ?? 'I/O error')})`);
  }
}

/**
 * Writes through a 0600 temp file in the same directory, fsynced, then renamed over `file`
 * (or, with `exclusive`, linked: false when `file` already exists). The directory is fsynced
 * so the rename survives a crash.
 */
async function writeAtomically(file: string, content: string, exclusive: boolean): Promise<boolean> {
  const dir = join(file, '..');
  const tmp = join(dir, `.${KEY_RING_FILE}.${process.pid}.${randomUUID()}.tmp`);
  const handle = await open(tmp, 'wx', 0o600);
  try {
    await handle.writeFile(content, 'utf8');
    await handle.sync();
  } finally {
    await handle.close();
  }
  let done = true;
  try {
    if (exclusive) {
      try {
        await link(tmp, file);
      } catch (e) {
        if ((e as { code?: unknown }).code !== 'EEXIST') throw e;
        done = false;
      }
      await unlink(tmp);
    } else {
      await rename(tmp, file);
    }
  } catch (e) {
    await unlink(tmp).catch(() => undefined);
    throw e;
  }
  await syncDir(dir);
  return done;
}

async function syncDir(dir: string): Promise<void> {
  try {
    const handle = await open(dir, 'r');
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  } catch {
    // Some platforms cannot fsync a directory; the rename itself is still atomic.
  }
}
