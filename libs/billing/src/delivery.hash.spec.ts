import { readdirSync, readFileSync } from 'node:fs';
import { mappedDedupeHash } from './delivery.hash.js';
import type { MappedEvent } from './mapped-event.types.js';
import { mapPaddleNotification, paddleDedupeHash } from './paddle-notification.mapper.js';
import { mapStripeEvent, stripeDedupeHash } from './stripe-event.mapper.js';

const providers: Array<[string, (payload: unknown) => MappedEvent, (payload: unknown) => Buffer, string[]]> = [
  ['stripe', mapStripeEvent, stripeDedupeHash, ['ignored', 'provider_features', 'subscription', 'unmappable']],
  ['paddle', mapPaddleNotification, paddleDedupeHash, ['ignored', 'subscription', 'unmappable']],
];

describe('mappedDedupeHash', () => {
  it.each(providers)('is the validating hash of every %s fixture, whatever it maps to', (provider, map, validatingHash, kinds) => {
    const dir = new URL(`../../../test/fixtures/${provider}/`, import.meta.url);
    const seen = new Set<string>();
    for (const name of readdirSync(dir)) {
      const payload = JSON.parse(readFileSync(new URL(name, dir), 'utf8')) as unknown;
      const mapped = map(payload);
      seen.add(mapped.kind);
      expect(mappedDedupeHash(mapped, payload).equals(validatingHash(payload))).toBe(true);
    }
    expect([...seen].sort()).toEqual(kinds);
  });
});
