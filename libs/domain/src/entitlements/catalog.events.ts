import { z } from 'zod';
import { type Catalog, catalogSchema } from '../catalog/catalog.schema.js';

export const CATALOG_PUBLISHED = 'catalog.published' as const;

/** Payload of `catalog.published`: the plan catalog in force from that event's position on. */
export interface CatalogPublishedData {
  readonly catalog: Catalog;
}

export const catalogPublishedDataSchema = z.object({ catalog: catalogSchema });
