/**
 * Plain TypeScript reference of the per-image profile's decoder arithmetic (SPEC.md §1):
 * the Laplace tables, the integer ARM, the table choice, the latent symbols, upsampling and
 * synthesis. Slow and obvious on purpose; the tests check the WASM core
 * (assembly/perimage/) against it.
 *
 * - Tables: the same binary64 operations as assembly/perimage/tables.ts, including its exp
 *   (lapExp: fdlibm's algorithm with only + − × ÷ and an exact power of two), so the tables are
 *   bit-identical (their SHA-256 is recorded in SPEC.md).
 * - Float32: every operation is one binary32 + or ×, `Math.fround(a op b)` (exact emulation:
 *   a double holds the exact sum/product of two floats before the one rounding), in the order
 *   SPEC §1 gives.
 */
import type { LatentGrids, PerImageParams } from './types.js';
import { gridSize, tensorSizes } from './types.js';

const fr = Math.fround;

// ------------------------------------------------------------------ tables

const LN2 = 0.6931471805599453;
const LN2_HI = 6.9314718036912381649e-1;
const LN2_LO = 1.90821492927058770002e-10;
const INV_LN2 = 1.442695040888963387;
const P1 = 1.66666666666666019037e-1;
const P2 = -2.77777777770155933842e-3;
const P3 = 6.61375632143793436117e-5;
const P4 = -1.6533902205465251539e-6;
const P5 = 4.13813679705723846039e-8;

const f64buf = new Float64Array(1);
const u32buf = new Uint32Array(f64buf.buffer);

/** 2^k for an integer k in [−1022, 1023], built from its bits (exact) */
function pow2(k: number): number {
  u32buf[0] = 0;
  u32buf[1] = (k + 1023) << 20;
  return f64buf[0];
}

/** the tables' exp: identical operations to lapExp in assembly/perimage/tables.ts */
export function lapExp(x: number): number {
  if (x < -700) return 0;
  const k = Math.floor(x * INV_LN2 + 0.5);
  const hi = x - k * LN2_HI;
  const lo = k * LN2_LO;
  const r = hi - lo;
  const t = r * r;
  const c = r - t * (P1 + t * (P2 + t * (P3 + t * (P4 + t * P5))));
  const y = 1 - (lo - (r * c) / (2 - c) - hi);
  return y * pow2(k);
}

/** tables per centre offset: s = 0 … 95, log2 b = −5 + s/8 */
export const NS = 96;
/** the base set (files without FINE_SCALES) is s = S_BASE … 95, log2 b from −3 */
export const S_BASE = 16;

export function lapScale(s: number): number {
  return lapExp((s / 8 - 5) * LN2);
}

export function lapRadius(s: number): number {
  return Math.min(Math.ceil(8 * lapScale(s)) + 2, 254);
}

function lapCdf(x: number, b: number): number {
  return x < 0 ? 0.5 * lapExp(x / b) : 1 - 0.5 * lapExp(-x / b);
}

export interface LaplaceTables {
  /** cdfs of the 768 tables (index t = f·96 + s), n + 1 entries each, concatenated */
  cdf: Int32Array;
  /** table t is cdf[ptr[t] … ptr[t+1]) */
  ptr: Int32Array;
  /** lowest coded value −R of each table (offset) */
  offset: Int32Array;
  /** the remainder 65536 − Σ f_i before it was added to the most probable symbol, per table */
  remainder: Int32Array;
  /** p_esc = 1 − Σ p(v) per table (before the clamp at 0) */
  pEsc: Float64Array;
}

/** Index t of table T[f][s] (s of the full set, 0 … 95). */
export const tableIndex = (f: number, s: number): number => f * NS + s;

let cached: LaplaceTables | null = null;

/** The 8 × 96 tables T[f][s] of SPEC §1. */
export function laplaceTables(): LaplaceTables {
  if (cached) return cached;
  const cdfs: number[] = [];
  const NT = 8 * NS;
  const ptr = new Int32Array(NT + 1);
  const offset = new Int32Array(NT);
  const remainder = new Int32Array(NT);
  const pEsc = new Float64Array(NT);
  for (let f = 0; f < 8; f++) {
    for (let s = 0; s < NS; s++) {
      const t = tableIndex(f, s);
      ptr[t] = cdfs.length;
      const b = lapScale(s);
      const R = lapRadius(s);
      const n = 2 * R + 2;
      const delta = f / 8;
      const p: number[] = [];
      let sum = 0;
      for (let v = -R; v <= R; v++) {
        const pv = lapCdf(v + 0.5 - delta, b) - lapCdf(v - 0.5 - delta, b);
        p.push(pv);
        sum += pv;
      }
      const esc = 1 - sum;
      pEsc[t] = esc;
      p.push(esc < 0 ? 0 : esc);
      const scale = 65536 - n;
      const freq = p.map((pi) => 1 + Math.floor(pi * scale));
      let total = 0;
      let best = 0;
      for (let i = 0; i < n; i++) {
        total += freq[i];
        if (freq[i] > freq[best]) best = i;
      }
      remainder[t] = 65536 - total;
      freq[best] += 65536 - total;
      let acc = 0;
      cdfs.push(0);
      for (const fi of freq) cdfs.push((acc += fi));
      offset[t] = -R;
    }
  }
  ptr[NT] = cdfs.length;
  cached = { cdf: Int32Array.from(cdfs), ptr, offset, remainder, pEsc };
  return cached;
}

/**
 * The cdfs of the base set (s = S_BASE … 95) in its own order, f-major: the 8 × 80 tables of
 * files without FINE_SCALES, whose SHA-256 the format recorded before the fine set existed.
 */
export function baseSetCdfs(tables: { cdf: Int32Array; ptr: Int32Array }): Int32Array {
  const parts: Int32Array[] = [];
  for (let f = 0; f < 8; f++) for (let s = S_BASE; s < NS; s++) parts.push(tables.cdf.subarray(tables.ptr[tableIndex(f, s)], tables.ptr[tableIndex(f, s) + 1]));
  const out = new Int32Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

// ------------------------------------------------------------------ ARM

/** context offsets (dy, dx) of SPEC §1, in order */
export const CONTEXT: ReadonlyArray<readonly [number, number]> = [
  [0, -1], [-1, 0], [-1, -1], [-1, 1], [0, -2], [-2, 0], [-1, -2], [-1, 2],
  [-2, -1], [-2, 1], [0, -3], [-3, 0], [-2, -2], [-2, 2], [-1, -3], [-1, 3],
  [-3, -1], [-3, 1], [-2, -3], [-2, 3], [-3, -2], [-3, 2], [0, -4], [-4, 0],
];

/** Q8 integer weights of the ARM layers (k · 2^e), in layer order */
export interface ArmInt {
  W: Int32Array[];
  b: Int32Array[];
  N: number;
  D: number;
  Wh: number;
}

export function armFromParams(params: PerImageParams): ArmInt {
  const { N, D, Wh } = params.arch;
  const W: Int32Array[] = [];
  const b: Int32Array[] = [];
  for (let l = 0; l <= D; l++) {
    const tw = params.tensors[2 * l];
    const tb = params.tensors[2 * l + 1];
    W.push(Int32Array.from(tw.k, (v) => v * 2 ** tw.e));
    b.push(Int32Array.from(tb.k, (v) => v * 2 ** tb.e));
  }
  return { W, b, N, D, Wh };
}

/** arithmetic shift right of an int32-range integer */
const asr = (v: number, s: number) => Math.floor(v / 2 ** s);

/** The integer ARM on N context values → [mu, ls] (SPEC §1). */
export function armRef(arm: ArmInt, x: ArrayLike<number>): [number, number] {
  let h: number[] = Array.from({ length: arm.N }, (_, j) => x[j]);
  for (let l = 0; l <= arm.D; l++) {
    const W = arm.W[l];
    const b = arm.b[l];
    const nin = h.length;
    const nout = l === arm.D ? 2 : arm.Wh;
    const out: number[] = [];
    for (let o = 0; o < nout; o++) {
      let acc = 0;
      for (let j = 0; j < nin; j++) acc += W[o * nin + j] * h[j];
      if (l === 0) acc += b[o];
      else acc = asr(acc + b[o] * 256 + 128, 8);
      if (Math.abs(acc) >= 2 ** 31) throw new Error('int32 overflow in the ARM (a bound of SPEC §1 violated)');
      out.push(l === arm.D ? Math.min(Math.max(acc, -32768), 32767) : Math.min(Math.max(acc, 0), 32767));
    }
    h = out;
  }
  return [h[0], h[1]];
}

/**
 * Table choice of SPEC §1: centre c, scale index s (0 … 95; at least S_BASE unless the file
 * has FINE_SCALES), table index t = f·96 + s.
 */
export function chooseTable(mu: number, ls: number, fineScales = false): { c: number; f: number; s: number; t: number } {
  const m = mu + 16;
  const c = asr(m, 8);
  const f = (m & 255) >> 5;
  const s = Math.min(Math.max(asr(ls + 1280 + 16, 5), fineScales ? 0 : S_BASE), NS - 1);
  return { c, f, s, t: tableIndex(f, s) };
}

/** Context values at (y, x) of a grid (w × h, raster), outside → 0. */
export function contextAt(g: ArrayLike<number>, w: number, h: number, y: number, x: number, N: number): number[] {
  const ctx: number[] = [];
  for (let j = 0; j < N; j++) {
    const yy = y + CONTEXT[j][0];
    const xx = x + CONTEXT[j][1];
    ctx.push(yy >= 0 && yy < h && xx >= 0 && xx < w ? g[yy * w + xx] : 0);
  }
  return ctx;
}

/** The latent symbols in stream order: value v = q − c and table t (SPEC §3 "Latent stream"). */
export function latentSymbolsRef(params: PerImageParams, grids: LatentGrids, width: number, height: number): { v: Int32Array; t: Int32Array } {
  const arm = armFromParams(params);
  const v: number[] = [];
  const t: number[] = [];
  for (let k = params.arch.L - 1; k >= 0; k--) {
    const { w, h } = gridSize(width, height, k);
    const g = grids[k];
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        const [mu, ls] = armRef(arm, contextAt(g, w, h, y, x, arm.N));
        const ch = chooseTable(mu, ls, params.fineScales === true);
        v.push(g[y * w + x] - ch.c);
        t.push(ch.t);
      }
    }
  }
  return { v: Int32Array.from(v), t: Int32Array.from(t) };
}

// ------------------------------------------------------------------ upsampling + synthesis

/** tensor i of the params as floats (k · 2^−e: the taps and the synthesis, SPEC §2) */
export function floatTensor(params: PerImageParams, i: number): Float32Array {
  const t = params.tensors[i];
  return Float32Array.from(t.k, (v) => v * 2 ** -t.e);
}

/** up2 of a 1-D signal x (n values) to m outputs (SPEC §1), float32 */
function up2(x: ArrayLike<number>, n: number, m: number, tp: Float32Array): Float32Array {
  const at = (j: number) => x[Math.min(Math.max(j, 0), n - 1)];
  const out = new Float32Array(m);
  const [t0, t1, t2, t3] = tp;
  for (let o = 0; o < m; o++) {
    const i = o >> 1;
    let acc: number;
    if ((o & 1) === 0) {
      acc = fr(t0 * at(i - 2));
      acc = fr(acc + fr(t1 * at(i - 1)));
      acc = fr(acc + fr(t2 * at(i)));
      acc = fr(acc + fr(t3 * at(i + 1)));
    } else {
      acc = fr(t3 * at(i - 1));
      acc = fr(acc + fr(t2 * at(i)));
      acc = fr(acc + fr(t1 * at(i + 1)));
      acc = fr(acc + fr(t0 * at(i + 2)));
    }
    out[o] = acc;
  }
  return out;
}

/** One plane (h × w) upsampled to H × W: rows first (each column), then each row. */
export function up2Plane(p: Float32Array, h: number, w: number, H: number, W: number, tp: Float32Array): Float32Array {
  const mid = new Float32Array(H * w);
  const col = new Float32Array(h);
  for (let x = 0; x < w; x++) {
    for (let y = 0; y < h; y++) col[y] = p[y * w + x];
    const c = up2(col, h, H, tp);
    for (let y = 0; y < H; y++) mid[y * w + x] = c[y];
  }
  const out = new Float32Array(H * W);
  for (let y = 0; y < H; y++) out.set(up2(mid.subarray(y * w, (y + 1) * w), w, W, tp), y * W);
  return out;
}

/** F_0: L planes H × W, channel c from grid L−1−c. */
export function upsampleRef(params: PerImageParams, grids: LatentGrids, width: number, height: number): Float32Array[] {
  const L = params.arch.L;
  const tp = floatTensor(params, 2 * (params.arch.D + 1));
  let planes: Float32Array[] = [Float32Array.from(grids[L - 1])];
  for (let k = L - 2; k >= 0; k--) {
    const a = gridSize(width, height, k + 1);
    const b = gridSize(width, height, k);
    planes = planes.map((p) => up2Plane(p, a.h, a.w, b.h, b.w, tp));
    planes.push(Float32Array.from(grids[k]));
  }
  return planes;
}

/** Synthesis on F_0 → RGBA8 (SPEC §1). */
export function synthesisRef(params: PerImageParams, F0: Float32Array[], width: number, height: number): Uint8ClampedArray {
  const { arch } = params;
  const HW = width * height;
  let x = F0;
  let ti = 2 * (arch.D + 1) + 1;
  for (const layer of arch.synthesis) {
    const W = floatTensor(params, ti++);
    const B = floatTensor(params, ti++);
    const cin = x.length;
    const out: Float32Array[] = [];
    for (let o = 0; o < layer.out; o++) {
      const y = new Float32Array(HW);
      for (let r = 0; r < height; r++) {
        for (let c = 0; c < width; c++) {
          let acc = B[o];
          for (let i = 0; i < cin; i++) {
            if (layer.kind === '1x1') acc = fr(acc + fr(W[o * cin + i] * x[i][r * width + c]));
            else {
              for (let ky = 0; ky < 3; ky++) {
                const rr = r + ky - 1;
                if (rr < 0 || rr >= height) continue;
                for (let kx = 0; kx < 3; kx++) {
                  const cc = c + kx - 1;
                  const v = cc < 0 || cc >= width ? 0 : x[i][rr * width + cc];
                  acc = fr(acc + fr(W[((o * cin + i) * 3 + ky) * 3 + kx] * v));
                }
              }
            }
          }
          if (layer.act === 'relu' && acc < 0) acc = 0;
          if (layer.residual) acc = fr(x[o][r * width + c] + acc);
          y[r * width + c] = acc;
        }
      }
      out.push(y);
    }
    x = out;
  }
  const rgba = new Uint8ClampedArray(HW * 4);
  for (let p = 0; p < HW; p++) {
    for (let c = 0; c < 3; c++) {
      const v = Math.floor(fr(fr(x[c][p] * 255) + 0.5));
      rgba[p * 4 + c] = Number.isNaN(v) ? 0 : Math.min(Math.max(v, 0), 255);
    }
    rgba[p * 4 + 3] = 255;
  }
  return rgba;
}

export { tensorSizes };
