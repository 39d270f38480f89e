export { entitlementTables, createTablesLike, LIVE_TABLES, type EntitlementTables } from './entitlement.tables.js';
export { EntitlementProjection, toLedgerEvent, type ApplyResult, type FoldOptions, type FoldedModel } from './entitlement.projection.js';
export {
  Projector,
  ProjectorFencedError,
  leaderLockKey,
  type ProjectionHandler,
  type ProjectorOptions,
  type ProjectorObserver,
} from './projector.js';
export { EntitlementReader, CATALOG_STREAM, type EntitlementsAnswer, type HistoryAnswer } from './entitlement.reader.js';
export { LeaderLease, sleep, yieldToEventLoop, type LeaderLeaseOptions } from './leader-lease.js';
export {
  rebuildBlueGreen,
  type BlueGreenRebuildOptions,
  type BlueGreenRebuildResult,
  type RebuildPhase,
  type RebuildProgress,
} from './blue-green.rebuild.js';
