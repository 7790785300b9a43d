// Part of `npm run build` (minimal version; the package build owns the full one): the
// compiled package needs the core WASM and the shipped weights beside its modules, at the
// paths the browser entry points resolve with new URL('../nimg-core.wasm', import.meta.url).
import { copyFileSync, mkdirSync } from 'node:fs';

mkdirSync('dist', { recursive: true });
copyFileSync('build/nimg-core.wasm', 'dist/nimg-core.wasm');
for (const f of ['nimg-v1.json', 'nimg-v1.bin']) copyFileSync(`weights/${f}`, `dist/${f}`);
