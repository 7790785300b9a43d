/**
 * TypeScript wrapper of the bit-exact WASM core (assembly/, built to build/nimg-core.wasm).
 *
 * - Platform-neutral: imports no Node module statically. `createCore(module | bytes)`; with
 *   no argument, under Node only, the default file is read through ./node-loader.js
 *   (dynamic import). Edge workers pass a precompiled `WebAssembly.Module`.
 * - The raw module is instantiated with a tiny import object (no generated bindings): the
 *   model (h_s weights, CDF tables and their lookup tables) stays resident in WASM memory;
 *   each call bump-allocates its buffers after the model (assembly/arena.ts), copies the
 *   inputs in once, runs, copies the outputs out once.
 * - Every WASM export returns a status code; they become NimgError (BAD_INPUT,
 *   CORRUPT_STREAM, TRUNCATED, LIMIT_EXCEEDED, NOT_INITIALIZED). A trap (RuntimeError), or
 *   any unexpected JS error while touching WASM memory, becomes NimgError('INTERNAL'); the
 *   instance is then dropped and rebuilt (and the model re-applied) before the next call
 *   (a replacement is instantiated asynchronously right away; synchronous instantiation is
 *   the fallback if the next call comes first).
 */
import { NimgError, type NimgErrorCode } from '../errors.js';
import { validateHsLayer, validateTables } from './model.js';
import type { Core, CoreModel, EntropyTables } from './types.js';

export type { Core, CoreModel, EntropyTables, HsLayer } from './types.js';
export { coreModelFromWeights, validateTables, validateHsLayer } from './model.js';

/** Raw exports of build/nimg-core.wasm (see assembly/index.ts). Pointers are u32 (read with >>> 0). */
interface CoreExports {
  memory: WebAssembly.Memory;
  alloc(n: number): number;
  resetCall(): void;
  resetModel(): void;
  commitModel(): void;
  arenaUsed(): number;
  getErrIndex(): number;
  buildTables(cdfPtr: number, cdfLen: number, ptrPtr: number, offPtr: number, T: number): number;
  getBuildStatus(): number;
  encodeSyms(meta: number, T: number, valPtr: number, idxPtr: number, perTable: number, n: number): number;
  decodeSyms(meta: number, T: number, inPtr: number, inLen: number, idxPtr: number, perTable: number, outPtr: number, n: number): number;
  getOutPtr(): number;
  getOutLen(): number;
  quantizeZ(zPtr: number, outPtr: number, n: number): void;
  quantizeLatent(ysPtr: number, muPtr: number, outPtr: number, n: number, fracBits: number): void;
  dequantizeLatent(kPtr: number, muPtr: number, gainPtr: number, outPtr: number, C: number, HW: number, fracBits: number): void;
  toPlanar(inPtr: number, w: number, h: number, ch: number, padW: number, padH: number, outPtr: number): void;
  toRgba(inPtr: number, padW: number, padH: number, w: number, h: number, outPtr: number): void;
  hsReset(): void;
  hsSetLayer(l: number, cin: number, cout: number, k: number, w8: number, b: number, m: number, sh: number): number;
  hsFinish(M: number, numScales: number): number;
  hyperSynthesis(zPtr: number, hz: number, wz: number, muPtr: number, idxPtr: number): number;
  unpackHs(srcPtr: number, muPtr: number, idxPtr: number, n: number): void;
  debugTrap(): void;
  coreVersion(): number;
}

const ST_OK = 0;
const STATUS: Record<number, [NimgErrorCode, string]> = {
  1: ['BAD_INPUT', 'bad input'],
  2: ['CORRUPT_STREAM', 'corrupt entropy-coded stream'],
  3: ['TRUNCATED', 'entropy-coded stream ends early'],
  4: ['LIMIT_EXCEEDED', 'out of WASM memory'],
  5: ['NOT_INITIALIZED', 'no model set'],
  6: ['BAD_INPUT', 'malformed model'],
};

/** Largest buffer one call may allocate (the WASM memory is 32-bit). */
const MAX_BYTES = 0x7000_0000;

function badInput(msg: string): never {
  throw new NimgError('BAD_INPUT', msg);
}

function isUint(v: unknown): v is number {
  return typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= 0x7fff_ffff;
}

function checkUint(name: string, v: unknown, min = 0): number {
  if (!isUint(v) || v < min) badInput(`${name} must be an integer >= ${min}, got ${String(v)}`);
  return v;
}

function checkArray<T>(name: string, a: unknown, ctor: { new (...args: never[]): T; name: string }, len?: number): T {
  if (!(a instanceof ctor)) badInput(`${name} must be a ${ctor.name}`);
  if (len !== undefined && (a as unknown as { length: number }).length !== len) {
    badInput(`${name} has ${(a as unknown as { length: number }).length} elements, expected ${len}`);
  }
  return a;
}

function checkBytes(n: number): void {
  if (!(n <= MAX_BYTES)) throw new NimgError('LIMIT_EXCEEDED', `buffer of ${n} bytes exceeds the core's limit`);
}

/** Extra, non-interface methods of the WASM core. */
export interface WasmCore extends Core {
  /** bytes of WASM memory in use (model + last call) and the memory size */
  memoryInfo(): { used: number; size: number };
  /** Test hook: makes the WASM instance trap (→ NimgError('INTERNAL'); the next call works). */
  debugTrap(): void;
  /** The compiled module (to create more cores cheaply, e.g. per worker). */
  readonly module: WebAssembly.Module;
  /**
   * Fused encoder path, intermediates resident in WASM memory (no copies of mu_q / idx / k):
   * `encodeY(quantizeLatent(ys, muQ), idx)` with `(muQ, idx) = hyperSynthesis(zhat, hz, wz)`.
   * ys: gained latent [M, 4hz, 4wz].
   */
  encodeLatent(ys: Float32Array, zhat: Int32Array, hz: number, wz: number): Uint8Array;
  /**
   * Fused decoder path: `dequantizeLatent(decodeY(bytes, idx), muQ, gainDec, M, 16·hz·wz)` with
   * `(muQ, idx) = hyperSynthesis(zhat, hz, wz)`; returns yhat [M, 4hz, 4wz].
   */
  decodeLatent(bytes: Uint8Array, zhat: Int32Array, hz: number, wz: number, gainDec: Float32Array): Float32Array;
  /**
   * `encodeLatent` with an h_s computed elsewhere (the WebGPU h_s, src/model/gpu-hs.ts):
   * `hs` packed u32 [M, HW] = (mu_q & 0xffff) | idx << 16, copied in once and split in WASM
   * (assembly/hs.ts unpackHs); no mu_q / idx / k arrays cross the boundary. ys: gained
   * latent [M, HW].
   */
  encodeLatentHs(ys: Float32Array, hs: Uint32Array): Uint8Array;
  /** `decodeLatent` with an h_s computed elsewhere (`hs` packed as in encodeLatentHs); yhat [M, HW]. */
  decodeLatentHs(bytes: Uint8Array, hs: Uint32Array, gainDec: Float32Array): Float32Array;
  /**
   * Give the WASM memory back (it only grows: a large image leaves it large): replaces the
   * instance by a fresh one and re-applies the model.
   */
  releaseMemory(): Promise<void>;
}

class WasmCoreImpl implements WasmCore {
  private ex: CoreExports | null = null;
  /** instance prepared asynchronously after a trap (sync instantiation is the fallback) */
  private spare: CoreExports | null = null;
  private model: CoreModel | null = null;
  private gaussMeta = 0;
  private zMeta = 0;

  constructor(
    readonly module: WebAssembly.Module,
    first: CoreExports,
  ) {
    this.ex = first;
  }

  static imports(): WebAssembly.Imports {
    return {
      env: {
        abort: (_msg: number, _file: number, line: number, col: number): never => {
          throw new WebAssembly.RuntimeError(`nimg core abort at ${line}:${col}`);
        },
      },
    };
  }

  static async instantiateAsync(module: WebAssembly.Module): Promise<CoreExports> {
    const inst = await WebAssembly.instantiate(module, WasmCoreImpl.imports());
    return inst.exports as unknown as CoreExports;
  }

  private instantiateSync(): CoreExports {
    const inst = new WebAssembly.Instance(this.module, WasmCoreImpl.imports());
    return inst.exports as unknown as CoreExports;
  }

  /** drop the (trapped) instance; prepare the next one in the background */
  private discard(): void {
    this.ex = null;
    if (!this.spare) {
      WasmCoreImpl.instantiateAsync(this.module).then(
        (ex) => {
          if (!this.ex && !this.spare) this.spare = ex;
        },
        () => {},
      );
    }
  }

  /** Run fn on a live instance; traps → INTERNAL and the instance is rebuilt next time. */
  private run<T>(what: string, fn: (ex: CoreExports) => T): T {
    let ex = this.ex;
    if (!ex) {
      try {
        ex = this.spare ?? this.instantiateSync();
        this.spare = null;
        this.ex = ex;
        if (this.model) this.applyModel(ex, this.model);
      } catch (e) {
        this.ex = null;
        if (e instanceof NimgError) throw e;
        throw new NimgError('INTERNAL', `${what}: cannot rebuild the WASM core: ${String(e)}`, { cause: e });
      }
    }
    try {
      ex.resetCall();
      return fn(ex);
    } catch (e) {
      if (e instanceof NimgError) throw e;
      // RuntimeError (trap), RangeError (view past memory), anything else: a bug → INTERNAL
      this.discard();
      throw new NimgError('INTERNAL', `${what}: WASM core failure: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
    }
  }

  private static check(ex: CoreExports, st: number, what: string): void {
    if (st === ST_OK) return;
    const [code, msg] = STATUS[st] ?? ['INTERNAL', `unknown status ${st}`];
    const idx = ex.getErrIndex();
    throw new NimgError(code, `${what}: ${msg}${idx >= 0 ? ` (at element ${idx})` : ''}`);
  }

  private static alloc(ex: CoreExports, bytes: number): number {
    checkBytes(bytes);
    const p = ex.alloc(bytes) >>> 0;
    if (p === 0) throw new NimgError('LIMIT_EXCEEDED', `cannot allocate ${bytes} bytes of WASM memory`);
    return p;
  }

  /** copy a typed array into a fresh arena block; returns its pointer */
  private static put(ex: CoreExports, a: Int8Array | Uint8Array | Uint8ClampedArray | Int32Array | Uint32Array | Float32Array): number {
    const p = WasmCoreImpl.alloc(ex, a.byteLength);
    new Uint8Array(ex.memory.buffer, p, a.byteLength).set(new Uint8Array(a.buffer, a.byteOffset, a.byteLength));
    return p;
  }

  private needModel(): CoreModel {
    if (!this.model) throw new NimgError('NOT_INITIALIZED', 'core: setModel() first');
    return this.model;
  }

  // ------------------------------------------------------------------ model

  setModel(model: CoreModel): void {
    if (!model || typeof model !== 'object') badInput('setModel: model must be an object');
    const { M, Nz, numScales, meanFracBits, hs, gauss, z } = model;
    checkUint('model.M', M, 1);
    checkUint('model.Nz', Nz, 1);
    checkUint('model.numScales', numScales, 1);
    if (!isUint(meanFracBits) || meanFracBits > 15) badInput(`model.meanFracBits ${meanFracBits} out of 0..15`);
    if (!Array.isArray(hs) || hs.length !== 3) badInput('model.hs must have 3 layers');
    hs.forEach((L, i) => {
      checkArray(`hs[${i}].w`, L.w, Int8Array);
      for (const k of ['b', 'm', 'sh'] as const) checkArray(`hs[${i}].${k}`, L[k], Int32Array);
      const err = validateHsLayer(L);
      if (err) badInput(`setModel: hs[${i}]: ${err}`);
    });
    if (hs[0].cin !== Nz || hs[0].k !== 3 || hs[0].cout % 4 || hs[1].cin * 4 !== hs[0].cout || hs[1].k !== 3 || hs[1].cout % 4 || hs[2].cin * 4 !== hs[1].cout || hs[2].k !== 1 || hs[2].cout !== 2 * M) {
      badInput('setModel: h_s layer shapes do not chain (Nz → 4·H0 | H0 → 4·H1 | H1 → 2M, k = 3, 3, 1)');
    }
    for (const [name, t, T] of [['gauss', gauss, numScales], ['z', z, Nz]] as const) {
      if (!t || typeof t !== 'object') badInput(`setModel: ${name} tables missing`);
      checkArray(`${name}.cdf`, t.cdf, Int32Array);
      checkArray(`${name}.ptr`, t.ptr, Int32Array);
      checkArray(`${name}.offset`, t.offset, Int32Array, T);
      const err = validateTables(t);
      if (err) badInput(`setModel: ${name} tables: ${err}`);
    }
    const snapshot: CoreModel = {
      M, Nz, numScales, meanFracBits,
      hs: hs.map((L) => ({ cin: L.cin, cout: L.cout, k: L.k, w: L.w.slice(), b: L.b.slice(), m: L.m.slice(), sh: L.sh.slice() })),
      gauss: { precision: gauss.precision, cdf: gauss.cdf.slice(), ptr: gauss.ptr.slice(), offset: gauss.offset.slice() },
      z: { precision: z.precision, cdf: z.cdf.slice(), ptr: z.ptr.slice(), offset: z.offset.slice() },
    };
    this.model = null;
    this.run('setModel', (ex) => this.applyModel(ex, snapshot));
    this.model = snapshot;
  }

  private applyModel(ex: CoreExports, m: CoreModel): void {
    ex.resetModel();
    ex.hsReset();
    m.hs.forEach((L, l) => {
      const w = WasmCoreImpl.put(ex, L.w);
      const b = WasmCoreImpl.put(ex, L.b);
      const mm = WasmCoreImpl.put(ex, L.m);
      const sh = WasmCoreImpl.put(ex, L.sh);
      WasmCoreImpl.check(ex, ex.hsSetLayer(l, L.cin, L.cout, L.k, w, b, mm, sh), `setModel: hs[${l}]`);
    });
    WasmCoreImpl.check(ex, ex.hsFinish(m.M, m.numScales), 'setModel: h_s');
    const build = (t: EntropyTables, T: number, name: string): number => {
      const cdf = WasmCoreImpl.put(ex, t.cdf);
      const ptr = WasmCoreImpl.put(ex, t.ptr);
      const off = WasmCoreImpl.put(ex, t.offset);
      const meta = ex.buildTables(cdf, t.cdf.length, ptr, off, T) >>> 0;
      if (meta === 0) WasmCoreImpl.check(ex, ex.getBuildStatus() || 6, `setModel: ${name} tables`);
      return meta;
    };
    this.gaussMeta = build(m.gauss, m.numScales, 'gauss');
    this.zMeta = build(m.z, m.Nz, 'z');
    ex.commitModel();
  }

  // ------------------------------------------------------------------ pre/post

  toPlanar(pixels: Uint8Array | Uint8ClampedArray, width: number, height: number, channels: 3 | 4, padW: number, padH: number): Float32Array {
    if (!(pixels instanceof Uint8Array || pixels instanceof Uint8ClampedArray)) badInput('toPlanar: pixels must be a Uint8Array or Uint8ClampedArray');
    checkUint('width', width, 1);
    checkUint('height', height, 1);
    if (channels !== 3 && channels !== 4) badInput(`toPlanar: channels must be 3 or 4, got ${String(channels)}`);
    checkUint('padW', padW, width);
    checkUint('padH', padH, height);
    if (pixels.length !== width * height * channels) badInput(`toPlanar: ${pixels.length} bytes, expected ${width}x${height}x${channels}`);
    const n = 3 * padW * padH;
    checkBytes(n * 4);
    return this.run('toPlanar', (ex) => {
      const inP = WasmCoreImpl.put(ex, pixels);
      const outP = WasmCoreImpl.alloc(ex, n * 4);
      ex.toPlanar(inP, width, height, channels, padW, padH, outP);
      return new Float32Array(ex.memory.buffer, outP, n).slice();
    });
  }

  toRgba(planar: Float32Array, padW: number, padH: number, width: number, height: number): Uint8ClampedArray {
    checkUint('padW', padW, 1);
    checkUint('padH', padH, 1);
    checkUint('width', width, 1);
    checkUint('height', height, 1);
    if (width > padW || height > padH) badInput(`toRgba: ${width}x${height} does not fit ${padW}x${padH}`);
    checkArray('planar', planar, Float32Array, 3 * padW * padH);
    const n = width * height * 4;
    checkBytes(n);
    return this.run('toRgba', (ex) => {
      const inP = WasmCoreImpl.put(ex, planar);
      const outP = WasmCoreImpl.alloc(ex, n);
      ex.toRgba(inP, padW, padH, width, height, outP);
      const out = new Uint8ClampedArray(n);
      out.set(new Uint8ClampedArray(ex.memory.buffer, outP, n));
      return out;
    });
  }

  // ------------------------------------------------------------------ h_s

  hyperSynthesis(zhat: Int32Array, hz: number, wz: number): { muQ: Int32Array; idx: Int32Array } {
    const m = this.needModel();
    checkUint('hz', hz, 1);
    checkUint('wz', wz, 1);
    checkArray('zhat', zhat, Int32Array, m.Nz * hz * wz);
    const n = m.M * 16 * hz * wz;
    checkBytes(n * 4);
    return this.run('hyperSynthesis', (ex) => {
      const zP = WasmCoreImpl.put(ex, zhat);
      const muP = WasmCoreImpl.alloc(ex, n * 4);
      const idxP = WasmCoreImpl.alloc(ex, n * 4);
      WasmCoreImpl.check(ex, ex.hyperSynthesis(zP, hz, wz, muP, idxP), 'hyperSynthesis');
      const buf = ex.memory.buffer;
      return { muQ: new Int32Array(buf, muP, n).slice(), idx: new Int32Array(buf, idxP, n).slice() };
    });
  }

  // ------------------------------------------------------------------ quantization

  quantizeZ(z: Float32Array): Int32Array {
    checkArray('z', z, Float32Array);
    const n = z.length;
    checkBytes(n * 4);
    return this.run('quantizeZ', (ex) => {
      const zP = WasmCoreImpl.put(ex, z);
      const outP = WasmCoreImpl.alloc(ex, n * 4);
      ex.quantizeZ(zP, outP, n);
      return new Int32Array(ex.memory.buffer, outP, n).slice();
    });
  }

  quantizeLatent(ys: Float32Array, muQ: Int32Array): Int32Array {
    const m = this.needModel();
    checkArray('ys', ys, Float32Array);
    checkArray('muQ', muQ, Int32Array, ys.length);
    const n = ys.length;
    checkBytes(n * 4);
    return this.run('quantizeLatent', (ex) => {
      const yP = WasmCoreImpl.put(ex, ys);
      const muP = WasmCoreImpl.put(ex, muQ);
      const outP = WasmCoreImpl.alloc(ex, n * 4);
      ex.quantizeLatent(yP, muP, outP, n, m.meanFracBits);
      return new Int32Array(ex.memory.buffer, outP, n).slice();
    });
  }

  dequantizeLatent(k: Int32Array, muQ: Int32Array, gainDec: Float32Array, C: number, HW: number): Float32Array {
    const m = this.needModel();
    checkUint('C', C);
    checkUint('HW', HW);
    checkArray('k', k, Int32Array, C * HW);
    checkArray('muQ', muQ, Int32Array, C * HW);
    checkArray('gainDec', gainDec, Float32Array, C);
    const n = C * HW;
    checkBytes(n * 4);
    return this.run('dequantizeLatent', (ex) => {
      const kP = WasmCoreImpl.put(ex, k);
      const muP = WasmCoreImpl.put(ex, muQ);
      const gP = WasmCoreImpl.put(ex, gainDec);
      const outP = WasmCoreImpl.alloc(ex, n * 4);
      ex.dequantizeLatent(kP, muP, gP, outP, C, HW, m.meanFracBits);
      return new Float32Array(ex.memory.buffer, outP, n).slice();
    });
  }

  // ------------------------------------------------------------------ entropy coding

  private encode(what: string, meta: number, T: number, vals: Int32Array, idx: Int32Array | null, perTable: number): Uint8Array {
    const n = vals.length;
    checkBytes(n * 8);
    return this.run(what, (ex) => {
      const vP = WasmCoreImpl.put(ex, vals);
      const iP = idx ? WasmCoreImpl.put(ex, idx) : 0;
      WasmCoreImpl.check(ex, ex.encodeSyms(meta, T, vP, iP, perTable, n), what);
      const p = ex.getOutPtr() >>> 0;
      const len = ex.getOutLen() >>> 0;
      return new Uint8Array(ex.memory.buffer, p, len).slice();
    });
  }

  private decode(what: string, meta: number, T: number, bytes: Uint8Array, idx: Int32Array | null, perTable: number, n: number): Int32Array {
    checkBytes(bytes.length + n * 8);
    return this.run(what, (ex) => {
      const inP = WasmCoreImpl.put(ex, bytes);
      const iP = idx ? WasmCoreImpl.put(ex, idx) : 0;
      const outP = WasmCoreImpl.alloc(ex, n * 4);
      WasmCoreImpl.check(ex, ex.decodeSyms(meta, T, inP, bytes.length, iP, perTable, outP, n), what);
      return new Int32Array(ex.memory.buffer, outP, n).slice();
    });
  }

  encodeZ(zhat: Int32Array, HW: number): Uint8Array {
    const m = this.needModel();
    checkUint('HW', HW);
    checkArray('zhat', zhat, Int32Array, m.Nz * HW);
    return this.encode('encodeZ', this.zMeta, m.Nz, zhat, null, HW);
  }

  decodeZ(bytes: Uint8Array, HW: number): Int32Array {
    const m = this.needModel();
    checkUint('HW', HW);
    checkArray('bytes', bytes, Uint8Array);
    return this.decode('decodeZ', this.zMeta, m.Nz, bytes, null, HW, m.Nz * HW);
  }

  encodeY(k: Int32Array, idx: Int32Array): Uint8Array {
    const m = this.needModel();
    checkArray('k', k, Int32Array);
    checkArray('idx', idx, Int32Array, k.length);
    return this.encode('encodeY', this.gaussMeta, m.numScales, k, idx, 0);
  }

  decodeY(bytes: Uint8Array, idx: Int32Array): Int32Array {
    const m = this.needModel();
    checkArray('bytes', bytes, Uint8Array);
    checkArray('idx', idx, Int32Array);
    return this.decode('decodeY', this.gaussMeta, m.numScales, bytes, idx, 0, idx.length);
  }

  // ------------------------------------------------------------------ fused paths

  /** h_s into arena buffers; returns [muP, idxP] */
  private static hsInto(ex: CoreExports, zhat: Int32Array, hz: number, wz: number, n: number): [number, number] {
    const zP = WasmCoreImpl.put(ex, zhat);
    const muP = WasmCoreImpl.alloc(ex, n * 4);
    const idxP = WasmCoreImpl.alloc(ex, n * 4);
    WasmCoreImpl.check(ex, ex.hyperSynthesis(zP, hz, wz, muP, idxP), 'hyperSynthesis');
    return [muP, idxP];
  }

  /** the y stream of the fused paths: quantize ys around mu_q, range-code with the tables idx (mu_q, idx in the arena) */
  private codeLatentIn(ex: CoreExports, muP: number, idxP: number, ys: Float32Array, label: string): Uint8Array {
    const m = this.needModel();
    const n = ys.length;
    const yP = WasmCoreImpl.put(ex, ys);
    const kP = WasmCoreImpl.alloc(ex, n * 4);
    ex.quantizeLatent(yP, muP, kP, n, m.meanFracBits);
    WasmCoreImpl.check(ex, ex.encodeSyms(this.gaussMeta, m.numScales, kP, idxP, 0, n), label);
    return new Uint8Array(ex.memory.buffer, ex.getOutPtr() >>> 0, ex.getOutLen() >>> 0).slice();
  }

  /** the inverse: range-decode n = M·HW symbols with the tables idx, dequantize around mu_q with gainDec */
  private decodeLatentIn(ex: CoreExports, muP: number, idxP: number, bytes: Uint8Array, gainDec: Float32Array, n: number, label: string): Float32Array {
    const m = this.needModel();
    const inP = WasmCoreImpl.put(ex, bytes);
    const kP = WasmCoreImpl.alloc(ex, n * 4);
    WasmCoreImpl.check(ex, ex.decodeSyms(this.gaussMeta, m.numScales, inP, bytes.length, idxP, 0, kP, n), label);
    const gP = WasmCoreImpl.put(ex, gainDec);
    const outP = WasmCoreImpl.alloc(ex, n * 4);
    ex.dequantizeLatent(kP, muP, gP, outP, m.M, n / m.M, m.meanFracBits);
    return new Float32Array(ex.memory.buffer, outP, n).slice();
  }

  encodeLatent(ys: Float32Array, zhat: Int32Array, hz: number, wz: number): Uint8Array {
    const m = this.needModel();
    checkUint('hz', hz, 1);
    checkUint('wz', wz, 1);
    checkArray('zhat', zhat, Int32Array, m.Nz * hz * wz);
    const n = m.M * 16 * hz * wz;
    checkArray('ys', ys, Float32Array, n);
    checkBytes(n * 16);
    return this.run('encodeLatent', (ex) => {
      const [muP, idxP] = WasmCoreImpl.hsInto(ex, zhat, hz, wz, n);
      return this.codeLatentIn(ex, muP, idxP, ys, 'encodeLatent');
    });
  }

  decodeLatent(bytes: Uint8Array, zhat: Int32Array, hz: number, wz: number, gainDec: Float32Array): Float32Array {
    const m = this.needModel();
    checkArray('bytes', bytes, Uint8Array);
    checkUint('hz', hz, 1);
    checkUint('wz', wz, 1);
    checkArray('zhat', zhat, Int32Array, m.Nz * hz * wz);
    checkArray('gainDec', gainDec, Float32Array, m.M);
    const n = m.M * 16 * hz * wz;
    checkBytes(n * 16 + bytes.length);
    return this.run('decodeLatent', (ex) => {
      const [muP, idxP] = WasmCoreImpl.hsInto(ex, zhat, hz, wz, n);
      return this.decodeLatentIn(ex, muP, idxP, bytes, gainDec, n, 'decodeLatent');
    });
  }

  /** packed h_s (mu_q & 0xffff | idx << 16) → arena buffers mu_q, idx (i32, split by SIMD in WASM); returns [muP, idxP] */
  private static putPackedHs(ex: CoreExports, hs: Uint32Array): [number, number] {
    const n = hs.length;
    const srcP = WasmCoreImpl.put(ex, hs);
    const muP = WasmCoreImpl.alloc(ex, n * 4);
    const idxP = WasmCoreImpl.alloc(ex, n * 4);
    ex.unpackHs(srcP, muP, idxP, n);
    return [muP, idxP];
  }

  encodeLatentHs(ys: Float32Array, hs: Uint32Array): Uint8Array {
    const m = this.needModel();
    checkArray('hs', hs, Uint32Array);
    const n = hs.length;
    if (n % m.M) badInput(`encodeLatentHs: ${n} h_s values are not a multiple of M = ${m.M}`);
    checkArray('ys', ys, Float32Array, n);
    checkBytes(n * 16);
    return this.run('encodeLatentHs', (ex) => {
      const [muP, idxP] = WasmCoreImpl.putPackedHs(ex, hs);
      return this.codeLatentIn(ex, muP, idxP, ys, 'encodeLatentHs');
    });
  }

  decodeLatentHs(bytes: Uint8Array, hs: Uint32Array, gainDec: Float32Array): Float32Array {
    const m = this.needModel();
    checkArray('bytes', bytes, Uint8Array);
    checkArray('hs', hs, Uint32Array);
    checkArray('gainDec', gainDec, Float32Array, m.M);
    const n = hs.length;
    if (n % m.M) badInput(`decodeLatentHs: ${n} h_s values are not a multiple of M = ${m.M}`);
    checkBytes(n * 16 + bytes.length);
    return this.run('decodeLatentHs', (ex) => {
      const [muP, idxP] = WasmCoreImpl.putPackedHs(ex, hs);
      return this.decodeLatentIn(ex, muP, idxP, bytes, gainDec, n, 'decodeLatentHs');
    });
  }

  // ------------------------------------------------------------------ extras

  memoryInfo(): { used: number; size: number } {
    return this.run('memoryInfo', (ex) => ({ used: ex.arenaUsed() >>> 0, size: ex.memory.buffer.byteLength }));
  }

  debugTrap(): void {
    this.run('debugTrap', (ex) => ex.debugTrap());
  }

  async releaseMemory(): Promise<void> {
    const fresh = await WasmCoreImpl.instantiateAsync(this.module);
    this.spare = null;
    try {
      if (this.model) this.applyModel(fresh, this.model);
      this.ex = fresh;
    } catch (e) {
      this.ex = null;
      if (e instanceof NimgError) throw e;
      throw new NimgError('INTERNAL', `releaseMemory: ${String(e)}`, { cause: e });
    }
  }
}

let defaultModule: Promise<WebAssembly.Module> | null = null;

async function compile(source: BufferSource): Promise<WebAssembly.Module> {
  try {
    return await WebAssembly.compile(source);
  } catch (e) {
    throw new NimgError('BACKEND_UNAVAILABLE', `cannot compile the nimg core (WebAssembly SIMD needed): ${String(e)}`, { cause: e });
  }
}

/**
 * Create a core. `source`: a compiled `WebAssembly.Module` (edge workers) or the bytes of
 * nimg-core.wasm. Without it, under Node only, build/nimg-core.wasm is read (and compiled
 * once per process) through ./node-loader.js; elsewhere → NimgError('BAD_INPUT').
 */
export async function createCore(source?: WebAssembly.Module | BufferSource | ArrayBufferView): Promise<WasmCore> {
  let mod: WebAssembly.Module;
  if (source instanceof WebAssembly.Module) mod = source;
  else if (source !== undefined) {
    if (!(ArrayBuffer.isView(source) || source instanceof ArrayBuffer)) badInput('createCore: source must be a WebAssembly.Module or a BufferSource');
    mod = await compile(source as BufferSource);
  } else {
    const isNode = typeof process !== 'undefined' && typeof process.versions === 'object' && !!process.versions?.node;
    if (!isNode) badInput('createCore: pass the nimg-core WebAssembly.Module (or its bytes) outside Node');
    if (!defaultModule) {
      defaultModule = (async () => {
        const spec = './node-loader.js'; // non-literal: keeps bundlers from following it
        const { loadCoreWasm } = (await import(/* @vite-ignore */ spec)) as typeof import('./node-loader.js');
        return compile((await loadCoreWasm()) as Uint8Array<ArrayBuffer>);
      })();
      defaultModule.catch(() => (defaultModule = null));
    }
    mod = await defaultModule;
  }
  try {
    return new WasmCoreImpl(mod, await WasmCoreImpl.instantiateAsync(mod));
  } catch (e) {
    throw new NimgError('BACKEND_UNAVAILABLE', `cannot instantiate the nimg core: ${String(e)}`, { cause: e });
  }
}
