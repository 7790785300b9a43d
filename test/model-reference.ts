/**
 * Test helpers for the float transforms:
 *  - makeTestWeights: a random weight set (manifest + bin, valid sha256) per weights/README.md;
 *  - a naive plain-JS NCHW reference of g_a, h_a, g_s written straight from the spec
 *    (PyTorch conventions: [out, in, kh, kw] weights, symmetric padding, PixelShuffle).
 */
import { createHash } from 'node:crypto';

export function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    // mulberry32
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function gauss(r: () => number): number {
  const u = Math.max(r(), 1e-12);
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * r());
}

export interface TestWeightOpts {
  seed?: number;
  N?: number;
  M?: number;
  Nz?: number;
  hsHidden?: [number, number];
  /** store these float tensors as float16 / int8(+scale) to test widening and dequantization */
  float16?: string[];
  int8?: string[];
}

type Dtype = 'float32' | 'float16' | 'int8' | 'int32';

function floatToHalf(v: number): number {
  const f = new Float32Array([v]);
  const x = new Uint32Array(f.buffer)[0];
  const sign = (x >>> 16) & 0x8000;
  let e = ((x >>> 23) & 0xff) - 127 + 15;
  let m = x & 0x7fffff;
  if (e <= 0) {
    if (e < -10) return sign;
    m = (m | 0x800000) >> (1 - e);
    return sign | ((m + 0x1000) >> 13);
  }
  if (e >= 31) return sign | 0x7c00;
  const h = sign | (e << 10) | (m >> 13);
  return (m & 0x1000) ? h + 1 : h; // round half up (fine for tests)
}

export function makeTestWeights(o: TestWeightOpts = {}): { manifestJson: string; bin: Uint8Array; manifest: Record<string, unknown> } {
  const N = o.N ?? 8, M = o.M ?? 12, Nz = o.Nz ?? 8;
  const [H0, H1] = o.hsHidden ?? [8, 8];
  const r = rng(o.seed ?? 1);
  const chunks: Uint8Array[] = [];
  let offset = 0;
  const tensors: Record<string, { dtype: Dtype; shape: number[]; offset: number; length: number }> = {};
  const add = (name: string, dtype: Dtype, shape: number[], bytes: Uint8Array) => {
    const pad = (4 - (offset % 4)) % 4;
    if (pad) {
      chunks.push(new Uint8Array(pad));
      offset += pad;
    }
    tensors[name] = { dtype, shape, offset, length: bytes.length };
    chunks.push(bytes);
    offset += bytes.length;
  };
  const addFloat = (name: string, shape: number[], gen: () => number) => {
    const n = shape.reduce((a, b) => a * b, 1);
    const v = new Float32Array(n);
    for (let i = 0; i < n; i++) v[i] = gen();
    if (o.float16?.includes(name)) {
      const h = new Uint16Array(n);
      for (let i = 0; i < n; i++) h[i] = floatToHalf(v[i]);
      add(name, 'float16', shape, new Uint8Array(h.buffer));
    } else if (o.int8?.includes(name)) {
      const out = shape[0], per = n / out;
      const q = new Int8Array(n);
      const sc = new Float32Array(out);
      for (let c = 0; c < out; c++) {
        let mx = 0;
        for (let i = 0; i < per; i++) mx = Math.max(mx, Math.abs(v[c * per + i]));
        sc[c] = mx / 127 || 1;
        for (let i = 0; i < per; i++) q[c * per + i] = Math.round(v[c * per + i] / sc[c]);
      }
      add(name, 'int8', shape, new Uint8Array(q.buffer));
      add(`${name}.scale`, 'float32', [out], new Uint8Array(sc.buffer));
    } else add(name, 'float32', shape, new Uint8Array(v.buffer));
  };
  const conv = (name: string, inC: number, out: number, k: number) => {
    const std = 1 / Math.sqrt(inC * k * k);
    addFloat(`${name}.w`, [out, inC, k, k], () => gauss(r) * std);
    addFloat(`${name}.b`, [out], () => gauss(r) * 0.05);
  };
  const gdn = (name: string, C: number) => {
    addFloat(`${name}.beta`, [C], () => 0.5 + r());
    addFloat(`${name}.gamma`, [C, C], () => (r() * 0.2) / C);
  };
  conv('ga.0', 3, N, 5); gdn('ga.0.gdn', N);
  conv('ga.1', N, N, 5); gdn('ga.1.gdn', N);
  conv('ga.2', N, N, 5); gdn('ga.2.gdn', N);
  conv('ga.3', N, M, 5);
  conv('ha.0', M, N, 3); conv('ha.1', N, N, 5); conv('ha.2', N, Nz, 5);
  conv('gs.0', M, 4 * N, 3); gdn('gs.0.igdn', N);
  conv('gs.1', N, 4 * N, 3); gdn('gs.1.igdn', N);
  conv('gs.2', N, 4 * N, 3); gdn('gs.2.igdn', N);
  conv('gs.3', N, 12, 3);
  addFloat('gain.enc', [8, M], () => 0.5 + r());
  addFloat('gain.dec', [8, M], () => 0.5 + r());
  // integer h_s, shapes only matter here
  const i8 = (n: number) => {
    const a = new Int8Array(n);
    for (let i = 0; i < n; i++) a[i] = Math.floor(r() * 255) - 127;
    return new Uint8Array(a.buffer);
  };
  const i32 = (n: number, f: () => number) => {
    const a = new Int32Array(n);
    for (let i = 0; i < n; i++) a[i] = f();
    return new Uint8Array(a.buffer);
  };
  const hs = (name: string, inC: number, out: number, k: number) => {
    add(`${name}.w`, 'int8', [out, inC, k, k], i8(out * inC * k * k));
    add(`${name}.b`, 'int32', [out], i32(out, () => 0));
    add(`${name}.m`, 'int32', [out], i32(out, () => 1 + Math.floor(r() * 60000)));
    add(`${name}.sh`, 'int32', [out], i32(out, () => 20));
  };
  hs('hs.0', Nz, 4 * H0, 3); hs('hs.1', H0, 4 * H1, 3); hs('hs.2', H1, 2 * M, 1);
  const bin = new Uint8Array(offset);
  let p = 0;
  for (const c of chunks) {
    bin.set(c, p);
    p += c.length;
  }
  const manifest = {
    format: 'nimg-weights',
    version: 1,
    model_id: 'nimg-test',
    sha256: createHash('sha256').update(bin).digest('hex'),
    arch: { N, M, Nz, hs_hidden: [H0, H1], stride: 64 },
    quality: { levels: 8, lambdas: [1, 2, 3, 4, 5, 6, 7, 8] },
    entropy: { precision: 16, mean_frac_bits: 4, num_scales: 64, scales: Array.from({ length: 64 }, (_, i) => 0.11 * 1.1 ** i) },
    tensors,
  };
  return { manifestJson: JSON.stringify(manifest), bin, manifest };
}

// ------------------------------------------------------------------ naive reference (NCHW)

export interface Planar { c: number; h: number; w: number; d: Float64Array }

type Get = (name: string) => Float32Array;

export function refConv(x: Planar, w: Float32Array, b: Float32Array, out: number, k: number, stride: number, pad: number): Planar {
  const ho = Math.floor((x.h + 2 * pad - k) / stride) + 1;
  const wo = Math.floor((x.w + 2 * pad - k) / stride) + 1;
  const d = new Float64Array(out * ho * wo);
  for (let o = 0; o < out; o++) {
    for (let y = 0; y < ho; y++) {
      for (let xx = 0; xx < wo; xx++) {
        let acc = b[o];
        for (let i = 0; i < x.c; i++) {
          for (let ky = 0; ky < k; ky++) {
            const iy = y * stride - pad + ky;
            if (iy < 0 || iy >= x.h) continue;
            for (let kx = 0; kx < k; kx++) {
              const ix = xx * stride - pad + kx;
              if (ix < 0 || ix >= x.w) continue;
              acc += w[((o * x.c + i) * k + ky) * k + kx] * x.d[(i * x.h + iy) * x.w + ix];
            }
          }
        }
        d[(o * ho + y) * wo + xx] = acc;
      }
    }
  }
  return { c: out, h: ho, w: wo, d };
}

export function refGdn(x: Planar, beta: Float32Array, gamma: Float32Array, inverse: boolean): Planar {
  const { c: C, h, w } = x;
  const d = new Float64Array(x.d.length);
  const hw = h * w;
  for (let p = 0; p < hw; p++) {
    for (let i = 0; i < C; i++) {
      let n = beta[i];
      for (let j = 0; j < C; j++) n += gamma[i * C + j] * x.d[j * hw + p] ** 2;
      const s = Math.sqrt(n);
      d[i * hw + p] = inverse ? x.d[i * hw + p] * s : x.d[i * hw + p] / s;
    }
  }
  return { c: C, h, w, d };
}

/** PyTorch PixelShuffle(2): in channel c*4 + dy*2 + dx → out channel c at (2y+dy, 2x+dx). */
export function refPixelShuffle(x: Planar): Planar {
  const C = x.c / 4, h = x.h * 2, w = x.w * 2;
  const d = new Float64Array(C * h * w);
  for (let c = 0; c < C; c++)
    for (let dy = 0; dy < 2; dy++)
      for (let dx = 0; dx < 2; dx++)
        for (let y = 0; y < x.h; y++)
          for (let xx = 0; xx < x.w; xx++)
            d[(c * h + 2 * y + dy) * w + 2 * xx + dx] = x.d[((c * 4 + dy * 2 + dx) * x.h + y) * x.w + xx];
  return { c: C, h, w, d };
}

const relu = (x: Planar): Planar => ({ ...x, d: x.d.map((v) => Math.max(0, v)) });

export function refAnalysis(get: Get, arch: { N: number; M: number }, x: Planar): Planar {
  const { N, M } = arch;
  let t = x;
  const outs = [N, N, N, M];
  for (let l = 0; l < 4; l++) {
    t = refConv(t, get(`ga.${l}.w`), get(`ga.${l}.b`), outs[l], 5, 2, 2);
    if (l < 3) t = refGdn(t, get(`ga.${l}.gdn.beta`), get(`ga.${l}.gdn.gamma`), false);
  }
  return t;
}

export function refHyper(get: Get, arch: { N: number; Nz: number }, y: Planar): Planar {
  let t = relu(refConv(y, get('ha.0.w'), get('ha.0.b'), arch.N, 3, 1, 1));
  t = relu(refConv(t, get('ha.1.w'), get('ha.1.b'), arch.N, 5, 2, 2));
  return refConv(t, get('ha.2.w'), get('ha.2.b'), arch.Nz, 5, 2, 2);
}

export function refSynthesis(get: Get, arch: { N: number }, y: Planar): Planar {
  const { N } = arch;
  let t = y;
  for (let l = 0; l < 4; l++) {
    t = refPixelShuffle(refConv(t, get(`gs.${l}.w`), get(`gs.${l}.b`), l < 3 ? 4 * N : 12, 3, 1, 1));
    if (l < 3) t = refGdn(t, get(`gs.${l}.igdn.beta`), get(`gs.${l}.igdn.gamma`), true);
  }
  return t;
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

export function maxAbs(a: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]));
  return m;
}

/** PSNR of b against a, with peak = max |a|. */
export function psnr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let se = 0;
  for (let i = 0; i < a.length; i++) se += (a[i] - b[i]) ** 2;
  const peak = maxAbs(a);
  return se === 0 ? Infinity : 10 * Math.log10((peak * peak) / (se / a.length));
}

export function randomPlanar(c: number, h: number, w: number, seed: number, lo = 0, hi = 1): Float32Array {
  const r = rng(seed);
  const a = new Float32Array(c * h * w);
  for (let i = 0; i < a.length; i++) a[i] = lo + (hi - lo) * r();
  return a;
}

/** A smooth-ish "image" (random low-frequency content + noise) in [0,1]. */
export function testImage(h: number, w: number, seed: number): Float32Array {
  const r = rng(seed);
  const a = new Float32Array(3 * h * w);
  const f = Array.from({ length: 9 }, () => [r() * 0.1, r() * 0.1, r() * 6]);
  for (let c = 0; c < 3; c++)
    for (let y = 0; y < h; y++)
      for (let x = 0; x < w; x++) {
        const [fx, fy, ph] = f[c * 3 + ((x + y) % 3)];
        a[(c * h + y) * w + x] = Math.min(1, Math.max(0, 0.5 + 0.35 * Math.sin(fx * x + fy * y + ph) + 0.1 * (r() - 0.5)));
      }
  return a;
}
