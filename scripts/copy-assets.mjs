#!/usr/bin/env node
// Second half of `npm run build` (after tsc): copies the runtime assets into dist/, where
// the compiled code and bundlers find them beside the JS (see README "Package layout"):
//   build/nimg-core.wasm  → dist/nimg-core.wasm      (made by `npm run asbuild`)
//   weights/nimg-v1.json  → dist/weights/nimg-v1.json
//   weights/nimg-v1.bin   → dist/weights/nimg-v1.bin
import { copyFileSync, existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const copies = [
  ['build/nimg-core.wasm', 'dist/nimg-core.wasm'],
  ['weights/nimg-v1.json', 'dist/weights/nimg-v1.json'],
  ['weights/nimg-v1.bin', 'dist/weights/nimg-v1.bin'],
];
for (const [from, to] of copies) {
  const src = path.join(root, from);
  if (!existsSync(src)) {
    console.error(`copy-assets: ${from} is missing${from.startsWith('build/') ? ' (run `npm run asbuild` first)' : ''}`);
    process.exit(1);
  }
  mkdirSync(path.dirname(path.join(root, to)), { recursive: true });
  copyFileSync(src, path.join(root, to));
}
console.log(`copy-assets: ${copies.map((c) => c[1]).join(', ')}`);
