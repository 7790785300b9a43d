/**
 * What a web page or an edge worker downloads to decode per-image (.nimg v2) files (issue 16,
 * point 5): the WASM core, and the JavaScript of a bundle whose entry only decodes v2 files
 * (bench/perimage-payload-entry.ts: createPerImageCore + decodePerImageFile). Raw, gzip -9 and
 * brotli -11 sizes; the bundle's inputs (esbuild metafile) with their bytes in the output, and
 * whether tfjs (or anything of the amortized profile's network) was pulled in, and through
 * which import.
 *
 *   npx tsx bench/perimage-payload.ts     # writes bench/results/perimage-payload.json
 *
 * The bundle: esbuild, platform browser, ESM, minified, tree-shaken, the way an application's
 * bundler would include nimg's decode path. Needs build/nimg-core.wasm (npm run asbuild).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { brotliCompressSync, constants, gzipSync } from 'node:zlib';
import { build, type Metafile } from 'esbuild';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const OUT = path.join(ROOT, 'bench', 'results', 'perimage-payload.json');

const kb = (n: number) => Math.round((n / 1024) * 10) / 10;
function sizes(b: Uint8Array): { bytes: number; gzip: number; brotli: number; kb: number; gzip_kb: number; brotli_kb: number } {
  const gzip = gzipSync(b, { level: 9 }).length;
  const brotli = brotliCompressSync(b, { params: { [constants.BROTLI_PARAM_QUALITY]: 11, [constants.BROTLI_PARAM_SIZE_HINT]: b.length } }).length;
  return { bytes: b.length, gzip, brotli, kb: kb(b.length), gzip_kb: kb(gzip), brotli_kb: kb(brotli) };
}

/** the chain of imports from the entry to `target` (esbuild metafile inputs) */
function importChain(meta: Metafile, entry: string, target: string): string[] | null {
  const prev = new Map<string, string>();
  const queue = [entry];
  const seen = new Set(queue);
  while (queue.length) {
    const cur = queue.shift()!;
    if (cur === target) {
      const chain = [cur];
      for (let c = cur; prev.has(c); ) chain.unshift((c = prev.get(c)!));
      return chain;
    }
    for (const imp of meta.inputs[cur]?.imports ?? []) {
      if (!seen.has(imp.path) && meta.inputs[imp.path]) {
        seen.add(imp.path);
        prev.set(imp.path, cur);
        queue.push(imp.path);
      }
    }
  }
  return null;
}

async function main(): Promise<void> {
  const wasm = new Uint8Array(readFileSync(path.join(ROOT, 'build', 'nimg-core.wasm')));
  const entry = 'bench/perimage-payload-entry.ts';
  const r = await build({
    absWorkingDir: ROOT,
    entryPoints: [entry],
    bundle: true,
    minify: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    write: false,
    metafile: true,
    logLevel: 'silent',
  });
  const js = r.outputFiles[0].contents;
  const meta = r.metafile;
  const out = Object.values(meta.outputs)[0];
  const inputs = Object.entries(out.inputs)
    .map(([p, v]) => ({ path: p, bytes_in_bundle: v.bytesInOutput }))
    .filter((x) => x.bytes_in_bundle > 0)
    .sort((a, b) => b.bytes_in_bundle - a.bytes_in_bundle);
  const tfjs = Object.keys(meta.inputs).filter((p) => p.includes('@tensorflow'));
  const amortized = Object.keys(meta.inputs).filter((p) => /^src\/(model|backend|codec\.ts|core\/index\.ts)/.test(p));
  const result = {
    date: new Date().toISOString(),
    command: 'npx tsx bench/perimage-payload.ts',
    wasm: { file: 'build/nimg-core.wasm', ...sizes(wasm), note: 'one core for both profiles (amortized and per-image): a v2-only page downloads the amortized profile\'s exports too' },
    js: {
      entry,
      bundler: 'esbuild, platform browser, ESM, minified, tree-shaken',
      ...sizes(js),
      inputs,
      tfjs_included: tfjs.length > 0,
      tfjs_inputs: tfjs.slice(0, 20),
      tfjs_chain: tfjs.length ? importChain(meta, entry, tfjs[0]) : null,
      amortized_profile_inputs: amortized,
      amortized_chains: Object.fromEntries(amortized.map((a) => [a, importChain(meta, entry, a)])),
    },
    total: { bytes: wasm.length + js.length, gzip: sizes(wasm).gzip + sizes(js).gzip, brotli: sizes(wasm).brotli + sizes(js).brotli },
    total_kb: { raw: kb(wasm.length + js.length), gzip: kb(sizes(wasm).gzip + sizes(js).gzip), brotli: kb(sizes(wasm).brotli + sizes(js).brotli) },
    compared_to: 'the amortized profile needs weights/nimg-v1.bin (6.6 MB, 5.0 MB gzipped) and tfjs (see bench/results/edge-worker.json)',
  };
  writeFileSync(OUT, `${JSON.stringify(result, null, 1)}\n`);
  console.log(JSON.stringify({ wasm: result.wasm, js: { ...result.js, inputs: result.js.inputs.slice(0, 12) }, total_kb: result.total_kb }, null, 1));
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
