// The ledger's HTTP answers as CONTRACT.md states them. The CLI is a client of that contract,
// not of the service's internals, so these are declared here rather than imported.

export type FeatureValue = boolean | number;

export interface FeatureChange {
  readonly feature: string;
  readonly from: FeatureValue | null;
  readonly to: FeatureValue | null;
}

export interface EntitlementsAnswer {
  readonly subject: string;
  readonly position: number;
  readonly plan: string | null;
  readonly features: Readonly<Record<string, { readonly value: FeatureValue; readonly valid_until: string | null }>>;
  readonly valid_until: string | null;
}

export interface HistoryAnswer {
  readonly subject: string;
  readonly events: ReadonlyArray<{
    readonly position: number;
    readonly type: string;
    readonly source: string;
    readonly source_event_id: string;
    readonly occurred_at: string | null;
    readonly recorded_at: string;
    readonly changes: readonly FeatureChange[];
    readonly note: string | null;
  }>;
}

export interface ReplayAnswer {
  readonly position: number;
  readonly subjects: ReadonlyArray<{
    readonly subject: string;
    readonly plan: string | null;
    readonly features: Readonly<Record<string, unknown>>;
    readonly valid_until: string | null;
  }>;
}

export interface WhatIfAnswer {
  readonly position: number;
  readonly compared: number;
  readonly changed: ReadonlyArray<{
    readonly subject: string;
    readonly changes: readonly FeatureChange[];
    readonly before: { readonly plan: string | null } | null;
    readonly after: { readonly plan: string | null } | null;
  }>;
}

export interface GrantAnswer {
  readonly position: number;
  readonly duplicate: boolean;
  readonly grant: { readonly subject: string; readonly feature: string; readonly value: FeatureValue; readonly expires_at: string | null };
}

export interface RevokeAnswer {
  readonly position: number;
  readonly duplicate: boolean;
  readonly revocation: { readonly subject: string; readonly feature: string };
}

export interface KeyRotation {
  readonly action: 'announced' | 'promoted';
  readonly current: string;
  readonly next: string | null;
}

export interface MintedToken {
  readonly id: string;
  readonly token: string;
  readonly scopes: readonly string[];
}

export interface MintedApiKey {
  readonly id: string;
  readonly key: string;
}

export type JobState = 'queued' | 'running' | 'succeeded' | 'failed';

export interface Job {
  readonly id: string;
  readonly state: JobState;
  readonly processed: number;
  readonly total: number | null;
  readonly rate: number | null;
  readonly eta_s: number | null;
  readonly started_at?: string | null;
  readonly finished_at?: string | null;
  readonly error?: string | null;
}

/** RFC 9457 problem details, as every 4xx/5xx of the ledger carries. */
export interface Problem {
  readonly type?: string;
  readonly title: string;
  readonly status?: number;
  readonly detail?: string;
  readonly errors?: ReadonlyArray<{ readonly path: string; readonly message: string }>;
  readonly [member: string]: unknown;
}
