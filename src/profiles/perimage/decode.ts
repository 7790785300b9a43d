/**
 * The perimage profile's decoder in the codec: params section → latent stream (the integer
 * context model picks every probability) → upsampling and synthesis, all in the core, then
 * the alpha stream. No weights and no tfjs: the file carries its decoder. The caller's abort
 * is checked between the stages (the synthesis of one image is a single core call).
 *
 * Backend: the float part (upsampling + synthesis) runs on WebGPU only when the decode's
 * backend is 'webgpu' (the call's option, else the codec's default): decode-gpu.ts, loaded on
 * demand (it brings tfjs). Every other choice ('auto' included) decodes in the core: a WebGPU
 * start costs more than a whole CPU decode of a typical image. No WebGPU under 'webgpu' is
 * BACKEND_UNAVAILABLE, never a silent fallback to the CPU. The entropy path is the core's in
 * both cases (integer, bit-exact).
 */
import type { DecodedImage, DecodeStats } from '../../api-types.js';
import { now, toNimgError } from '../shared.js';
import type { CodecResources, DecodeJob } from '../types.js';
import { applyAlpha } from '../amortized/decode.js';
import type { PerImageHeader } from './container.js';

/** A v2 file after the synchronous checks: its header and its sections, copied. */
export interface PerImageFileCopy {
  header: PerImageHeader;
  params: Uint8Array;
  latents: Uint8Array;
  alpha: Uint8Array | null;
}

export async function decodePerImageFile(res: CodecResources, job: DecodeJob<PerImageFileCopy>): Promise<{ image: DecodedImage; stats: DecodeStats }> {
  let stage = 'decode: core';
  let streamStage = false;
  try {
    const core = await res.perImageCore();
    job.abort?.check('the start of the decode');
    const t1 = now();
    const f = job.file;
    const { width, height } = f.header;
    // the container guarantees both sections are whole: a decoder running off the end of
    // one is corrupt data (TRUNCATED → CORRUPT_STREAM in toNimgError)
    streamStage = true;
    stage = 'decode: params section';
    const params = core.decodeFileParams(f);
    const tParams = now();
    job.abort?.check('the latent stream');
    stage = 'decode: latent stream';
    const grids = core.decodeLatents(params, f.latents, width, height);
    const tLatents = now();
    streamStage = false;
    job.abort?.check('synthesis');
    stage = 'decode: synthesis';
    const gpu = job.backend === 'webgpu';
    let rgba: Uint8ClampedArray;
    if (gpu) {
      stage = 'decode: synthesis (webgpu)';
      const { synthesizeOnGpu } = await import('./decode-gpu.js');
      // not raced with the abort here: the codec's race already rejects the caller's promise,
      // and the queue must stay held until the device work (tfjs' one engine) is done
      rgba = await synthesizeOnGpu(params, grids, width, height);
    } else {
      rgba = core.synthesize(params, grids, width, height);
    }
    const tSynth = now();
    if (f.alpha) {
      job.abort?.check('the alpha stream');
      streamStage = true;
      stage = 'decode: alpha';
      await applyAlpha(rgba, f.alpha, width, height);
    }
    const t4 = now();
    const stats: DecodeStats = {
      profile: 'perimage',
      // 'wasm': the core (WebAssembly) did the float part too
      backend: gpu ? 'webgpu' : 'wasm',
      containerMs: t1 - job.t0,
      entropyMs: tLatents - t1,
      paramsMs: tParams - t1,
      latentMs: tLatents - tParams,
      hsMs: 0,
      hs: 'core',
      // upsampling + synthesis → RGBA8; on WebGPU this includes activating the device (its
      // start-up on the codec's first GPU decode), the uploads, the shader compiles of a new
      // image size and the read-back: what the caller waits for
      transformMs: tSynth - tLatents,
      postMs: t4 - tSynth,
      totalMs: t4 - job.t0,
    };
    return { image: { width, height, data: rgba }, stats };
  } catch (e) {
    throw toNimgError(e, stage, streamStage);
  }
}
