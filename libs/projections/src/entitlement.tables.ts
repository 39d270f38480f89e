/** The physical tables of one generation of the entitlement read model. */
export interface EntitlementTables {
  readonly subjects: string;
  readonly subscriptions: string;
  readonly catalog: string;
}

const SUFFIX = /^(__[a-z0-9_]{1,30})?$/;

/** `ent_*` for the live model; `ent_*<suffix>` for one being rebuilt beside it. */
export function entitlementTables(suffix = ''): EntitlementTables {
  // Identifiers cannot be bound as parameters; the suffix is ours and checked.
  if (!SUFFIX.test(suffix)) throw new Error(`bad table suffix ${suffix}`);
  return {
    subjects: `ent_subjects${suffix}`,
    subscriptions: `ent_subscriptions${suffix}`,
    catalog: `ent_catalog${suffix}`,
  };
}

export const LIVE_TABLES = entitlementTables();

/** DDL for a generation beside the live one, shaped exactly like it (indexes included). */
export function createTablesLike(target: EntitlementTables, like: EntitlementTables = LIVE_TABLES): string[] {
  return [
    `DROP TABLE IF EXISTS ${target.subjects}, ${target.subscriptions}, ${target.catalog}`,
    `CREATE TABLE ${target.subjects} (LIKE ${like.subjects} INCLUDING ALL)`,
    `CREATE TABLE ${target.subscriptions} (LIKE ${like.subscriptions} INCLUDING ALL)`,
    `CREATE TABLE ${target.catalog} (LIKE ${like.catalog} INCLUDING ALL)`,
  ];
}
