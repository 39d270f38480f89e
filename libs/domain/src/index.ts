export * from './events/subscription.events.js';
export * from './events/ledger-event.js';
export * from './catalog/catalog.schema.js';
export * from './entitlements/index.js';
export * from './api-keys/index.js';
