import { createPrivateKey, type KeyObject } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { assertPrivateMode, importPrivateOkp, toSigningKey } from './key-material.util.js';
import { KeyFileInvalidError } from './snapshot.errors.js';
import type { SigningKey } from './signing-key.types.js';

const MAX_KEY_FILE_BYTES = 64 * 1024;

/**
 * Loads the Ed25519 private key of `LEDGER_SIGNING_KEY`: a private JWK (`{"kty":"OKP",
 * "crv":"Ed25519","d":…,"x":…}`) or an unencrypted PKCS#8 PEM (`openssl genpkey -algorithm
 * ed25519`). The kid is the RFC 7638 thumbprint of the public key, so both forms of one key
 * give the same kid. Errors never include the file's content.
 *
 * @throws {KeyFileInsecureError} group or others may access the file (fix: `chmod 600`)
 * @throws {KeyFileInvalidError} missing, unreadable, or not an Ed25519 private key
 *
 * @example
 * const { kid, key } = await loadSigningKey(process.env.LEDGER_SIGNING_KEY);
 */
export async function loadSigningKey(file: string): Promise<SigningKey> {
  let size: number;
  try {
    const s = await stat(file);
    if (!s.isFile()) throw new KeyFileInvalidError(file, 'not a regular file');
    size = s.size;
  } catch (e) {
    if (e instanceof KeyFileInvalidError) throw e;
    throw new KeyFileInvalidError(file, `cannot read it (${errnoOf(e)})`);
  }
  await assertPrivateMode(file, 'file');
  if (size > MAX_KEY_FILE_BYTES) throw new KeyFileInvalidError(file, 'larger than any key file (64 KiB)');

  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    throw new KeyFileInvalidError(file, `cannot read it (${errnoOf(e)})`);
  }
  return toSigningKey(parseKey(file, text.trim()));
}

function parseKey(file: string, text: string): KeyObject {
  if (text.startsWith('{')) {
    let jwk: unknown;
    try {
      jwk = JSON.parse(text);
    } catch {
      // JSON.parse's message quotes the input: it could echo the private key.
      throw new KeyFileInvalidError(file, 'it starts like a JWK but is not valid JSON');
    }
    const key = importPrivateOkp(jwk);
    if (key === null) {
      throw new KeyFileInvalidError(file, 'the JWK must be an Ed25519 private key {"kty":"OKP","crv":"Ed25519","d":…,"x":…} whose x matches d');
    }
    return key;
  }
  if (text.includes('-----BEGIN ENCRYPTED PRIVATE KEY-----')) {
    throw new KeyFileInvalidError(file, 'encrypted PKCS#8 is not supported; decrypt it with `openssl pkey -in <file> -out <new file>`');
  }
  if (!text.includes('-----BEGIN PRIVATE KEY-----')) {
    throw new KeyFileInvalidError(
      file,
      'expected a private JWK or a PKCS#8 PEM ("-----BEGIN PRIVATE KEY-----"); create one with `openssl genpkey -algorithm ed25519 -out <file>`',
    );
  }
  let key: KeyObject;
  try {
    key = createPrivateKey({ key: text, format: 'pem' });
  } catch {
    throw new KeyFileInvalidError(file, 'the PEM does not hold a readable PKCS#8 private key');
  }
  if (key.asymmetricKeyType !== 'ed25519') {
    throw new KeyFileInvalidError(file, `the key is ${key.asymmetricKeyType ?? 'unknown'}, not Ed25519`);
  }
  return key;
}

const errnoOf = (e: unknown): string =>
  typeof e === 'object' && e !== null && typeof (e as { code?: unknown }).code === 'string' ? (e as { code: string }).code : 'I/O error';
