/**
 * A single-pass reader for shards in the canonical encoding the ledger writes
 * (docs/snapshot-format.md "Shard": no insignificant whitespace, no escapes in names, subjects
 * in ascending order): it fills the compact index without building an object per subject or
 * per grant. It accepts only what `JSON.parse` would read to the same content and gives up
 * (returns `null`) on anything else, whose caller then reads the shard with `JSON.parse` and
 * the full validation: the outcome is the same either way, only the cost differs.
 */

/** What the scanner reports for each grant and subject; mirrors the JSON.parse path's builder. */
export interface ScanSink {
  subject(name: string): void;
  /** The id that grants of `name` are reported under. */
  feature(name: string): number;
  grant(feature: number, value: number, numeric: boolean, until: number): void;
  apiKey(hash: string, subject: string): void;
}

const QUOTE = 0x22;
const COMMA = 0x2c;
const COLON = 0x3a;
const LBRACE = 0x7b;
const RBRACE = 0x7d;
const LBRACKET = 0x5b;
const RBRACKET = 0x5d;
const BACKSLASH = 0x5c;
const MAX_DEPTH = 32;

class GiveUp extends Error {}
const GIVE_UP = new GiveUp();

/** Reads `text` as shard `id`; `{ ver }` when it was read whole, `null` to fall back to JSON.parse. */
export function scanShard(text: string, id: number, sink: ScanSink): { ver: number } | null {
  try {
    return new Scanner(text, sink).shard(id);
  } catch (e) {
    if (e === GIVE_UP) return null;
    throw e;
  }
}

class Scanner {
  private pos = 0;
  private lastUntil = '';
  private lastUntilMs = 0;

  constructor(
    private readonly text: string,
    private readonly sink: ScanSink,
  ) {}

  shard(id: number): { ver: number } {
    this.literal('{"shard":');
    const shard = this.integer();
    if (shard !== id) throw GIVE_UP; // the JSON.parse path names the mismatch
    this.literal(',"ver":');
    const ver = this.integer();
    if (ver < 0) throw GIVE_UP;
    this.literal(',"subjects":{');
    let previous: string | null = null;
    if (this.peek() !== RBRACE) {
      for (;;) {
        const subject = this.string();
        // ascending order rules out duplicate subjects (JSON.parse would keep the last)
        if (previous !== null && !(previous < subject)) throw GIVE_UP;
        previous = subject;
        this.expect(COLON);
        this.subject(subject);
        if (this.peek() !== COMMA) break;
        this.pos += 1;
      }
    }
    this.expect(RBRACE);
    this.expect(RBRACE);
    if (this.pos !== this.text.length) throw GIVE_UP;
    return { ver };
  }

  private subject(subject: string): void {
    this.sink.subject(subject);
    this.expect(LBRACE);
    let features = false;
    let apiKeys = false;
    if (this.peek() !== RBRACE) {
      for (;;) {
        const key = this.string();
        this.expect(COLON);
        if (key === 'features') {
          if (features) throw GIVE_UP;
          features = true;
          this.features();
        } else if (key === 'api_keys') {
          if (apiKeys) throw GIVE_UP;
          apiKeys = true;
          this.apiKeys(subject);
        } else {
          this.skipValue(0);
        }
        if (this.peek() !== COMMA) break;
        this.pos += 1;
      }
    }
    this.expect(RBRACE);
  }

  private features(): void {
    this.expect(LBRACE);
    if (this.peek() === RBRACE) {
      this.pos += 1;
      return;
    }
    let previous: string | null = null;
    for (;;) {
      const name = this.string();
      // ascending order rules out duplicate features
      if (previous !== null && !(previous < name)) throw GIVE_UP;
      previous = name;
      const feature = this.sink.feature(name);
      this.expect(COLON);
      this.expect(LBRACKET);
      if (this.peek() !== RBRACKET) {
        for (;;) {
          this.grant(feature);
          if (this.peek() !== COMMA) break;
          this.pos += 1;
        }
      }
      this.expect(RBRACKET);
      if (this.peek() !== COMMA) break;
      this.pos += 1;
    }
    this.expect(RBRACE);
  }

  private grant(feature: number): void {
    this.literal('{"value":');
    let value: number;
    let numeric = false;
    const c = this.peek();
    if (c === 0x74 /* t */) {
      this.literal('true');
      value = 1;
    } else if (c === 0x66 /* f */) {
      this.literal('false');
      value = 0;
    } else {
      value = this.number();
      numeric = true;
    }
    this.literal(',"valid_until":');
    let until: number;
    if (this.peek() === 0x6e /* n */) {
      this.literal('null');
      until = Infinity;
    } else {
      const start = this.pos + 1;
      if (this.lastUntil !== '' && this.text.startsWith(this.lastUntil, start) && this.text.charCodeAt(start + this.lastUntil.length) === QUOTE) {
        this.pos = start + this.lastUntil.length + 1;
        until = this.lastUntilMs;
      } else {
        const s = this.string();
        until = parseIsoUtc(s);
        if (!Number.isFinite(until)) throw GIVE_UP;
        this.lastUntil = s;
        this.lastUntilMs = until;
      }
    }
    this.expect(RBRACE);
    this.sink.grant(feature, value, numeric, until);
  }

  private apiKeys(subject: string): void {
    this.expect(LBRACKET);
    if (this.peek() !== RBRACKET) {
      for (;;) {
        const key = this.string();
        if (!/^[0-9a-f]{64}$/.test(key)) throw GIVE_UP;
        this.sink.apiKey(key, subject);
        if (this.peek() !== COMMA) break;
        this.pos += 1;
      }
    }
    this.expect(RBRACKET);
  }

  /** A JSON value of no interest (plans, hints), checked for syntax as JSON.parse would. */
  private skipValue(depth: number): void {
    if (depth > MAX_DEPTH) throw GIVE_UP;
    const c = this.peek();
    if (c === QUOTE) {
      this.string();
    } else if (c === LBRACE) {
      this.pos += 1;
      if (this.peek() !== RBRACE) {
        for (;;) {
          this.string();
          this.expect(COLON);
          this.skipValue(depth + 1);
          if (this.peek() !== COMMA) break;
          this.pos += 1;
        }
      }
      this.expect(RBRACE);
    } else if (c === LBRACKET) {
      this.pos += 1;
      if (this.peek() !== RBRACKET) {
        for (;;) {
          this.skipValue(depth + 1);
          if (this.peek() !== COMMA) break;
          this.pos += 1;
        }
      }
      this.expect(RBRACKET);
    } else if (c === 0x74) this.literal('true');
    else if (c === 0x66) this.literal('false');
    else if (c === 0x6e) this.literal('null');
    else this.number();
  }

  /** A string without escapes or control characters (anything else: give up). */
  private string(): string {
    const text = this.text;
    if (text.charCodeAt(this.pos) !== QUOTE) throw GIVE_UP;
    const start = this.pos + 1;
    let i = start;
    for (;;) {
      const c = text.charCodeAt(i);
      if (c === QUOTE) break;
      if (c === BACKSLASH || c < 0x20 || Number.isNaN(c)) throw GIVE_UP;
      i += 1;
    }
    this.pos = i + 1;
    return text.slice(start, i);
  }

  /** A JSON number (strict grammar), finite. */
  private number(): number {
    const text = this.text;
    const start = this.pos;
    let i = start;
    if (text.charCodeAt(i) === 0x2d) i += 1;
    const first = text.charCodeAt(i);
    if (first === 0x30) i += 1;
    else if (first >= 0x31 && first <= 0x39) while (isDigit(text.charCodeAt(i))) i += 1;
    else throw GIVE_UP;
    let simple = true;
    if (text.charCodeAt(i) === 0x2e) {
      simple = false;
      i += 1;
      if (!isDigit(text.charCodeAt(i))) throw GIVE_UP;
      while (isDigit(text.charCodeAt(i))) i += 1;
    }
    const e = text.charCodeAt(i);
    if (e === 0x65 || e === 0x45) {
      simple = false;
      i += 1;
      const sign = text.charCodeAt(i);
      if (sign === 0x2b || sign === 0x2d) i += 1;
      if (!isDigit(text.charCodeAt(i))) throw GIVE_UP;
      while (isDigit(text.charCodeAt(i))) i += 1;
    }
    this.pos = i;
    let value: number;
    if (simple && i - start <= 15) {
      value = 0;
      const negative = text.charCodeAt(start) === 0x2d;
      for (let j = negative ? start + 1 : start; j < i; j++) value = value * 10 + (text.charCodeAt(j) - 0x30);
      if (negative) value = -value;
    } else value = Number(text.slice(start, i));
    if (!Number.isFinite(value)) throw GIVE_UP;
    return value;
  }

  private integer(): number {
    const value = this.number();
    if (!Number.isSafeInteger(value)) throw GIVE_UP;
    return value;
  }

  private literal(s: string): void {
    if (!this.text.startsWith(s, this.pos)) throw GIVE_UP;
    this.pos += s.length;
  }

  private expect(c: number): void {
    if (this.text.charCodeAt(this.pos) !== c) throw GIVE_UP;
    this.pos += 1;
  }

  private peek(): number {
    return this.text.charCodeAt(this.pos);
  }
}

function isDigit(c: number): boolean {
  return c >= 0x30 && c <= 0x39;
}

/**
 * `Date.parse` of a timestamp, with a fast path for the ledger's `toISOString()` form
 * (`YYYY-MM-DDTHH:mm:ss.sssZ`) on days that exist in every month; anything else is left to
 * `Date.parse` itself, so the result is always `Date.parse`'s.
 */
export function parseIsoUtc(s: string): number {
  if (
    s.length !== 24 ||
    s.charCodeAt(4) !== 0x2d ||
    s.charCodeAt(7) !== 0x2d ||
    s.charCodeAt(10) !== 0x54 ||
    s.charCodeAt(13) !== 0x3a ||
    s.charCodeAt(16) !== 0x3a ||
    s.charCodeAt(19) !== 0x2e ||
    s.charCodeAt(23) !== 0x5a
  ) {
    return Date.parse(s);
  }
  const year = digits(s, 0, 4);
  const month = digits(s, 5, 2);
  const day = digits(s, 8, 2);
  const hour = digits(s, 11, 2);
  const minute = digits(s, 14, 2);
  const second = digits(s, 17, 2);
  const ms = digits(s, 20, 3);
  // Date.UTC maps years 0-99 to 1900-1999
  if (year < 100 || month < 1 || month > 12 || day < 1 || day > 28 || hour < 0 || hour > 23 || minute < 0 || minute > 59 || second < 0 || second > 59 || ms < 0) {
    return Date.parse(s);
  }
  return Date.UTC(year, month - 1, day, hour, minute, second, ms);
}

/** The decimal number of `n` digits at `at`, or -1 if one of them is not a digit. */
function digits(s: string, at: number, n: number): number {
  let v = 0;
  for (let i = at; i < at + n; i++) {
    const c = s.charCodeAt(i) - 0x30;
    if (c < 0 || c > 9) return -1;
    v = v * 10 + c;
  }
  return v;
}
