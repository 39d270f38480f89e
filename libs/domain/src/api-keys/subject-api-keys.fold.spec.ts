import type { LedgerEvent } from '../events/ledger-event.js';
import { apiKeyHashes, evolveSubjectApiKeys, initialSubjectApiKeys } from './subject-api-keys.fold.js';

const hash = (c: string): string => c.repeat(64);
let position = 0;
const event = (type: string, data: Record<string, unknown>): LedgerEvent => ({
  type,
  data: { actor: 'token:admin', ...data },
  position: ++position,
  source: 'admin',
  source_event_id: `${type}:${position}`,
  recorded_at: new Date(Date.UTC(2026, 0, 1, 0, 0, position)).toISOString(),
});
const created = (id: string, sha: string, subject = 'org_1') => event('api_key.created', { subject, id, name: `key ${id}`, sha256: sha });
const revoked = (id: string, subject = 'org_1') => event('api_key.revoked', { subject, id, reason: null });
const fold = (events: LedgerEvent[]) => events.reduce(evolveSubjectApiKeys, initialSubjectApiKeys('org_1'));

describe('evolveSubjectApiKeys', () => {
  it('adds keys sorted by id and removes revoked ones', () => {
    const f = fold([created('ak_000000000000000b', hash('b')), created('ak_000000000000000a', hash('a')), revoked('ak_000000000000000b')]);
    expect(f.keys.map((k) => k.id)).toEqual(['ak_000000000000000a']);
    expect(apiKeyHashes(f)).toEqual([hash('a')]);
    expect(f.keys[0]).toMatchObject({ name: 'key ak_000000000000000a', actor: 'token:admin', created_at: expect.any(String) });
  });

  it('ignores redeliveries, other subjects, malformed data and a second creation of the same id', () => {
    const first = created('ak_0000000000000001', hash('1'));
    const f = fold([
      first,
      first,
      created('ak_0000000000000002', hash('2'), 'org_2'),
      event('api_key.created', { subject: 'org_1', id: 'nope', name: 'x', sha256: hash('3') }),
      event('api_key.created', { subject: 'org_1', id: 'ak_0000000000000003', name: 'x', sha256: 'NOT-HEX' }),
      created('ak_0000000000000001', hash('9')),
    ]);
    expect(apiKeyHashes(f)).toEqual([hash('1')]);
  });

  it('sorts hashes for the shard entry and treats no fold as no keys', () => {
    const f = fold([created('ak_0000000000000001', hash('f')), created('ak_0000000000000002', hash('0'))]);
    expect(apiKeyHashes(f)).toEqual([hash('0'), hash('f')]);
    expect(apiKeyHashes(null)).toEqual([]);
  });
});
