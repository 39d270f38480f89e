import {
  colorsFor,
  duration,
  formatChanges,
  formatEntitlements,
  formatHistory,
  formatJob,
  formatReplay,
  formatWhatIf,
  paint,
  table,
} from './output.format.js';

const plain = paint(false);

describe('colors', () => {
  it('only on a terminal, and never with NO_COLOR set', () => {
    expect(colorsFor({ isTTY: true }, {})).toBe(true);
    expect(colorsFor({ isTTY: true }, { NO_COLOR: '1' })).toBe(false);
    expect(colorsFor({ isTTY: false }, {})).toBe(false);
    expect(colorsFor({}, {})).toBe(false);
    expect(paint(false)('red', 'x')).toBe('x');
    expect(paint(true)('red', 'x')).toBe('\x1b[31mx\x1b[39m');
  });
});

describe('table', () => {
  it('aligns columns on their widest cell, ignoring color codes, without trailing spaces', () => {
    const colored = paint(true);
    expect(table(['A', 'BEE'], [['long cell', colored('red', 'x')], ['s', '']])).toBe('A          BEE\nlong cell  \x1b[31mx\x1b[39m\ns');
  });
});

describe('formatEntitlements', () => {
  it('a header line, then one row per feature by name', () => {
    const text = formatEntitlements(
      {
        subject: 'org_42',
        position: 12,
        plan: 'pro',
        features: { seats: { value: 5, valid_until: '2026-12-25T10:00:00.000Z' }, api: { value: true, valid_until: null } },
        valid_until: '2026-12-25T10:00:00.000Z',
      },
      plain,
    );
    expect(text).toBe(
      [
        'org_42  plan pro  position 12  valid until 2026-12-25T10:00:00.000Z',
        'FEATURE  VALUE  VALID UNTIL',
        'api      true   no expiry',
        'seats    5      2026-12-25T10:00:00.000Z',
      ].join('\n'),
    );
  });

  it('says so when a subject has nothing', () => {
    expect(formatEntitlements({ subject: 's', position: 0, plan: null, features: {}, valid_until: null }, plain)).toBe(
      's  plan none  position 0  valid until –\nno features',
    );
  });
});

describe('formatHistory and formatChanges', () => {
  it('one line per event: its changes, else its note', () => {
    const text = formatHistory(
      {
        subject: 'org_42',
        events: [
          {
            position: 3,
            type: 'subscription.updated',
            source: 'stripe',
            source_event_id: 'evt_1',
            occurred_at: '2026-11-24T10:00:00Z',
            recorded_at: '2026-11-24T10:00:01Z',
            changes: [
              { feature: 'api', from: null, to: true },
              { feature: 'seats', from: 2, to: 5 },
              { feature: 'exports', from: true, to: null },
            ],
            note: null,
          },
          {
            position: 4,
            type: 'subscription.updated',
            source: 'stripe',
            source_event_id: 'evt_2',
            occurred_at: null,
            recorded_at: '2026-11-24T10:00:02Z',
            changes: [],
            note: 'unknown_plan',
          },
        ],
      },
      plain,
    );
    expect(text.split('\n')).toEqual([
      'org_42: 2 events',
      'POS  OCCURRED              TYPE                  SOURCE        CHANGES',
      '#3   2026-11-24T10:00:00Z  subscription.updated  stripe/evt_1  +api=true, seats: 2 → 5, -exports (was true)',
      '#4   2026-11-24T10:00:02Z  subscription.updated  stripe/evt_2  (unknown_plan)',
    ]);
    expect(formatChanges([], plain)).toBe('');
  });
});

describe('formatWhatIf', () => {
  it('a readable diff per subject and a summary', () => {
    const text = formatWhatIf(
      {
        position: 99,
        compared: 3,
        changed: [
          {
            subject: 'org_1',
            changes: [
              { feature: 'projects', from: 50, to: 100 },
              { feature: 'sso', from: null, to: true },
              { feature: 'exports', from: true, to: null },
            ],
            before: { plan: 'pro' },
            after: { plan: 'pro' },
          },
          { subject: 'org_2', changes: [], before: { plan: 'pro' }, after: { plan: null } },
        ],
      },
      plain,
    );
    expect(text.split('\n')).toEqual([
      'org_1  plan pro',
      '  ~ projects: 50 → 100',
      '  + sso: true',
      '  - exports: true',
      'org_2  plan pro → none',
      '2 of 3 subjects would change (at position 99)',
    ]);
  });
});

describe('formatReplay', () => {
  it('one row per subject with its feature values', () => {
    const text = formatReplay(
      {
        position: 7,
        subjects: [
          { subject: 'org_1', plan: 'pro', features: { seats: { value: 5, valid_until: null }, api: true }, valid_until: null },
        ],
      },
      plain,
    );
    expect(text).toBe('position 7: 1 subject\nSUBJECT  PLAN  FEATURES          VALID UNTIL\norg_1    pro   api=true seats=5  –');
  });
});

describe('formatJob and duration', () => {
  it('summarises a finished job', () => {
    expect(
      formatJob(
        {
          id: 'j1',
          state: 'succeeded',
          processed: 1000,
          total: 1000,
          rate: 512.4,
          eta_s: 0,
          started_at: '2026-11-24T10:00:00.000Z',
          finished_at: '2026-11-24T10:00:02.000Z',
          error: null,
        },
        plain,
      ),
    ).toBe('job j1: succeeded, 1000/1000 events, 512/s, 2.0 s');
    expect(formatJob({ id: 'j2', state: 'failed', processed: 3, total: null, rate: null, eta_s: null, error: 'boom' }, plain)).toBe(
      'job j2: failed, 3 events\nerror: boom',
    );
  });

  it('writes durations the short way', () => {
    expect([duration(0), duration(59.6), duration(61), duration(3_700), duration(90_000)]).toEqual(['0s', '1m 0s', '1m 1s', '1h 1m', '1d 1h']);
  });
});
