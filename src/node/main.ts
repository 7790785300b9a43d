/**
 * The package's main entry in Node (export condition `node`): the platform-neutral API of
 * src/index.ts, with the default assets registered so that `encode`/`decode`/`init()` work
 * without arguments. Browsers and workers resolve `nimg` to src/index.ts instead.
 */
import './defaults.js';

export * from '../index.js';
