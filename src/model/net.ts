/**
 * The float networks g_a, h_a, g_s on tfjs, NHWC throughout (batch 1).
 *
 * `prepareNet` turns a weight set into plain typed arrays already in tfjs layouts
 * (conv filters [kh, kw, in, out]; sub-pixel convs permuted from PyTorch PixelShuffle
 * order to depthToSpace DCR order; GDN gamma as a 1x1 filter). A `PreparedNet` is
 * structured-cloneable, so worker threads get the same arrays as the main thread.
 *
 * `TfNet` runs one tile: input NHWC tensor in, output NHWC tensor out.
 */
import * as tf from '@tensorflow/tfjs-core';
import { NimgError } from '../errors.js';
import type { ModelWeights } from './types.js';
import { floatTensor } from './weights.js';
import { d2sToPlanarGpu, gdnEpilogueGpu, planarToRgbaGpu, rgbaToNhwcGpu } from './gpu-kernels.js';

export interface ConvLayer {
  /** [kh, kw, in, out] */
  w: Float32Array;
  shape: [number, number, number, number];
  b: Float32Array;
  stride: 1 | 2;
  pad: number;
}

export interface GdnLayer {
  /** 1x1 filter [1, 1, C, C]: filter[j][i] = gamma[i][j] */
  gamma: Float32Array;
  beta: Float32Array;
  C: number;
}

export interface PreparedNet {
  arch: { N: number; M: number; Nz: number };
  ga: { convs: ConvLayer[]; gdns: GdnLayer[] };
  ha: { convs: ConvLayer[] };
  gs: { convs: ConvLayer[]; igdns: GdnLayer[] };
}

/** PyTorch [out, in, kh, kw] → tfjs [kh, kw, in, out], optional output-channel permutation. */
export function torchToTfFilter(w: Float32Array, out: number, inC: number, k: number, perm?: (o: number) => number): Float32Array {
  const r = new Float32Array(w.length);
  for (let o = 0; o < out; o++) {
    const od = perm ? perm(o) : o;
    for (let i = 0; i < inC; i++) {
      for (let ky = 0; ky < k; ky++) {
        for (let kx = 0; kx < k; kx++) {
          r[((ky * k + kx) * inC + i) * out + od] = w[((o * inC + i) * k + ky) * k + kx];
        }
      }
    }
  }
  return r;
}

/** PixelShuffle channel o = c*4 + dy*2 + dx  →  depthToSpace(NHWC, DCR) channel (dy*2+dx)*C + c. */
export function pixelShufflePerm(C: number): (o: number) => number {
  return (o) => (o & 3) * C + (o >> 2);
}

function conv(w: ModelWeights, name: string, inC: number, out: number, k: number, stride: 1 | 2, perm?: (o: number) => number): ConvLayer {
  const wt = floatTensor(w, `${name}.w`, [out, inC, k, k]);
  const bt = floatTensor(w, `${name}.b`, [out]);
  let b = bt;
  if (perm) {
    b = new Float32Array(out);
    for (let o = 0; o < out; o++) b[perm(o)] = bt[o];
  } else {
    b = Float32Array.from(bt);
  }
  return { w: torchToTfFilter(wt, out, inC, k, perm), shape: [k, k, inC, out], b, stride, pad: stride === 2 ? 2 : (k - 1) / 2 };
}

function gdn(w: ModelWeights, name: string, C: number): GdnLayer {
  const gamma = floatTensor(w, `${name}.gamma`, [C, C]);
  const beta = floatTensor(w, `${name}.beta`, [C]);
  const f = new Float32Array(C * C);
  for (let i = 0; i < C; i++) for (let j = 0; j < C; j++) f[j * C + i] = gamma[i * C + j];
  return { gamma: f, beta: Float32Array.from(beta), C };
}

export function prepareNet(w: ModelWeights): PreparedNet {
  const { N, M, Nz } = w.manifest.arch;
  return {
    arch: { N, M, Nz },
    ga: {
      convs: [conv(w, 'ga.0', 3, N, 5, 2), conv(w, 'ga.1', N, N, 5, 2), conv(w, 'ga.2', N, N, 5, 2), conv(w, 'ga.3', N, M, 5, 2)],
      gdns: [gdn(w, 'ga.0.gdn', N), gdn(w, 'ga.1.gdn', N), gdn(w, 'ga.2.gdn', N)],
    },
    ha: { convs: [conv(w, 'ha.0', M, N, 3, 1), conv(w, 'ha.1', N, N, 5, 2), conv(w, 'ha.2', N, Nz, 5, 2)] },
    gs: {
      convs: [
        conv(w, 'gs.0', M, 4 * N, 3, 1, pixelShufflePerm(N)),
        conv(w, 'gs.1', N, 4 * N, 3, 1, pixelShufflePerm(N)),
        conv(w, 'gs.2', N, 4 * N, 3, 1, pixelShufflePerm(N)),
        conv(w, 'gs.3', N, 12, 3, 1, pixelShufflePerm(3)),
      ],
      igdns: [gdn(w, 'gs.0.igdn', N), gdn(w, 'gs.1.igdn', N), gdn(w, 'gs.2.igdn', N)],
    },
  };
}

/** All ArrayBuffers of a prepared net (for transfer lists). */
export function netBuffers(p: PreparedNet): ArrayBuffer[] {
  const out: ArrayBuffer[] = [];
  const conv = (c: ConvLayer) => out.push(c.w.buffer as ArrayBuffer, c.b.buffer as ArrayBuffer);
  const g = (x: GdnLayer) => out.push(x.gamma.buffer as ArrayBuffer, x.beta.buffer as ArrayBuffer);
  p.ga.convs.forEach(conv);
  p.ga.gdns.forEach(g);
  p.ha.convs.forEach(conv);
  p.gs.convs.forEach(conv);
  p.gs.igdns.forEach(g);
  return out;
}

/**
 * Analytic cost of the networks in multiply-adds (for GFLOP/s reports: 1 MAC = 2 FLOP).
 * Sizes: H, W image pixels (analysis), h, w latent (synthesis, hyper-analysis).
 */
export function netMacs(arch: { N: number; M: number; Nz: number }, op: 'analysis' | 'hyper' | 'synthesis', h: number, w: number): number {
  const { N, M, Nz } = arch;
  if (op === 'analysis') {
    let macs = 0;
    const chans = [3, N, N, N, M];
    let H = h, W = w;
    for (let l = 0; l < 4; l++) {
      H = Math.ceil(H / 2);
      W = Math.ceil(W / 2);
      macs += H * W * 25 * chans[l] * chans[l + 1];
      if (l < 3) macs += H * W * N * N; // GDN 1x1
    }
    return macs;
  }
  if (op === 'hyper') {
    return h * w * 9 * M * N + (h / 2) * (w / 2) * 25 * N * N + (h / 4) * (w / 4) * 25 * N * Nz;
  }
  let macs = 0;
  const chans = [M, N, N, N];
  let H = h, W = w;
  for (let l = 0; l < 4; l++) {
    const out = l < 3 ? 4 * N : 12;
    macs += H * W * 9 * chans[l] * out;
    H *= 2;
    W *= 2;
    if (l < 3) macs += H * W * N * N;
  }
  return macs;
}

/**
 * tfjs depthToSpace(x, 2, 'NHWC') (DCR: channel (dy*2+dx)*C + c) as reshape-transpose-
 * reshape: tfjs-wasm's DepthToSpace kernel is per-element (~13x slower than its Transpose).
 */
export function depthToSpace2(x: tf.Tensor4D): tf.Tensor4D {
  const [n, h, w, c4] = x.shape;
  const C = c4 / 4;
  // own tidy: the reshaped views of x would otherwise keep x's memory alive
  return tf.tidy(() => tf.reshape(tf.transpose(tf.reshape(x, [n * h, w, 2, 2 * C]), [0, 2, 1, 3]), [n, 2 * h, 2 * w, C]) as tf.Tensor4D);
}

interface TfConv { w: tf.Tensor4D; b: tf.Tensor1D; stride: 1 | 2; pad: number }
interface TfGdn { gamma: tf.Tensor4D; beta: tf.Tensor1D }

/** One stage of a network: a layer (or fused group) that maps a tensor to the next. */
export interface NetStep {
  name: string;
  /** `consume`: the input may be disposed by this step (it is not the caller's tensor) */
  run(x: tf.Tensor4D, consume: boolean): tf.Tensor4D;
}

export interface TfNetOptions {
  /**
   * WebGPU only: GDN/IGDN epilogue (x * rsqrt|sqrt(norm)) and, in g_s, the depth-to-space
   * rearrangement run as one custom kernel each (src/model/gpu-kernels.ts) instead of
   * unary + mul + transpose. Same float operations in the same order: the outputs equal
   * the unfused WebGPU path's. Never set on WASM/CPU (their kernels stay as they are).
   */
  gpuFused?: boolean;
}

/** A step from a function that never disposes its input: dispose it after, when consumed. */
function consuming(name: string, f: (x: tf.Tensor4D) => tf.Tensor4D): NetStep {
  return {
    name,
    run: (x, consume) => {
      const y = f(x);
      if (consume) x.dispose();
      return y;
    },
  };
}

/** Networks as tfjs tensors on the active backend. Call only with that backend active. */
export class TfNet {
  private ga: { convs: TfConv[]; gdns: TfGdn[] };
  private ha: { convs: TfConv[] };
  private gs: { convs: TfConv[]; igdns: TfGdn[] };
  private all: tf.Tensor[] = [];
  readonly arch: PreparedNet['arch'];
  readonly gpuFused: boolean;

  constructor(p: PreparedNet, opts: TfNetOptions = {}) {
    this.arch = p.arch;
    this.gpuFused = !!opts.gpuFused;
    const conv = (c: ConvLayer): TfConv => {
      const w = tf.tensor4d(c.w, c.shape);
      const b = tf.tensor1d(c.b);
      this.all.push(w, b);
      return { w, b, stride: c.stride, pad: c.pad };
    };
    const g = (x: GdnLayer): TfGdn => {
      const gamma = tf.tensor4d(x.gamma, [1, 1, x.C, x.C]);
      const beta = tf.tensor1d(x.beta);
      this.all.push(gamma, beta);
      return { gamma, beta };
    };
    this.ga = { convs: p.ga.convs.map(conv), gdns: p.ga.gdns.map(g) };
    this.ha = { convs: p.ha.convs.map(conv) };
    this.gs = { convs: p.gs.convs.map(conv), igdns: p.gs.igdns.map(g) };
  }

  // Intermediates are disposed as soon as they are consumed (not at the end of a tidy):
  // peak memory is ~3 activations of the widest layer, not the sum over the network.
  // `consume` = the input may be disposed by this step (it is not the caller's tensor).

  private conv(x: tf.Tensor4D, c: TfConv, consume: boolean, activation: 'linear' | 'relu' = 'linear'): tf.Tensor4D {
    const y = tf.fused.conv2d({ x, filter: c.w, strides: c.stride, pad: c.pad, bias: c.b, activation });
    if (consume) x.dispose();
    return y;
  }

  /** norm = beta + conv1x1(x², gammaᵀ), x viewed as [1, rows, cols, C] */
  private gdnNorm(x: tf.Tensor4D, g: TfGdn): tf.Tensor4D {
    const sq = tf.square(x);
    // 'valid' (not 0): tfjs-webgpu runs 1x1 'same'/'valid' convs as a plain matmul
    const norm = tf.fused.conv2d({ x: sq, filter: g.gamma, strides: 1, pad: 'valid', bias: g.beta });
    sq.dispose();
    return norm;
  }

  /** GDN / IGDN, consuming x if `consume`. */
  private gdn(x: tf.Tensor4D, g: TfGdn, inverse: boolean, consume: boolean): tf.Tensor4D {
    const norm = this.gdnNorm(x, g);
    if (this.gpuFused) {
      const y = gdnEpilogueGpu(x, norm, inverse, false);
      norm.dispose();
      if (consume) x.dispose();
      return y;
    }
    const f = inverse ? tf.sqrt(norm) : tf.rsqrt(norm);
    norm.dispose();
    const y = tf.mul(x, f) as tf.Tensor4D;
    f.dispose();
    if (consume) x.dispose();
    return y;
  }

  /**
   * WebGPU: IGDN of depthToSpace(x) computed on x itself (a pixel of the depth-to-space
   * output is C consecutive channels of x, so x viewed as [1, h, 4w, C] holds the same
   * per-pixel vectors), the rearrangement folded into the epilogue kernel's indexing.
   */
  private igdnD2sGpu(x: tf.Tensor4D, g: TfGdn, consume: boolean): tf.Tensor4D {
    const [n, h, w, c4] = x.shape;
    const view = tf.reshape(x, [n, h, 4 * w, c4 / 4]) as tf.Tensor4D;
    const norm = this.gdnNorm(view, g);
    view.dispose();
    const y = gdnEpilogueGpu(x, norm, true, true);
    norm.dispose();
    if (consume) x.dispose();
    return y;
  }

  /**
   * The layer sequence of an op (run() applies them in order). `layout.planar`: input and
   * output are planar [1, C, H, W] instead of NHWC (layout changes on the backend, the last
   * one folded into g_s's depth-to-space when gpuFused).
   */
  steps(op: NetOp, layout: { planar?: boolean } = {}): NetStep[] {
    const s: NetStep[] = [];
    const planar = !!layout.planar;
    if (planar) {
      s.push(consuming('to-nhwc', (x) => tf.transpose(x, [0, 2, 3, 1]) as tf.Tensor4D));
    }
    if (op === 'analysis') {
      for (let l = 0; l < 4; l++) {
        s.push({ name: `ga.${l}.conv`, run: (x, c) => this.conv(x, this.ga.convs[l], c) });
        if (l < 3) s.push({ name: `ga.${l}.gdn`, run: (x, c) => this.gdn(x, this.ga.gdns[l], false, c) });
      }
    } else if (op === 'hyper') {
      s.push({ name: 'ha.0.conv+relu', run: (x, c) => this.conv(x, this.ha.convs[0], c, 'relu') });
      s.push({ name: 'ha.1.conv+relu', run: (x, c) => this.conv(x, this.ha.convs[1], c, 'relu') });
      s.push({ name: 'ha.2.conv', run: (x, c) => this.conv(x, this.ha.convs[2], c) });
    } else if (op === 'synthesis') {
      for (let l = 0; l < 4; l++) {
        s.push({ name: `gs.${l}.conv`, run: (x, c) => this.conv(x, this.gs.convs[l], c) });
        if (l < 3 && this.gpuFused) {
          s.push({ name: `gs.${l}.igdn+d2s`, run: (x, c) => this.igdnD2sGpu(x, this.gs.igdns[l], c) });
          continue;
        }
        if (l === 3 && planar && this.gpuFused) {
          s.push(consuming('gs.3.d2s+planar', d2sToPlanarGpu));
          return s;
        }
        s.push(consuming(`gs.${l}.d2s`, depthToSpace2));
        if (l < 3) s.push({ name: `gs.${l}.igdn`, run: (x, c) => this.gdn(x, this.gs.igdns[l], true, c) });
      }
    } else {
      throw new NimgError('INTERNAL', `unknown op ${String(op)}`);
    }
    if (planar) {
      s.push(consuming('to-planar', (x) => tf.transpose(x, [0, 3, 1, 2]) as tf.Tensor4D));
    }
    return s;
  }

  /** [1, H, W, 3] → [1, H/16, W/16, M] */
  analysis(x: tf.Tensor4D): tf.Tensor4D {
    return this.run('analysis', x);
  }

  /** [1, h, w, M] → [1, h/4, w/4, Nz] */
  hyperAnalysis(y: tf.Tensor4D): tf.Tensor4D {
    return this.run('hyper', y);
  }

  /** [1, h, w, M] → [1, 16h, 16w, 3] */
  synthesis(y: tf.Tensor4D): tf.Tensor4D {
    return this.run('synthesis', y);
  }

  run(op: NetOp, x: tf.Tensor4D, layout: { planar?: boolean } = {}): tf.Tensor4D {
    const steps = this.steps(op, layout);
    return tf.tidy(() => {
      let t = x;
      for (const st of steps) t = st.run(t, t !== x);
      return t;
    });
  }

  dispose(): void {
    for (const t of this.all) t.dispose();
    this.all = [];
  }
}

export type NetOp = 'analysis' | 'hyper' | 'synthesis';

/** Output channels and scale (output pixels per input pixel, as num/den) of each op. */
export function opGeometry(arch: PreparedNet['arch'], op: NetOp): { inC: number; outC: number; up: number; down: number } {
  if (op === 'analysis') return { inC: 3, outC: arch.M, up: 1, down: 16 };
  if (op === 'hyper') return { inC: arch.M, outC: arch.Nz, up: 1, down: 4 };
  return { inC: arch.M, outC: 3, up: 16, down: 1 };
}

/** Run one NHWC tile synchronously-on-the-backend and read it back. */
export async function runTile(net: TfNet, op: NetOp, input: Float32Array, h: number, w: number): Promise<{ data: Float32Array; h: number; w: number }> {
  const g = opGeometry(net.arch, op);
  const x = tf.tensor4d(input, [1, h, w, g.inC]);
  let y: tf.Tensor4D | undefined;
  try {
    y = net.run(op, x);
    const data = (await y.data()) as Float32Array;
    return { data, h: y.shape[1], w: y.shape[2] };
  } finally {
    x.dispose();
    y?.dispose();
  }
}

/**
 * g_a → ys = y · gain → h_a on one whole image, ys kept on the backend between the two;
 * ys [M, h, w] and z [Nz, h/4, w/4] read back planar, ys's read-back started before h_a is
 * recorded so the copy overlaps it. `input`: makes the NHWC image tensor [1, H, W, 3]
 * (called inside a tidy).
 */
async function analysisHyperOnDevice(net: TfNet, input: () => tf.Tensor4D, gain: Float32Array): Promise<{ ys: Float32Array; z: Float32Array }> {
  const g = tf.tensor1d(gain);
  let ys: tf.Tensor4D | undefined;
  let ysP: tf.Tensor4D | undefined;
  let zP: tf.Tensor4D | undefined;
  try {
    ys = tf.tidy(() => tf.mul(net.run('analysis', input()), g) as tf.Tensor4D);
    ysP = tf.transpose(ys, [0, 3, 1, 2]) as tf.Tensor4D;
    const ysRead = ysP.data() as Promise<Float32Array>;
    const yv = ys;
    zP = tf.tidy(() => tf.transpose(net.run('hyper', yv), [0, 3, 1, 2]) as tf.Tensor4D);
    const [ysData, zData] = await Promise.all([ysRead, zP.data() as Promise<Float32Array>]);
    return { ys: ysData, z: zData };
  } finally {
    g.dispose();
    ys?.dispose();
    ysP?.dispose();
    zP?.dispose();
  }
}

/** analysisHyperOnDevice from a planar float image [3, H, W]. */
export async function runAnalysisHyperPlanar(net: TfNet, input: Float32Array, H: number, W: number, gain: Float32Array): Promise<{ ys: Float32Array; z: Float32Array }> {
  const x = tf.tensor4d(input, [1, 3, H, W]);
  try {
    return await analysisHyperOnDevice(net, () => tf.transpose(x, [0, 2, 3, 1]) as tf.Tensor4D, gain);
  } finally {
    x.dispose();
  }
}

/**
 * analysisHyperOnDevice from RGBA8 bytes (WebGPU): the bytes are uploaded as they are (a
 * quarter of the float image) and converted, padded by edge replication, on the device
 * exactly as the core's toPlanar does (lut: byteToUnitTable() as a float32 tensor).
 */
export async function runAnalysisHyperRgba(
  net: TfNet, lut: tf.Tensor, rgba: Uint8Array | Uint8ClampedArray, width: number, height: number, padW: number, padH: number, gain: Float32Array,
): Promise<{ ys: Float32Array; z: Float32Array }> {
  const words = rgba.byteOffset % 4 === 0
    ? new Int32Array(rgba.buffer, rgba.byteOffset, width * height)
    : new Int32Array(Uint8Array.from(rgba).buffer);
  const px = tf.tensor2d(words, [height, width], 'int32');
  try {
    return await analysisHyperOnDevice(net, () => rgbaToNhwcGpu(px, lut, width, height, padW, padH), gain);
  } finally {
    px.dispose();
  }
}

/** g_s on a whole planar latent, then RGBA8 of the top-left width x height on the device (WebGPU). */
export async function runSynthesisRgba(net: TfNet, yhat: Float32Array, h: number, w: number, width: number, height: number): Promise<Uint8ClampedArray> {
  const x = tf.tensor4d(yhat, [1, net.arch.M, h, w]);
  let px: tf.Tensor | undefined;
  try {
    px = tf.tidy(() => planarToRgbaGpu(net.run('synthesis', x, { planar: true }), width, height));
    const d = (await px.data()) as Int32Array;
    return new Uint8ClampedArray(d.buffer, d.byteOffset, width * height * 4);
  } finally {
    x.dispose();
    px?.dispose();
  }
}

/**
 * Run a whole (untiled) planar input [C, H, W] and read back the planar output
 * [outC, Ho, Wo]: the NHWC layout changes run on the backend (used on WebGPU, where they
 * are one cheap dispatch each, instead of two strided CPU loops over the data).
 */
export async function runPlanar(net: TfNet, op: NetOp, input: Float32Array, H: number, W: number): Promise<Float32Array> {
  const g = opGeometry(net.arch, op);
  const x = tf.tensor4d(input, [1, g.inC, H, W]);
  let y: tf.Tensor4D | undefined;
  try {
    y = net.run(op, x, { planar: true });
    return (await y.data()) as Float32Array;
  } finally {
    x.dispose();
    y?.dispose();
  }
}
