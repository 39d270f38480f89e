import { type Catalog, EMPTY_CATALOG } from '../catalog/catalog.schema.js';
import type { LedgerEvent } from '../events/ledger-event.js';
import { CATALOG_PUBLISHED, catalogPublishedDataSchema } from './catalog.events.js';
import type { EvolveResult } from './entitlement.notes.js';

export const initialCatalog = (): Catalog => EMPTY_CATALOG;

/**
 * The catalog in force after an event: a `catalog.published` replaces it whole; entitlements
 * at a position are evaluated with the latest catalog published at or before it.
 *
 * @example
 * let catalog = initialCatalog();
 * for (const e of events) catalog = evolveCatalog(catalog, e).fold;
 */
export function evolveCatalog(catalog: Catalog, event: LedgerEvent): EvolveResult<Catalog> {
  if (event.type !== CATALOG_PUBLISHED) return { fold: catalog, note: 'ignored_type' };
  const parsed = catalogPublishedDataSchema.safeParse(event.data);
  if (!parsed.success) return { fold: catalog, note: 'malformed_event' };
  return { fold: parsed.data.catalog };
}
