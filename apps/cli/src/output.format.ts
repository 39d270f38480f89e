import { stripVTControlCharacters } from 'node:util';
import type {
  EntitlementsAnswer,
  FeatureChange,
  GrantAnswer,
  HistoryAnswer,
  Job,
  KeyRotation,
  ReplayAnswer,
  RevokeAnswer,
  WhatIfAnswer,
} from './ledger-api.types.js';

type Style = 'bold' | 'dim' | 'red' | 'green' | 'yellow' | 'cyan';

/** ANSI styling, or none: styled only when writing to a terminal and NO_COLOR is unset. */
export interface Paint {
  readonly enabled: boolean;
  (style: Style, text: string): string;
}

// SGR on/off pairs; the gate is ours (util.styleText decides by the process's own stdout)
const SGR: Record<Style, readonly [number, number]> = { bold: [1, 22], dim: [2, 22], red: [31, 39], green: [32, 39], yellow: [33, 39], cyan: [36, 39] };

export function paint(enabled: boolean): Paint {
  const fn = ((style: Style, text: string) => (enabled ? `\x1b[${SGR[style][0]}m${text}\x1b[${SGR[style][1]}m` : text)) as Paint;
  Object.defineProperty(fn, 'enabled', { value: enabled });
  return fn;
}

/** Colors for a stream: a TTY, and NO_COLOR unset or empty (no-color.org). */
export function colorsFor(stream: { isTTY?: boolean }, env: NodeJS.ProcessEnv): boolean {
  return stream.isTTY === true && !env.NO_COLOR;
}

const width = (s: string): number => [...stripVTControlCharacters(s)].length;

/** Left-aligned columns separated by two spaces; the header row is bold. */
export function table(header: readonly string[], rows: readonly (readonly string[])[], p: Paint = paint(false)): string {
  const widths = header.map((h, i) => Math.max(width(h), ...rows.map((r) => width(r[i] ?? ''))));
  const line = (cells: readonly string[]): string =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c + ' '.repeat((widths[i] ?? 0) - width(c))))
      .join('  ')
      .trimEnd();
  return [p('bold', line(header)), ...rows.map(line)].join('\n');
}

/** A feature value as typed on the command line: `true`, `5`, `–` for absent. */
export function value(v: unknown): string {
  if (v === null || v === undefined) return '–';
  return typeof v === 'string' ? v : JSON.stringify(v);
}

const until = (v: string | null | undefined): string => v ?? 'no expiry';

export function formatEntitlements(a: EntitlementsAnswer, p: Paint): string {
  const head = `${p('bold', a.subject)}  plan ${a.plan === null ? p('dim', 'none') : p('cyan', a.plan)}  position ${a.position}  valid until ${a.plan === null && Object.keys(a.features).length === 0 ? '–' : until(a.valid_until)}`;
  const features = Object.entries(a.features).sort(([x], [y]) => x.localeCompare(y));
  if (features.length === 0) return `${head}\n${p('dim', 'no features')}`;
  return `${head}\n${table(['FEATURE', 'VALUE', 'VALID UNTIL'], features.map(([f, g]) => [f, value(g.value), until(g.valid_until)]), p)}`;
}

export function formatChanges(changes: readonly FeatureChange[], p: Paint): string {
  return changes
    .map((c) => {
      if (c.from === null) return p('green', `+${c.feature}=${value(c.to)}`);
      if (c.to === null) return p('red', `-${c.feature} (was ${value(c.from)})`);
      return p('yellow', `${c.feature}: ${value(c.from)} → ${value(c.to)}`);
    })
    .join(', ');
}

export function formatHistory(h: HistoryAnswer, p: Paint): string {
  if (h.events.length === 0) return `${p('bold', h.subject)}: no events`;
  const rows = h.events.map((e) => [
    `#${e.position}`,
    e.occurred_at ?? e.recorded_at,
    e.type,
    `${e.source}/${e.source_event_id}`,
    e.changes.length > 0 ? formatChanges(e.changes, p) : e.note ? p('dim', `(${e.note})`) : p('dim', '(no change)'),
  ]);
  return `${p('bold', h.subject)}: ${h.events.length} event${h.events.length === 1 ? '' : 's'}\n${table(['POS', 'OCCURRED', 'TYPE', 'SOURCE', 'CHANGES'], rows, p)}`;
}

export function formatGrant(a: GrantAnswer, p: Paint): string {
  const g = a.grant;
  const what = `granted ${p('bold', `${g.feature}=${value(g.value)}`)} to ${g.subject}${g.expires_at ? ` until ${g.expires_at}` : ''}`;
  return `${what} at position ${a.position}${a.duplicate ? p('dim', ' (duplicate: recorded before)') : ''}`;
}

export function formatRevoke(a: RevokeAnswer, p: Paint): string {
  const r = a.revocation;
  return `revoked ${p('bold', r.feature)} of ${r.subject} at position ${a.position}${a.duplicate ? p('dim', ' (duplicate: recorded before)') : ''}`;
}

export function formatRotation(r: KeyRotation, p: Paint): string {
  if (r.action === 'announced') {
    return `announced next key ${p('bold', r.next ?? '?')} (published in the JWKS, not signing yet); current key ${r.current}\nrun it again to promote it`;
  }
  return `promoted ${p('bold', r.current)}: it signs from now on${r.next ? `; next key ${r.next}` : ''}`;
}

export function formatReplay(a: ReplayAnswer, p: Paint): string {
  const head = `position ${a.position}: ${a.subjects.length} subject${a.subjects.length === 1 ? '' : 's'}`;
  if (a.subjects.length === 0) return head;
  const rows = a.subjects.map((s) => [
    s.subject,
    s.plan ?? '–',
    Object.entries(s.features)
      .sort(([x], [y]) => x.localeCompare(y))
      .map(([f, v]) => `${f}=${value(featureValue(v))}`)
      .join(' '),
    s.valid_until ?? '–',
  ]);
  return `${head}\n${table(['SUBJECT', 'PLAN', 'FEATURES', 'VALID UNTIL'], rows, p)}`;
}

/** A feature as `{value, valid_until}` (read answers) or a bare value. */
function featureValue(v: unknown): unknown {
  return typeof v === 'object' && v !== null && 'value' in v ? (v as { value: unknown }).value : v;
}

export function formatWhatIf(a: WhatIfAnswer, p: Paint): string {
  const blocks = a.changed.map((s) => {
    const before = s.before?.plan ?? null;
    const after = s.after?.plan ?? null;
    const plan = before === after ? `plan ${before ?? 'none'}` : `plan ${before ?? 'none'} → ${p('bold', after ?? 'none')}`;
    const lines = s.changes.map((c) => {
      if (c.from === null) return p('green', `  + ${c.feature}: ${value(c.to)}`);
      if (c.to === null) return p('red', `  - ${c.feature}: ${value(c.from)}`);
      return p('yellow', `  ~ ${c.feature}: ${value(c.from)} → ${value(c.to)}`);
    });
    return [`${p('bold', s.subject)}  ${plan}`, ...lines].join('\n');
  });
  const summary = `${a.changed.length} of ${a.compared} subject${a.compared === 1 ? '' : 's'} would change (at position ${a.position})`;
  return [...blocks, summary].join('\n');
}

export function formatJob(j: Job, p: Paint): string {
  const state = j.state === 'succeeded' ? p('green', j.state) : j.state === 'failed' ? p('red', j.state) : j.state;
  const parts = [`job ${j.id}: ${state}`, `${j.processed}${j.total !== null && j.total !== undefined ? `/${j.total}` : ''} events`];
  if (typeof j.rate === 'number') parts.push(`${Math.round(j.rate)}/s`);
  if (j.started_at && j.finished_at) parts.push(`${((Date.parse(j.finished_at) - Date.parse(j.started_at)) / 1000).toFixed(1)} s`);
  return parts.join(', ') + (j.error ? `\n${p('red', `error: ${j.error}`)}` : '');
}

/** Whole seconds as `3d 4h`, `12m 5s`, `40s`. */
export function duration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  const d = Math.floor(s / 86_400);
  const h = Math.floor((s % 86_400) / 3600);
  const m = Math.floor((s % 3600) / 60);
  const r = s % 60;
  if (d > 0) return `${d}d ${h}h`;
  if (h > 0) return `${h}h ${m}m`;
  if (m > 0) return `${m}m ${r}s`;
  return `${r}s`;
}
