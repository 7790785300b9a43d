/**
 * TypeScript wrapper of the per-image profile's bit-exact core (assembly/perimage/, in
 * build/nimg-core.wasm). It runs its own instance of the core module (its own memory: the
 * per-image tables stay resident there and never disturb the amortized profile's model),
 * with the same discipline as src/core/index.ts: each call resets the arena, copies the inputs
 * in once, runs, copies the outputs out once; every status becomes a NimgError and a trap
 * becomes NimgError('INTERNAL') with the instance rebuilt before the next call.
 *
 * Errors: BAD_INPUT (a params object or grids that the format cannot carry), CORRUPT_STREAM
 * (a params section or latent stream no encoder writes), TRUNCATED (a section or stream shorter
 * than it declares, when given alone), LIMIT_EXCEEDED (memory, or the caller's limits).
 */
import { NimgError, type NimgErrorCode } from '../../errors.js';
import type { LatentGrids, PerImageArch, PerImageParams, QuantTensor, SynthesisLayer } from './types.js';
import { gridSize, tensorSizes } from './types.js';

interface PiExports {
  memory: WebAssembly.Memory;
  alloc(n: number): number;
  resetCall(): void;
  getErrIndex(): number;
  getOutPtr(): number;
  getOutLen(): number;
  piInit(): number;
  piSelectScales(fine: number): void;
  piTablesMeta(): number;
  piTableCdfs(): number;
  piTablePtrs(): number;
  piTableCdfCount(): number;
  piDecodeParams(p: number, len: number): number;
  piEncodeParams(hp: number, hl: number, kp: number, nk: number): number;
  piSetModel(hp: number, hl: number, kp: number, nk: number): number;
  piHeaderLen(): number;
  piParamCount(): number;
  piTensorCount(): number;
  piK(): number;
  piOut(): number;
  piOutLength(): number;
  piArmEval(ctx: number, N: number): bigint;
  piAllocGrids(w: number, h: number): number;
  piLatentCount(): number;
  piLoadGrids(src: number): number;
  piStoreGrids(dst: number): void;
  piEncodeLatents(bitsPtr: number): number;
  piDecodeLatents(p: number, len: number): number;
  piSynthesize(out: number): number;
  piSetBandRows(n: number): void;
  piSetUpsampleOnly(on: number): void;
}

const STATUS: Record<number, NimgErrorCode> = { 1: 'BAD_INPUT', 2: 'CORRUPT_STREAM', 3: 'TRUNCATED', 4: 'LIMIT_EXCEEDED', 5: 'INTERNAL', 6: 'INTERNAL' };
const MAX_BYTES = 0x7000_0000;
/** the largest side the core's grids address (assembly/perimage/latents.ts allocGrids) */
export const MAX_SIDE = 0x1000_0000;

/** Optional stricter limits for decodeParams (the format's own are always applied). */
export interface ParamsLimits {
  /** largest accepted parameter count (format: 65536) */
  maxParams?: number;
  /** largest accepted decoder MAC/px (format: 4096) */
  maxMacsPerPixel?: number;
}

/** Where a decodePayload call spent its time (ms), filled when passed. */
export interface PayloadTimings {
  /** params section: rANS decode of the tensor integers and the prepared model */
  paramsMs?: number;
  /** latent stream: the ARM and one rANS step per latent (the entropy path) */
  latentsMs?: number;
  /** upsampling + synthesis into RGBA8 (the bench splits the two with setUpsampleOnly) */
  synthesisMs?: number;
}

/** Options of decodePayload. */
export interface PayloadOptions {
  /** stricter limits on the parameter block */
  limits?: ParamsLimits;
  /** filled with the stage split */
  timings?: PayloadTimings;
  /** the container's FINE_SCALES flag: the latent stream uses the full scale set */
  fineScales?: boolean;
}

/** Per-grid coded size of the latents. */
export interface LatentBits {
  /** bits of the whole stream (8 × its bytes) */
  total: number;
  /** perGrid[k]: bits the stream grows by when grid k is coded (grid L−1 includes the 8-byte stream header); sums to total */
  perGrid: number[];
}

function bad(msg: string): never {
  throw new NimgError('BAD_INPUT', msg);
}

function isInt(v: unknown, lo: number, hi: number): v is number {
  return typeof v === 'number' && Number.isInteger(v) && v >= lo && v <= hi;
}

function checkBytes(n: number): void {
  if (!(n <= MAX_BYTES)) throw new NimgError('LIMIT_EXCEEDED', `buffer of ${n} bytes exceeds the core's limit`);
}

/** Architecture → the architecture bytes + (e, s) pairs of SPEC §3 (everything before the stream length). BAD_INPUT if the object is malformed. */
export function headerBytes(params: PerImageParams): Uint8Array {
  if (!params || typeof params !== 'object' || !params.arch || typeof params.arch !== 'object') bad('params must be { arch, tensors }');
  const a = params.arch;
  if (!isInt(a.L, 1, 8) || !isInt(a.N, 8, 24) || !isInt(a.D, 0, 3) || !isInt(a.Wh, 8, 32)) bad('arch: L, N, D, Wh out of range');
  if (!Array.isArray(a.synthesis) || a.synthesis.length < 1 || a.synthesis.length > 8) bad('arch.synthesis must have 1 … 8 layers');
  const S = a.synthesis.length;
  const T = 2 * (a.D + 1) + 1 + 2 * S;
  if (!Array.isArray(params.tensors) || params.tensors.length !== T) bad(`params.tensors must have ${T} tensors`);
  const out = new Uint8Array(5 + 4 * S + 2 * T);
  out.set([a.L, a.N, a.D, a.Wh, S]);
  a.synthesis.forEach((l: SynthesisLayer, i: number) => {
    if (!l || (l.kind !== '1x1' && l.kind !== '3x3') || (l.act !== 'none' && l.act !== 'relu') || typeof l.residual !== 'boolean' || !isInt(l.out, 1, 64)) {
      bad(`arch.synthesis[${i}] malformed`);
    }
    out.set([l.kind === '3x3' ? 1 : 0, l.out, l.act === 'relu' ? 1 : 0, l.residual ? 1 : 0], 5 + 4 * i);
  });
  const sizes = tensorSizes(a);
  params.tensors.forEach((t: QuantTensor, i: number) => {
    if (!t || !(t.k instanceof Int32Array) || t.k.length !== sizes[i]) bad(`params.tensors[${i}].k must be an Int32Array of ${sizes[i]} values`);
    if (!isInt(t.e, 0, 255) || !isInt(t.s, 0, 255)) bad(`params.tensors[${i}]: e, s must be bytes`);
    out[5 + 4 * S + 2 * i] = t.e;
    out[5 + 4 * S + 2 * i + 1] = t.s;
  });
  return out;
}

/** Parse architecture bytes that the core has validated. */
function parseArch(b: Uint8Array): PerImageArch {
  const S = b[4];
  const synthesis: SynthesisLayer[] = [];
  for (let i = 0; i < S; i++) {
    const q = 5 + 4 * i;
    synthesis.push({ kind: b[q] === 1 ? '3x3' : '1x1', out: b[q + 1], act: b[q + 2] === 1 ? 'relu' : 'none', residual: b[q + 3] === 1 });
  }
  return { L: b[0], N: b[1], D: b[2], Wh: b[3], synthesis };
}

function concatK(params: PerImageParams): Int32Array {
  const n = params.tensors.reduce((s, t) => s + t.k.length, 0);
  const k = new Int32Array(n);
  let o = 0;
  for (const t of params.tensors) {
    k.set(t.k, o);
    o += t.k.length;
  }
  return k;
}

export class PerImageCore {
  private ex: PiExports | null;

  constructor(
    readonly module: WebAssembly.Module,
    first: PiExports,
  ) {
    this.ex = first;
  }

  static imports(): WebAssembly.Imports {
    return {
      env: {
        abort: (): never => {
          throw new WebAssembly.RuntimeError('nimg core abort');
        },
      },
    };
  }

  private static instantiate(module: WebAssembly.Module): PiExports {
    return new WebAssembly.Instance(module, PerImageCore.imports()).exports as unknown as PiExports;
  }

  /** Run fn on a live instance after resetCall() and the tables; traps → INTERNAL. */
  private run<T>(what: string, fn: (ex: PiExports) => T): T {
    if (!this.ex) {
      try {
        this.ex = PerImageCore.instantiate(this.module);
      } catch (e) {
        throw new NimgError('INTERNAL', `${what}: cannot rebuild the WASM core: ${String(e)}`, { cause: e });
      }
    }
    const ex = this.ex;
    try {
      ex.resetCall();
      this.check(ex, ex.piInit(), `${what}: tables`);
      return fn(ex);
    } catch (e) {
      if (e instanceof NimgError) throw e;
      this.ex = null;
      throw new NimgError('INTERNAL', `${what}: WASM core failure: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
    }
  }

  private check(ex: PiExports, st: number, what: string, remap?: Partial<Record<NimgErrorCode, NimgErrorCode>>): void {
    if (st === 0) return;
    let code = STATUS[st] ?? 'INTERNAL';
    if (remap?.[code]) code = remap[code]!;
    const idx = ex.getErrIndex();
    throw new NimgError(code, `${what}: ${code.toLowerCase().replace('_', ' ')}${idx >= 0 ? ` (at ${idx})` : ''}`);
  }

  private static alloc(ex: PiExports, bytes: number): number {
    checkBytes(bytes);
    const p = ex.alloc(bytes) >>> 0;
    if (p === 0) throw new NimgError('LIMIT_EXCEEDED', `cannot allocate ${bytes} bytes of WASM memory`);
    return p;
  }

  private static put(ex: PiExports, a: Uint8Array | Int16Array | Int32Array): number {
    const p = PerImageCore.alloc(ex, a.byteLength);
    new Uint8Array(ex.memory.buffer, p, a.byteLength).set(new Uint8Array(a.buffer, a.byteOffset, a.byteLength));
    return p;
  }

  /** install a params object as the model of this call (BAD_INPUT if it breaks SPEC §3) */
  private setModel(ex: PiExports, params: PerImageParams, what: string): void {
    const hdr = headerBytes(params);
    const k = concatK(params);
    const hp = PerImageCore.put(ex, hdr);
    const kp = PerImageCore.put(ex, k);
    this.check(ex, ex.piSetModel(hp, hdr.length, kp, k.length), `${what}: params`, { CORRUPT_STREAM: 'BAD_INPUT', TRUNCATED: 'BAD_INPUT' });
    ex.piSelectScales(params.fineScales === true ? 1 : 0);
  }

  private static dims(width: number, height: number): void {
    if (!isInt(width, 1, Number.MAX_SAFE_INTEGER) || !isInt(height, 1, Number.MAX_SAFE_INTEGER)) bad(`width and height must be positive integers, got ${String(width)}x${String(height)}`);
    // a size the format can declare (u32) but the core cannot address is a limit, not a bad
    // argument: a v2 file under raised limits gets LIMIT_EXCEEDED, as for any other size
    // (it was BAD_INPUT, found by a v2 header declaring 2^28 + 1 columns)
    if (width > MAX_SIDE) throw new NimgError('LIMIT_EXCEEDED', `width ${width} exceeds the core's maximum of ${MAX_SIDE}`, { limit: 'maxWidth', value: width });
    if (height > MAX_SIDE) throw new NimgError('LIMIT_EXCEEDED', `height ${height} exceeds the core's maximum of ${MAX_SIDE}`, { limit: 'maxHeight', value: height });
  }

  /** grids → core planes (BAD_INPUT if they disagree with the header or hold values outside [−127, 127]) */
  private loadGrids(ex: PiExports, params: PerImageParams, grids: LatentGrids, width: number, height: number, what: string): void {
    PerImageCore.dims(width, height);
    const L = params.arch.L;
    if (!Array.isArray(grids) || grids.length !== L) bad(`${what}: expected ${L} grids`);
    let n = 0;
    grids.forEach((g, k) => {
      const { w, h } = gridSize(width, height, k);
      if (!(g instanceof Int16Array) || g.length !== w * h) bad(`${what}: grid ${k} must be an Int16Array of ${h}x${w} values`);
      n += g.length;
    });
    checkBytes(n * 12);
    this.check(ex, ex.piAllocGrids(width, height), what);
    const all = new Int16Array(n);
    let o = 0;
    for (const g of grids) {
      all.set(g, o);
      o += g.length;
    }
    this.check(ex, ex.piLoadGrids(PerImageCore.put(ex, all)), `${what}: grid value outside [-127, 127]`);
  }

  private static storeGrids(ex: PiExports, L: number, width: number, height: number): LatentGrids {
    const n = ex.piLatentCount() >>> 0;
    const p = PerImageCore.alloc(ex, n * 2);
    ex.piStoreGrids(p);
    const all = new Int16Array(ex.memory.buffer, p, n);
    const grids: LatentGrids = [];
    let o = 0;
    for (let k = 0; k < L; k++) {
      const { w, h } = gridSize(width, height, k);
      grids.push(all.slice(o, o + w * h));
      o += w * h;
    }
    return grids;
  }

  private static readParams(ex: PiExports, bytes: Uint8Array): PerImageParams {
    const hl = ex.piHeaderLen() >>> 0;
    const arch = parseArch(bytes.subarray(0, hl));
    const sizes = tensorSizes(arch);
    const k = new Int32Array(ex.memory.buffer, ex.piK() >>> 0, ex.piParamCount() >>> 0).slice();
    const base = 5 + 4 * arch.synthesis.length;
    let o = 0;
    const tensors = sizes.map((n, t) => {
      const q: QuantTensor = { k: k.slice(o, o + n), e: bytes[base + 2 * t], s: bytes[base + 2 * t + 1] };
      o += n;
      return q;
    });
    return { arch, tensors };
  }

  private static checkLimits(params: PerImageParams, limits?: ParamsLimits): void {
    if (!limits) return;
    const count = params.tensors.reduce((s, t) => s + t.k.length, 0);
    if (limits.maxParams !== undefined && count > limits.maxParams) throw new NimgError('LIMIT_EXCEEDED', `params: ${count} parameters; the limit is ${limits.maxParams}`);
    if (limits.maxMacsPerPixel !== undefined) {
      const macs = macsOf(params.arch);
      if (macs > limits.maxMacsPerPixel) throw new NimgError('LIMIT_EXCEEDED', `params: ${macs} MAC/px; the limit is ${limits.maxMacsPerPixel}`);
    }
  }

  // ------------------------------------------------------------------ params

  /** The params section (SPEC §3) of a params object. BAD_INPUT if it breaks a rule of SPEC §2–3. */
  encodeParams(params: PerImageParams): Uint8Array {
    return this.run('encodeParams', (ex) => {
      const hdr = headerBytes(params);
      const k = concatK(params);
      const hp = PerImageCore.put(ex, hdr);
      const kp = PerImageCore.put(ex, k);
      this.check(ex, ex.piEncodeParams(hp, hdr.length, kp, k.length), 'encodeParams', { CORRUPT_STREAM: 'BAD_INPUT', TRUNCATED: 'BAD_INPUT' });
      return new Uint8Array(ex.memory.buffer, ex.piOut() >>> 0, ex.piOutLength() >>> 0).slice();
    });
  }

  /** Parse and decode a params section (exactly its bytes). CORRUPT_STREAM / TRUNCATED / LIMIT_EXCEEDED. */
  decodeParams(bytes: Uint8Array, limits?: ParamsLimits): PerImageParams {
    if (!(bytes instanceof Uint8Array)) bad('decodeParams: bytes must be a Uint8Array');
    checkBytes(bytes.length);
    return this.run('decodeParams', (ex) => {
      const p = PerImageCore.put(ex, bytes);
      this.check(ex, ex.piDecodeParams(p, bytes.length), 'decodeParams');
      const params = PerImageCore.readParams(ex, bytes);
      PerImageCore.checkLimits(params, limits);
      return params;
    });
  }

  /**
   * The params of a parsed file: its params section, and the scale set its header selects
   * (what decodeLatents / synthesize of that file's latent stream need).
   */
  decodeFileParams(file: { header: { fineScales: boolean }; params: Uint8Array }, limits?: ParamsLimits): PerImageParams {
    const params = this.decodeParams(file.params, limits);
    if (file.header.fineScales) params.fineScales = true;
    return params;
  }

  // ------------------------------------------------------------------ latents

  /** The latent stream (SPEC §3) of grids (finest first). BAD_INPUT on grids that disagree with the header or values outside [−127, 127]. */
  encodeLatents(params: PerImageParams, grids: LatentGrids, width: number, height: number): Uint8Array {
    return this.run('encodeLatents', (ex) => {
      this.setModel(ex, params, 'encodeLatents');
      this.loadGrids(ex, params, grids, width, height, 'encodeLatents');
      this.check(ex, ex.piEncodeLatents(0), 'encodeLatents');
      return new Uint8Array(ex.memory.buffer, ex.getOutPtr() >>> 0, ex.getOutLen() >>> 0).slice();
    });
  }

  /** Exact coded size of the latent stream, and how it splits over the grids. */
  latentBits(params: PerImageParams, grids: LatentGrids, width: number, height: number): LatentBits {
    return this.run('latentBits', (ex) => {
      this.setModel(ex, params, 'latentBits');
      this.loadGrids(ex, params, grids, width, height, 'latentBits');
      const L = params.arch.L;
      const bp = PerImageCore.alloc(ex, 8 * L);
      this.check(ex, ex.piEncodeLatents(bp), 'latentBits');
      const perGrid = Array.from(new Float64Array(ex.memory.buffer, bp, L));
      return { total: (ex.getOutLen() >>> 0) * 8, perGrid };
    });
  }

  /** Decode a latent stream (exactly its bytes) into the grids, finest first. CORRUPT_STREAM / TRUNCATED. */
  decodeLatents(params: PerImageParams, bytes: Uint8Array, width: number, height: number): LatentGrids {
    if (!(bytes instanceof Uint8Array)) bad('decodeLatents: bytes must be a Uint8Array');
    PerImageCore.dims(width, height);
    return this.run('decodeLatents', (ex) => {
      this.setModel(ex, params, 'decodeLatents');
      checkBytes(bytes.length + latentCountOf(params.arch.L, width, height) * 4);
      this.check(ex, ex.piAllocGrids(width, height), 'decodeLatents');
      const p = PerImageCore.put(ex, bytes);
      this.check(ex, ex.piDecodeLatents(p, bytes.length), 'decodeLatents');
      return PerImageCore.storeGrids(ex, params.arch.L, width, height);
    });
  }

  // ------------------------------------------------------------------ synthesis

  /** Upsampling + synthesis of grids into RGBA8 (alpha 255). */
  synthesize(params: PerImageParams, grids: LatentGrids, width: number, height: number): Uint8ClampedArray {
    return this.run('synthesize', (ex) => {
      this.setModel(ex, params, 'synthesize');
      this.loadGrids(ex, params, grids, width, height, 'synthesize');
      return PerImageCore.synth(ex, width, height, 'synthesize');
    });
  }

  private static synth(ex: PiExports, width: number, height: number, what: string): Uint8ClampedArray {
    const n = width * height * 4;
    checkBytes(n);
    const out = PerImageCore.alloc(ex, n);
    const st = ex.piSynthesize(out);
    if (st !== 0) throw new NimgError(st === 4 ? 'LIMIT_EXCEEDED' : 'INTERNAL', `${what}: synthesis failed (status ${st})`);
    const rgba = new Uint8ClampedArray(n);
    rgba.set(new Uint8ClampedArray(ex.memory.buffer, out, n));
    return rgba;
  }

  /**
   * Decode a payload: params section + latent stream → RGBA8 (and the params). Both lengths
   * come from the container, so a stream that runs past its end is CORRUPT_STREAM here.
   * The caller has checked width/height against its limits (container.ts). opts.fineScales is
   * the header's FINE_SCALES flag (set in the returned params); opts.limits the limits on the
   * parameter block; opts.timings receives the stage split.
   */
  decodePayload(paramsBytes: Uint8Array, latentBytes: Uint8Array, width: number, height: number, opts: PayloadOptions = {}): { params: PerImageParams; rgba: Uint8ClampedArray } {
    const { limits, timings, fineScales = false } = opts;
    if (!(paramsBytes instanceof Uint8Array) || !(latentBytes instanceof Uint8Array)) bad('decodePayload: sections must be Uint8Arrays');
    PerImageCore.dims(width, height);
    checkBytes(paramsBytes.length + latentBytes.length);
    return this.run('decodePayload', (ex) => {
      const t0 = performance.now();
      const pp = PerImageCore.put(ex, paramsBytes);
      this.check(ex, ex.piDecodeParams(pp, paramsBytes.length), 'params section', { TRUNCATED: 'CORRUPT_STREAM' });
      const params = PerImageCore.readParams(ex, paramsBytes);
      PerImageCore.checkLimits(params, limits);
      if (fineScales) params.fineScales = true;
      ex.piSelectScales(fineScales ? 1 : 0);
      const t1 = performance.now();
      checkBytes(latentCountOf(params.arch.L, width, height) * 2 + width * height * 4);
      this.check(ex, ex.piAllocGrids(width, height), 'latent grids');
      const lp = PerImageCore.put(ex, latentBytes);
      this.check(ex, ex.piDecodeLatents(lp, latentBytes.length), 'latent stream', { TRUNCATED: 'CORRUPT_STREAM' });
      const t2 = performance.now();
      const rgba = PerImageCore.synth(ex, width, height, 'decodePayload');
      // the stage split costs three clock reads: the speed bench reads it from the real decode
      if (timings) Object.assign(timings, { paramsMs: t1 - t0, latentsMs: t2 - t1, synthesisMs: performance.now() - t2 });
      return { params, rgba };
    });
  }

  // ------------------------------------------------------------------ test hooks

  /** The 768 tables as the core built them (cdf concatenation and ptr array). */
  tables(): { cdf: Int32Array; ptr: Int32Array } {
    return this.run('tables', (ex) => {
      const n = ex.piTableCdfCount() >>> 0;
      return {
        cdf: new Int32Array(ex.memory.buffer, ex.piTableCdfs() >>> 0, n).slice(),
        ptr: new Int32Array(ex.memory.buffer, ex.piTablePtrs() >>> 0, 769).slice(),
      };
    });
  }

  /** The core's ARM of params on each context (contexts: N values each) → [mu, ls] pairs. */
  armEval(params: PerImageParams, contexts: Int32Array[]): Array<[number, number]> {
    return this.run('armEval', (ex) => {
      this.setModel(ex, params, 'armEval');
      const N = params.arch.N;
      const cp = PerImageCore.alloc(ex, N * 4);
      return contexts.map((c) => {
        new Int32Array(ex.memory.buffer, cp, N).set(c.subarray(0, N));
        const r = ex.piArmEval(cp, N);
        return [Number(BigInt.asIntN(32, r >> 32n)), Number(BigInt.asIntN(32, r))];
      });
    });
  }

  /** Test hook: rows per synthesis band (0: automatic, about 4 MiB of floats per buffer). */
  setBandRows(n: number): void {
    this.run('setBandRows', (ex) => ex.piSetBandRows(n >>> 0));
  }

  /** Bench hook: synthesize() stops after the upsampling (its output is then meaningless). */
  setUpsampleOnly(on: boolean): void {
    this.run('setUpsampleOnly', (ex) => ex.piSetUpsampleOnly(on ? 1 : 0));
  }

  /** bytes of WASM memory of this instance */
  memorySize(): number {
    return this.ex ? this.ex.memory.buffer.byteLength : 0;
  }
}

function latentCountOf(L: number, width: number, height: number): number {
  let n = 0;
  for (let k = 0; k < L; k++) {
    const { w, h } = gridSize(width, height, k);
    n += w * h;
  }
  return n;
}

/** Decoder MAC/px (SPEC §3): ARM MACs per latent + synthesis MACs per pixel. */
export function macsOf(arch: PerImageArch): number {
  const arm = arch.D === 0 ? 2 * arch.N : arch.N * arch.Wh + (arch.D - 1) * arch.Wh * arch.Wh + 2 * arch.Wh;
  let c = arch.L;
  let syn = 0;
  for (const l of arch.synthesis) {
    syn += l.out * c * (l.kind === '3x3' ? 9 : 1);
    c = l.out;
  }
  return arm + syn;
}

/**
 * Create a per-image core: `source` a compiled module or the bytes of nimg-core.wasm; without
 * it (Node only) build/nimg-core.wasm, read through src/core/node-loader.js and compiled once
 * per process.
 *
 * Why not src/core's createCore: it would bring the amortized profile's wrapper (src/core/
 * index.ts, ~12 KB minified, 40% of the v2 decode bundle: bench/results/perimage-payload.json)
 * into every bundle that only decodes v2 files; compiling here needs none of it, and the Node
 * loader is reached by a non-literal dynamic import that bundlers do not follow.
 */
let nodeModule: Promise<WebAssembly.Module> | null = null;

async function compileCore(source: BufferSource): Promise<WebAssembly.Module> {
  try {
    return await WebAssembly.compile(source);
  } catch (e) {
    throw new NimgError('BACKEND_UNAVAILABLE', `cannot compile the nimg core (WebAssembly SIMD needed): ${String(e)}`, { cause: e });
  }
}

export async function createPerImageCore(source?: WebAssembly.Module | BufferSource): Promise<PerImageCore> {
  let mod: WebAssembly.Module;
  if (source instanceof WebAssembly.Module) mod = source;
  else if (source !== undefined) {
    if (!(ArrayBuffer.isView(source) || source instanceof ArrayBuffer)) bad('createPerImageCore: source must be a WebAssembly.Module or a BufferSource');
    mod = await compileCore(source);
  } else {
    const isNode = typeof process !== 'undefined' && typeof process.versions === 'object' && !!process.versions?.node;
    if (!isNode) bad('createPerImageCore: pass the nimg-core WebAssembly.Module (or its bytes) outside Node');
    if (!nodeModule) {
      nodeModule = (async () => {
        const spec = '../../core/node-loader.js'; // non-literal: keeps bundlers from following it
        const { loadCoreWasm } = (await import(/* @vite-ignore */ spec)) as typeof import('../../core/node-loader.js');
        return compileCore(await loadCoreWasm());
      })();
      nodeModule.catch(() => (nodeModule = null));
    }
    mod = await nodeModule;
  }
  try {
    const inst = await WebAssembly.instantiate(mod, PerImageCore.imports());
    return new PerImageCore(mod, inst.exports as unknown as PiExports);
  } catch (e) {
    throw new NimgError('BACKEND_UNAVAILABLE', `cannot instantiate the nimg core: ${String(e)}`, { cause: e });
  }
}
