/**
 * The fuzz targets of nimg: the .nimg decoder (the public codec, real WASM core, random
 * weights by default so that the network costs ~1 ms; optionally the shipped weights too),
 * and the PNG and JPEG readers. Node-only.
 *
 * The limits of these runs are small on purpose (FUZZ_LIMITS): a fuzzer looks for crashes
 * and stalls in the parsers and decoders, and a mutated header that declares a size within
 * the default limits is legitimately as slow as a real image of that size (that cost is
 * bounded by the default limits and by `signal`/`timeoutMs`, tested in
 * test/amplification.test.ts); here it would only hide the per-input timer's real findings.
 */
import { readFileSync } from 'node:fs';
import { NimgCodec } from '../src/codec.js';
import { decodeImageFile } from '../src/image/index.js';
import type { Limits } from '../src/limits.js';
import { makeRandomWeights } from '../test/fixtures/random-weights.js';
import { PNG_MUTATORS, JPEG_MUTATORS } from './image-mutators.js';
import type { FuzzTarget } from './mutator.js';
import { NIMG_MUTATORS } from './nimg-mutators.js';
import { jpegSeeds, nimgSeeds, pngSeeds } from './seeds.js';
import { createPerImageCore, type PerImageCore } from '../src/profiles/perimage/core.js';
import { perimageMutators } from './perimage-mutators.js';
import { perimageSeeds } from './perimage-seeds.js';

/** 512x512 at most: every input stays a few milliseconds of work. */
export const FUZZ_LIMITS: Partial<Limits> = { maxPixels: 512 * 512, maxFileBytes: 1 << 20 };

const CORE = new URL('../build/nimg-core.wasm', import.meta.url);

export interface NimgTargetOptions {
  /** 'random' (default: the test suite's small random weights) or 'shipped' (weights/nimg-v1) */
  model?: 'random' | 'shipped';
  weight?: number;
}

/** The .nimg decoder; `dispose` releases the codec. */
export async function nimgTarget(o: NimgTargetOptions = {}): Promise<FuzzTarget & { codec: NimgCodec; dispose(): void }> {
  const model = o.model ?? 'random';
  let weights: { manifest: string; bin: Uint8Array } | undefined;
  if (model === 'random') {
    const rw = makeRandomWeights({ seed: 3, N: 8, M: 12, Nz: 8, hsHidden: [8, 8] });
    weights = { manifest: rw.manifestJson, bin: rw.bin };
  }
  const codec = await NimgCodec.create({ wasm: new Uint8Array(readFileSync(CORE)), weights, backend: 'wasm', threads: 1 });
  const seeds = await nimgSeeds(codec);
  return {
    name: model === 'random' ? 'nimg-decode' : 'nimg-decode-shipped',
    weight: o.weight ?? 1,
    seeds,
    mutators: NIMG_MUTATORS,
    codec,
    run: (input) => codec.decode(input, { limits: FUZZ_LIMITS }),
    dispose: () => codec.dispose(),
  };
}

export function pngTarget(weight = 1): FuzzTarget {
  return { name: 'png-read', weight, seeds: pngSeeds(), mutators: PNG_MUTATORS, run: (input) => decodeImageFile(input, FUZZ_LIMITS) };
}

export function jpegTarget(weight = 1): FuzzTarget {
  return { name: 'jpeg-read', weight, seeds: jpegSeeds(), mutators: JPEG_MUTATORS, run: (input) => decodeImageFile(input, FUZZ_LIMITS) };
}

/**
 * The per-image profile's decoder (container v2) through the public API: a codec with the
 * core only (no weights), `decode(bytes)` → the dispatcher → the perimage profile (container
 * → params section → latent stream → synthesis → alpha) on the real WASM core. The mutators
 * get a core of their own (they re-encode valid files with extreme weights), so the
 * decoder's instance sees only decodes. `core` is the codec's own per-image core, exposed so
 * a run can report its WASM memory.
 */
export async function perimageTarget(weight = 1): Promise<FuzzTarget & { core: PerImageCore; dispose(): void }> {
  const mod = await WebAssembly.compile(readFileSync(CORE));
  const codec = await NimgCodec.createLazy({ wasm: mod, backend: 'wasm', threads: 1 });
  const core = (await codec.perImageCore()) as PerImageCore;
  const helper = await createPerImageCore(mod);
  return {
    name: 'perimage-decode',
    weight,
    seeds: await perimageSeeds(helper),
    mutators: perimageMutators(helper),
    core,
    run: (input) => codec.decode(input, { limits: FUZZ_LIMITS }),
    dispose: () => codec.dispose(),
  };
}
