/**
 * Decode a whole version-2 (.nimg, per-image profile) file to RGBA without a codec: the
 * decode-only entry (`nimg/perimage-decoder`, src/perimage-decoder.ts) that pages and edge
 * workers serving only v2 files ship, and the one the CPU speed and payload benches time.
 * The full API's perimage profile (decode.ts) runs the same core functions on the same
 * sections; the fuzzer goes through the full API.
 *
 *   decodePerImageFile(core, bytes, { limits?, params?, signal?, timeoutMs?, stats? })
 *     → Promise<{ width, height, data: Uint8ClampedArray (RGBA), header, params, stats }>
 *
 * Steps: options checked (BAD_INPUT); container parsed with the caller's limits merged over
 * DEFAULT_LIMITS (header, lengths, payload CRC: FORMAT.md §4 order; LIMIT_EXCEEDED before
 * anything image-sized exists); params section + latent stream decoded and synthesized by the
 * core in one call (core.decodePayload: format limits on the parameter block, then the
 * caller's `params` limits, then the grids); alpha stream inflated last. Every failure is a
 * NimgError. The sections are copied into WASM memory synchronously, before the first await,
 * and the alpha stream is copied too, so changing the caller's buffer after the call changes
 * nothing.
 *
 * Abort: `signal` / `timeoutMs` are checked before the payload and before the alpha stream.
 * The payload is one synchronous WASM call (~65 ms at 768×512 on a 2-core machine, ~4 s at
 * 24 MP); the limits bound it.
 */
import { Abort } from '../../abort.js';
import { NimgError } from '../../errors.js';
import { decodeAlpha } from '../../format/alpha.js';
import { resolveLimits, type Limits } from '../../limits.js';
import { parsePerImageContainer, type PerImageHeader } from './container.js';
import { macsOf, type PerImageCore, type ParamsLimits, type PayloadTimings } from './core.js';
import type { PerImageParams } from './types.js';

export interface PerImageDecodeOptions {
  /** image and file limits, merged over DEFAULT_LIMITS (src/limits.ts) */
  limits?: Partial<Limits>;
  /** stricter limits on the parameter block than the format's (65 536 parameters, 4096 MAC/px) */
  params?: ParamsLimits;
  signal?: AbortSignal;
  /** time budget of the call in ms → ABORTED */
  timeoutMs?: number;
  /** an object to fill with the stats (also returned) */
  stats?: object;
}

export interface PerImageDecodeStats {
  /** container checks (header, CRCs) */
  containerMs: number;
  /** params section (rANS) and the prepared model */
  paramsMs: number;
  /** latent stream: context model (ARM) + rANS, the entropy path */
  latentsMs: number;
  /** upsampling + synthesis → RGBA8 */
  synthesisMs: number;
  /** alpha stream (0 when opaque) */
  alphaMs: number;
  totalMs: number;
  paramsBytes: number;
  latentBytes: number;
  alphaBytes: number;
  /** decoder MAC/px of the file's architecture (SPEC §3) */
  macsPerPixel: number;
  /** WASM memory of the core after the call (it never shrinks) */
  wasmMemoryBytes: number;
}

export interface PerImageDecoded {
  width: number;
  height: number;
  /** RGBA8, alpha 255 unless the file has an alpha stream */
  data: Uint8ClampedArray;
  header: PerImageHeader;
  params: PerImageParams;
  stats: PerImageDecodeStats;
}

const OPTION_KEYS = ['limits', 'params', 'signal', 'timeoutMs', 'stats'];

function readOptions(opts: unknown): PerImageDecodeOptions {
  if (opts === undefined) return {};
  if (opts === null || typeof opts !== 'object' || Array.isArray(opts)) throw new NimgError('BAD_INPUT', 'perimage decode: options must be an object or undefined');
  const o: Record<string, unknown> = {};
  try {
    for (const k of Object.keys(opts)) {
      if (!OPTION_KEYS.includes(k)) throw new NimgError('BAD_INPUT', `perimage decode: unknown option ${JSON.stringify(k)} (known: ${OPTION_KEYS.join(', ')})`);
      o[k] = (opts as Record<string, unknown>)[k];
    }
  } catch (e) {
    if (e instanceof NimgError) throw e;
    throw new NimgError('BAD_INPUT', 'perimage decode: options cannot be read', { cause: e });
  }
  const p = o.params;
  if (p !== undefined) {
    if (p === null || typeof p !== 'object') throw new NimgError('BAD_INPUT', 'perimage decode: params limits must be an object');
    for (const [k, v] of Object.entries(p as object)) {
      if (k !== 'maxParams' && k !== 'maxMacsPerPixel') throw new NimgError('BAD_INPUT', `perimage decode: unknown params limit ${JSON.stringify(k)}`);
      if (v !== undefined && !(typeof v === 'number' && v >= 0 && (Number.isInteger(v) || v === Infinity))) {
        throw new NimgError('BAD_INPUT', `perimage decode: params.${k} must be a non-negative integer, got ${String(v)}`);
      }
    }
  }
  if (o.stats !== undefined && (o.stats === null || typeof o.stats !== 'object')) throw new NimgError('BAD_INPUT', 'perimage decode: stats must be an object');
  return o as PerImageDecodeOptions;
}

const now = (): number => performance.now();

/** Decode a version-2 .nimg file (its whole bytes) with `core`. Throws only NimgError. */
export async function decodePerImageFile(core: PerImageCore, bytes: Uint8Array | ArrayBuffer | ArrayBufferView, opts?: PerImageDecodeOptions): Promise<PerImageDecoded> {
  const t0 = now();
  // duck-typed, not instanceof: a core made by another copy of this module (two bundles, src and dist) is as good
  if (!core || typeof core !== 'object' || typeof (core as PerImageCore).decodePayload !== 'function' || typeof (core as PerImageCore).memorySize !== 'function') {
    throw new NimgError('BAD_INPUT', 'perimage decode: core must come from createPerImageCore()');
  }
  const o = readOptions(opts);
  const limits = resolveLimits(o.limits);
  const abort = Abort.from(o.signal, o.timeoutMs, 'decode');
  const file = parsePerImageContainer(bytes, { limits });
  const { header } = file;
  const { width, height } = header;
  // the alpha stream is inflated after an await: pin the checked bytes now
  const alpha = file.alpha && file.alpha.slice();
  const t1 = now();
  abort?.check('the payload');
  const tm: PayloadTimings = {};
  const { params, rgba } = core.decodePayload(file.params, file.latents, width, height, { limits: o.params, timings: tm, fineScales: header.fineScales });
  const t2 = now();
  if (alpha) {
    abort?.check('the alpha stream');
    const plane = await (abort ? abort.race(decodeAlpha(alpha, width, height)) : decodeAlpha(alpha, width, height));
    for (let i = 0, n = width * height; i < n; i++) rgba[4 * i + 3] = plane[i];
  }
  const t3 = now();
  const stats: PerImageDecodeStats = {
    containerMs: t1 - t0,
    paramsMs: tm.paramsMs ?? 0,
    latentsMs: tm.latentsMs ?? 0,
    synthesisMs: tm.synthesisMs ?? t2 - t1,
    alphaMs: t3 - t2,
    totalMs: t3 - t0,
    paramsBytes: header.paramsLength,
    latentBytes: header.latentLength,
    alphaBytes: header.alphaLength,
    macsPerPixel: macsOf(params.arch),
    wasmMemoryBytes: core.memorySize(),
  };
  if (o.stats) Object.assign(o.stats, stats);
  return { width, height, data: rgba, header, params, stats };
}
