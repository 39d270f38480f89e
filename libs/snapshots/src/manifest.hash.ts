import { createHash } from 'node:crypto';
import { InvalidManifestError } from './snapshot.errors.js';

/**
 * Lowercase hex SHA-256 of a manifest's compact JWS (its ASCII bytes): the next manifest's
 * `prev`, and a strong ETag for `GET /v1/snapshots/latest`.
 *
 * @throws {InvalidManifestError} a string that is not a compact JWS
 *
 * @example
 * manifestHash(jws); // 'c0535e4b…'
 */
export function manifestHash(jws: string): string {
  if (typeof jws !== 'string' || !/^[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*$/.test(jws)) {
    throw new InvalidManifestError('not a compact JWS');
  }
  return createHash('sha256').update(jws, 'ascii').digest('hex');
}
