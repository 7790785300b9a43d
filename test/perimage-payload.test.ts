/**
 * The v2 decode path stays small for web and edge pages: a bundle of
 * bench/perimage-payload-entry.ts (createPerImageCore + decodePerImageFile) holds neither tfjs
 * nor the amortized profile's core wrapper (src/core/index.ts), and the bundled decoder works
 * from a module passed in, with no Node loader. bench/perimage-payload.ts writes the sizes.
 */
import { readFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { build } from 'esbuild';
import { describe, expect, it } from 'vitest';
import { writePerImageContainer } from '../src/profiles/perimage/container.js';
import { createPerImageCore } from '../src/profiles/perimage/core.js';
import { defaultArch } from '../src/profiles/perimage/types.js';
import { makeRng, randomGrids, randomParams } from './fixtures/perimage-random.js';

const ROOT = new URL('..', import.meta.url).pathname;

describe('per-image decode bundle', () => {
  it('has no tfjs, no amortized core wrapper, about 7 KB gzipped, and decodes', async () => {
    const r = await build({ absWorkingDir: ROOT, entryPoints: ['bench/perimage-payload-entry.ts'], bundle: true, minify: true, format: 'esm', platform: 'browser', write: false, metafile: true, logLevel: 'silent' });
    const inputs = Object.keys(r.metafile.inputs);
    expect(inputs.filter((p) => p.includes('@tensorflow'))).toEqual([]);
    expect(inputs).not.toContain('src/core/index.ts');
    expect(inputs.filter((p) => p.startsWith('src/model/') || p.startsWith('src/backend/'))).toEqual([]);
    const js = r.outputFiles[0].contents;
    expect(gzipSync(js).length).toBeLessThan(12 * 1024);
    // the bundle itself decodes a file, given the module (as a page would)
    const core = await createPerImageCore();
    const rng = makeRng(4);
    const params = randomParams(rng, defaultArch(), { armScale: 20, armBias: 100 });
    const grids = randomGrids(rng, 7, 9, 5, 20, 1);
    const file = writePerImageContainer({ width: 9, height: 5, quality: 4, params: core.encodeParams(params), latents: core.encodeLatents(params, grids, 9, 5), alpha: null });
    const url = `data:text/javascript;base64,${Buffer.from(js).toString('base64')}`;
    const mod = (await import(/* @vite-ignore */ url)) as { decodeV2(w: WebAssembly.Module, b: Uint8Array): Promise<{ data: Uint8ClampedArray }> };
    const wasm = await WebAssembly.compile(readFileSync(new URL('../build/nimg-core.wasm', import.meta.url)));
    const out = await mod.decodeV2(wasm, file);
    expect(Buffer.from(out.data).equals(Buffer.from(core.synthesize(params, grids, 9, 5)))).toBe(true);
  });
});
