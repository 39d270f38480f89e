export * from './event-store.types.js';
export * from './event-store.errors.js';
export {
  createPool,
  endPool,
  ensureDurableCommit,
  gotNoAnswer,
  isDatabaseUnavailable,
  rollbackAfter,
  sessionTimeouts,
  type PoolOptions,
  type SessionTimeouts,
} from './database.js';
export {
  PostgresEventStore,
  LOG_CHANNEL,
  EVENT_COLUMNS,
  readEvents,
  toRecorded,
  type EventStoreOptions,
  type EventStoreObserver,
} from './postgres-event-store.js';
export { LogFollower, LogNotifier, type LogFollowerOptions } from './log-follower.js';
export { migrate, type MigrateOptions } from './migrations.js';
export {
  startEmbeddedDatabase,
  freePort,
  processRunning,
  type EmbeddedDatabase,
  type EmbeddedDatabaseOptions,
} from './embedded-database.js';
export { projectRoot } from './project-root.js';
