export { createDirectoryCache } from './directory-cache.js';
