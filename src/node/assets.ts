/**
 * Node-only: where the package's assets lie. Two layouts, the first that exists wins:
 *   published package (compiled, this file is dist/node/assets.js):
 *     dist/nimg-core.wasm, dist/weights/nimg-v1.json + nimg-v1.bin
 *   source checkout (this file is src/node/assets.ts, run through tsx):
 *     build/nimg-core.wasm (npm run asbuild), weights/nimg-v1.json + nimg-v1.bin
 * A checkout with a built dist/ uses dist's own copies from dist code and the checkout's from
 * src code, so each tree reads the assets built with it.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = path.dirname(fileURLToPath(import.meta.url));

/** The package root (the folder holding package.json) in both layouts. */
export const PACKAGE_ROOT = path.resolve(HERE, '..', '..');

/** dist/ when this file is compiled JS inside it, else null (source layout). */
const DIST = path.basename(HERE) === 'node' && existsSync(path.join(HERE, '..', 'nimg-core.wasm')) ? path.resolve(HERE, '..') : null;

export const DEFAULT_CORE_WASM = DIST ? path.join(DIST, 'nimg-core.wasm') : path.join(PACKAGE_ROOT, 'build', 'nimg-core.wasm');
export const DEFAULT_WEIGHTS_MANIFEST = DIST ? path.join(DIST, 'weights', 'nimg-v1.json') : path.join(PACKAGE_ROOT, 'weights', 'nimg-v1.json');
