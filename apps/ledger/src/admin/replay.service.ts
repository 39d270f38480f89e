import { Inject, Injectable } from '@nestjs/common';
import type pg from 'pg';
import { diffEntitlements, evaluateEntitlements, type Catalog, type EntitlementPolicy, type Entitlements, type FeatureChange } from '@app/domain';
import { EntitlementProjection, EntitlementReader, type FoldedModel } from '@app/projections';
import { PG_POOL } from '../database/database.module.js';
import { ENTITLEMENT_POLICY } from '../entitlements/projector.service.js';
import { ValidationError } from '../http/problem.errors.js';

export interface SubjectState extends Entitlements {
  readonly subject: string;
}

export interface ReplayAnswer {
  /** The last log position replayed. */
  readonly position: number;
  /** The time the entitlements are evaluated at. */
  readonly at: string;
  readonly subjects: SubjectState[];
}

export interface WhatIfAnswer {
  readonly position: number;
  readonly at: string;
  /** Subjects compared (every subject the log touched). */
  readonly compared: number;
  readonly changed: Array<{ subject: string; changes: FeatureChange[]; before: Entitlements; after: Entitlements }>;
}

/**
 * Replays the whole log in memory with the same pure policy as the projection: every
 * subject's state at a point, and what a different plan catalog would have granted.
 * Writes nothing. Cost grows with the log (one fold of it per answer).
 */
@Injectable()
export class ReplayService {
  constructor(
    @Inject(PG_POOL) private readonly pool: pg.Pool,
    @Inject(ENTITLEMENT_POLICY) private readonly policy: EntitlementPolicy,
    @Inject(EntitlementReader) private readonly reader: EntitlementReader,
  ) {}

  /** Resolves `?position=` / `?at=` to the last position to fold and the evaluation time. */
  async point(opts: { position?: number; at?: string }): Promise<{ position: number; at: Date }> {
    if (opts.position !== undefined) {
      const head = await this.reader.head();
      if (opts.position > head) throw new ValidationError('that position is not in the log yet', [{ path: 'position', message: `the log ends at ${head}` }]);
      return { position: opts.position, at: opts.at ? new Date(opts.at) : await this.reader.recordedAt(opts.position) };
    }
    if (opts.at !== undefined) {
      const at = new Date(opts.at);
      return { position: await this.reader.positionAt(at), at };
    }
    return { position: await this.reader.head(), at: new Date() };
  }

  async replay(opts: { position?: number; at?: string }): Promise<ReplayAnswer> {
    const point = await this.point(opts);
    const projection = new EntitlementProjection(this.policy);
    const folded = await this.fold(projection, point.position);
    const subjects: SubjectState[] = [];
    for (const [subject, sources] of projection.sources(folded)) {
      const e = evaluateEntitlements(sources, point.at);
      if (e.plan === null && Object.keys(e.features).length === 0) continue;
      subjects.push({ subject, ...e });
    }
    subjects.sort((a, b) => (a.subject < b.subject ? -1 : a.subject > b.subject ? 1 : 0));
    return { position: point.position, at: point.at.toISOString(), subjects };
  }

  async whatIf(catalog: Catalog, opts: { at?: string }): Promise<WhatIfAnswer> {
    const point = await this.point({ at: opts.at });
    const projection = new EntitlementProjection(this.policy);
    // One pass over the log: only the catalog differs between the two answers.
    const folded = await this.fold(projection, point.position);
    const actual = projection.sources(folded);
    const proposed = projection.sources(folded, catalog);
    const changed: WhatIfAnswer['changed'] = [];
    const subjects = [...new Set([...actual.keys(), ...proposed.keys()])].sort();
    const none = { plans: [], features: [], unknown_plans: [] };
    for (const subject of subjects) {
      const before = evaluateEntitlements(actual.get(subject) ?? none, point.at);
      const after = evaluateEntitlements(proposed.get(subject) ?? none, point.at);
      const changes = diffEntitlements(before, after);
      if (changes.length > 0 || before.plan !== after.plan) changed.push({ subject, changes, before, after });
    }
    return { position: point.position, at: point.at.toISOString(), compared: subjects.length, changed };
  }

  private async fold(projection: EntitlementProjection, upTo: number): Promise<FoldedModel> {
    const client = await this.pool.connect();
    try {
      const folded = await projection.fold(client, { upTo });
      client.release();
      return folded;
    } catch (err) {
      // Given up, not put back: after a read timeout its statement is still active on it.
      client.release(err as Error);
      throw err;
    }
  }
}
