import type { KeyObject } from 'node:crypto';

/** A private Ed25519 key ready to sign, with its `kid` (RFC 7638 thumbprint of the public key). */
export interface SigningKey {
  readonly kid: string;
  /** Private: never log it, serialise it or put it in an error. */
  readonly key: KeyObject;
}

/** A public Ed25519 JWK as published in the JWKS. */
export interface PublicJwk {
  readonly kty: 'OKP';
  readonly crv: 'Ed25519';
  readonly x: string;
  readonly kid: string;
  readonly alg: 'EdDSA';
  readonly use: 'sig';
}

/** `GET /.well-known/jwks.json`. */
export interface Jwks {
  readonly keys: readonly PublicJwk[];
}
