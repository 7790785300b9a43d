#!/usr/bin/env node
/**
 * Builds the edge example into a folder workerd can serve: worker.js (esbuild bundle of
 * worker.ts), nimg-core.wasm, tfjs-backend-wasm-simd.wasm and config.capnp.
 *
 *   node examples/edge/build.mjs [OUTDIR] [--source]
 *
 * `nimg` resolves like any dependency, through the package's export conditions
 * (workerd → dist/index.js: no Node code); the core comes from `nimg/nimg-core.wasm`.
 * --source (this repository's tests): `nimg` is src/index.ts and the core build/nimg-core.wasm,
 * so no `npm run build` is needed first.
 */
import { copyFileSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import * as esbuild from 'esbuild';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, '..', '..');

/** Build into `outdir`; resolves to the size of each file, raw and gzipped. */
export async function buildEdgeWorker({ outdir, source = false }) {
  mkdirSync(outdir, { recursive: true });
  await esbuild.build({
    entryPoints: [path.join(HERE, 'worker.ts')],
    outfile: path.join(outdir, 'worker.js'),
    bundle: true,
    format: 'esm',
    // the export conditions wrangler resolves with; platform 'browser' honours the
    // package.json "browser" maps by which tfjs leaves out its Node-only modules
    platform: 'browser',
    conditions: ['workerd', 'worker', 'browser'],
    target: 'es2022',
    minify: true,
    // bound as compiled modules by config.capnp
    external: ['./nimg-core.wasm', './tfjs-backend-wasm-simd.wasm'],
    alias: source ? { nimg: path.join(ROOT, 'src', 'index.ts') } : {},
    logLevel: 'warning',
  });
  const core = source ? path.join(ROOT, 'build', 'nimg-core.wasm') : fileURLToPath(import.meta.resolve('nimg/nimg-core.wasm'));
  const tfjs = fileURLToPath(import.meta.resolve('@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-simd.wasm'));
  copyFileSync(core, path.join(outdir, 'nimg-core.wasm'));
  copyFileSync(tfjs, path.join(outdir, 'tfjs-backend-wasm-simd.wasm'));
  copyFileSync(path.join(HERE, 'config.capnp'), path.join(outdir, 'config.capnp'));
  const sizes = {};
  for (const f of ['worker.js', 'nimg-core.wasm', 'tfjs-backend-wasm-simd.wasm']) {
    const p = path.join(outdir, f);
    sizes[f] = { bytes: statSync(p).size, gzip: gzipSync(readFileSync(p), { level: 9 }).length };
  }
  return sizes;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2);
  const outdir = path.resolve(args.find((a) => !a.startsWith('--')) ?? path.join(HERE, 'out'));
  const sizes = await buildEdgeWorker({ outdir, source: args.includes('--source') });
  console.log(`built ${outdir}`);
  for (const [f, s] of Object.entries(sizes)) console.log(`  ${f.padEnd(28)} ${s.bytes.toLocaleString('en')} bytes, ${s.gzip.toLocaleString('en')} gzipped`);
}
