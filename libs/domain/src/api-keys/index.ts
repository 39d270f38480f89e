export * from './api-key.events.js';
export * from './subject-api-keys.fold.js';
