/**
 * SOAP for the decoder's weight matrices: Adam run in the eigenbasis of each matrix's
 * gradient statistics (Vyas et al. 2024, "SOAP: Improving and Stabilizing Shampoo using
 * Adam"; Cool-chic 5 trains its networks with it). A study option of the encoder
 * (TrainSettings.soap), off by default until measured on Kodak on the GPU.
 *
 * Why: the PyTorch reference (train/perimage/soap.py, sweep.py --net-opt soap), 128x128
 * crops of training photos, recipe r4, float model with rounded latents, PSNR / latent bpp
 * (rows: bench/results/perimage-gpu/sweep-cpu-soap.jsonl):
 *   100075, 2000 steps, λ 1.5e-4: Adam 37.69 / 0.942; SOAP on every matrix 38.46 / 0.909;
 *     on the synthesis only 38.54 / 0.951. λ 1.5e-3: Adam 32.92 / 0.212, synthesis 33.02 / 0.226
 *   100075, 4000 steps, λ 1.5e-4: Adam 38.73 / 0.962, synthesis 39.25 / 0.925; λ 1.5e-3:
 *     Adam 33.43 / 0.205, synthesis 33.26 / 0.209
 *   145014 (textured), 2000 steps, λ 1.5e-4: Adam 30.78 / 1.711, synthesis 30.78 / 1.662;
 *     λ 1.5e-3: 29.07 / 1.216 vs 29.03 / 1.207
 * A clear gain at the high rate (where the profile trails AVIF most), about even at the
 * middle one: hence a study option until whole photos and Kodak on the GPU say more.
 *
 * For a matrix W (m x n, row-major in theta) with gradient G, the state is
 *   L = E[G Gᵀ], R = E[Gᵀ G]  (decay statBeta), their eigenbases QL, QR,
 *   M1 = E[G] (Adam's first moment, plain coordinates), M2 = E[(QLᵀ G QR)²] (rotated),
 * and the update is W −= lr · QL (QLᵀ M1 QR / c1) / (sqrt(M2 / c2) + ε) QRᵀ, with Adam's
 * bias corrections c1 = 1 − 0.9^t, c2 = 1 − 0.999^t. Every other entry of theta keeps
 * Adam's update. The bases are refreshed on the host every `every` steps (refresh()): L and
 * R are read back, and a Jacobi eigensolver warm-started from the previous basis rotates it
 * (so eigenvector order and signs follow the previous basis and M2's coordinates stay
 * matched; the reference recomputes eigh from scratch). The refresh before step t uses the
 * statistics through step t − 1 (the reference's include step t's gradient): at t = 1 the
 * bases are the identity.
 *
 * Members (trainBatch's K stacked thetas) are independent batches of the same matrices.
 * The state lives packed in two flat tensors (SoapLayout): the statistics S and the bases Q.
 * On tfjs WebGPU a step is three programs over them (soap-gpu.ts); elsewhere, or with
 * setFusedSoap(false), tfjs ops per matrix (~20 a matrix: the reference the programs are
 * tested against).
 */
import * as tf from '@tensorflow/tfjs-core';
import { gpuKernelsAvailable } from '../../../model/gpu-kernels.js';
import type { Layout } from './model.js';
import { SOAP_B1, SOAP_B2, SOAP_EPS, soapFusedNext, soapPrograms, type SoapConsts, type SoapPrograms } from './soap-gpu.js';

export interface SoapSettings {
  /** the networks whose weight matrices SOAP trains */
  on: readonly ('arm' | 'syn')[];
  /** steps between two refreshes of the eigenbases */
  every: number;
  /** decay of L and R */
  statBeta: number;
  /** SOAP's step relative to the networks' Adam step (TrainSettings.lr and its schedule) */
  lrScale: number;
}

export const DEFAULT_SOAP: Readonly<SoapSettings> = Object.freeze({ on: ['syn'] as const, every: 10, statBeta: 0.95, lrScale: 1 });

/** what is wrong with settings (empty: nothing) */
export function soapProblems(s: SoapSettings): string[] {
  const out: string[] = [];
  if (!Array.isArray(s.on) || !s.on.length || !s.on.every((n) => n === 'arm' || n === 'syn')) out.push(`on ${JSON.stringify(s.on)} (arm, syn or both)`);
  if (!(Number.isInteger(s.every) && s.every >= 1 && s.every <= 10_000)) out.push(`every ${s.every} (1 … 10000)`);
  if (!(s.statBeta >= 0 && s.statBeta < 1)) out.push(`statBeta ${s.statBeta} outside [0, 1)`);
  if (!(s.lrScale > 0 && s.lrScale <= 10)) out.push(`lrScale ${s.lrScale} outside (0, 10]`);
  return out;
}

/** Settings that train the networks `nets` ('syn', 'arm' or 'arm,syn') with SOAP, the rest DEFAULT_SOAP's. */
export function soapSettingsOf(nets: string, lrScale = DEFAULT_SOAP.lrScale): SoapSettings {
  return { ...DEFAULT_SOAP, on: nets.split(',') as SoapSettings['on'], lrScale };
}

/** one weight matrix of theta: `rows` x `cols` row-major from `offset` (one member) */
export interface SoapMatrix {
  offset: number;
  rows: number;
  cols: number;
}

/** The weight matrices of the chosen networks, in theta order (SPEC §2: ARM layers, taps, synthesis layers). */
export function soapMatrices(lay: Layout, on: SoapSettings['on']): SoapMatrix[] {
  const { arch, offsets, sizes, synthIndex } = lay;
  const out: SoapMatrix[] = [];
  if (on.includes('arm')) {
    // ARM layer l's weights at tensor 2l: [Wh, N] then [Wh, Wh], the output layer [2, in]
    for (let l = 0; l <= arch.D; l++) {
      const rows = l < arch.D ? arch.Wh : 2;
      out.push({ offset: offsets[2 * l], rows, cols: sizes[2 * l] / rows });
    }
  }
  if (on.includes('syn')) {
    arch.synthesis.forEach((layer, i) => {
      const t = synthIndex + 2 * i;
      out.push({ offset: offsets[t], rows: layer.out, cols: sizes[t] / layer.out });
    });
  }
  return out;
}

/**
 * Eigenvectors of the symmetric n x n matrix `a` (row-major, f64), as the columns of
 * q0 · V, where V diagonalises q0ᵀ a q0 (cyclic Jacobi rotations; q0 = the previous basis,
 * or the identity). Near a diagonal start it converges in a sweep or two.
 * REQUIRES: a symmetric; q0 orthogonal n x n (or undefined).
 */
export function jacobiEigenvectors(a: Float64Array, n: number, q0?: Float64Array, maxSweeps = 12): Float64Array {
  // B = q0ᵀ a q0
  const B = new Float64Array(n * n);
  if (q0) {
    const T = new Float64Array(n * n);
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) {
      let s = 0;
      for (let k = 0; k < n; k++) s += a[i * n + k] * q0[k * n + j];
      T[i * n + j] = s;
    }
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) {
      let s = 0;
      for (let k = 0; k < n; k++) s += q0[k * n + i] * T[k * n + j];
      B[i * n + j] = s;
    }
  } else B.set(a);
  const Q = new Float64Array(n * n);
  if (q0) Q.set(q0);
  else for (let i = 0; i < n; i++) Q[i * n + i] = 1;
  let scale = 0;
  for (let i = 0; i < n * n; i++) scale += B[i] * B[i];
  if (scale === 0) return Q;
  for (let sweep = 0; sweep < maxSweeps; sweep++) {
    let off = 0;
    for (let p = 0; p < n; p++) for (let r = p + 1; r < n; r++) off += B[p * n + r] * B[p * n + r];
    if (off <= 1e-24 * scale) break;
    for (let p = 0; p < n - 1; p++) {
      for (let r = p + 1; r < n; r++) {
        const bpr = B[p * n + r];
        if (Math.abs(bpr) < 1e-300) continue;
        // the rotation that zeroes B[p][r]: tan of its angle, the smaller root
        const theta = (B[r * n + r] - B[p * n + p]) / (2 * bpr);
        const t = (theta >= 0 ? 1 : -1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1);
        const s = t * c;
        for (let k = 0; k < n; k++) {
          // columns p and r of B
          const bkp = B[k * n + p];
          const bkr = B[k * n + r];
          B[k * n + p] = c * bkp - s * bkr;
          B[k * n + r] = s * bkp + c * bkr;
        }
        for (let k = 0; k < n; k++) {
          // rows p and r of B
          const bpk = B[p * n + k];
          const brk = B[r * n + k];
          B[p * n + k] = c * bpk - s * brk;
          B[r * n + k] = s * bpk + c * brk;
        }
        for (let k = 0; k < n; k++) {
          const qkp = Q[k * n + p];
          const qkr = Q[k * n + r];
          Q[k * n + p] = c * qkp - s * qkr;
          Q[k * n + r] = s * qkp + c * qkr;
        }
      }
    }
  }
  return Q;
}

let fusedAllowed = true;
/** Turn the fused SOAP programs off (true: back on) for states made after — for tests and A/B runs; on by default. */
export function setFusedSoap(on: boolean): void {
  fusedAllowed = on;
}

/**
 * Where each matrix's state lives in the packed tensors, per member: in S (size `sz`) its
 * L (m·m) at `s`, then R (n·n), M1 (m·n), M2 (m·n); in Q (size `qz`) QL (m·m) at `q`, then
 * QR (n·n); in the fused programs' N (size `nz`) at `nb`. Member k's block starts at k·sz
 * (k·qz, k·nz).
 */
export interface SoapLayout {
  mats: (SoapMatrix & { s: number; q: number; nb: number })[];
  sz: number;
  qz: number;
  nz: number;
}

export function soapLayout(mats: SoapMatrix[]): SoapLayout {
  let sz = 0;
  let qz = 0;
  let nz = 0;
  const out = mats.map((mt) => {
    const { rows: m, cols: n } = mt;
    const e = { ...mt, s: sz, q: qz, nb: nz };
    sz += m * m + n * n + 2 * m * n;
    qz += m * m + n * n;
    nz += m * n;
    return e;
  });
  return { mats: out, sz, qz, nz };
}

/** The state of SOAP over K members' matrices, on the device; bases refreshed on the host. */
export class SoapState {
  readonly layout: SoapLayout;
  /** statistics, packed (SoapLayout), [K·sz] */
  private S: tf.Tensor1D;
  /** bases, packed, [K·qz], and their host copy (f64) */
  private Q: tf.Tensor1D;
  private hostQ: Float64Array;
  /** the fused programs (tfjs WebGPU, fused allowed when constructed), else null: tfjs ops */
  private readonly progs: SoapPrograms | null;

  constructor(lay: Layout, readonly members: number, readonly settings: SoapSettings) {
    this.layout = soapLayout(soapMatrices(lay, settings.on));
    this.progs = fusedAllowed && gpuKernelsAvailable() ? soapPrograms(this.layout, members, lay.nTheta) : null;
    const { sz, qz } = this.layout;
    this.S = tf.zeros([members * sz]);
    this.hostQ = new Float64Array(members * qz);
    for (let k = 0; k < members; k++) {
      for (const { rows: m, cols: n, q } of this.layout.mats) {
        for (let i = 0; i < m; i++) this.hostQ[k * qz + q + i * m + i] = 1;
        for (let i = 0; i < n; i++) this.hostQ[k * qz + q + m * m + i * n + i] = 1;
      }
    }
    this.Q = tf.tensor1d(Float32Array.from(this.hostQ));
  }

  /** whether step t (0-based, the caller's loop index) starts with a refresh of the bases */
  dueAt(t: number): boolean {
    return t > 0 && (t - 1) % this.settings.every === 0;
  }

  /** Recompute the eigenbases from L and R (read back; Jacobi on the host, warm-started). */
  async refresh(): Promise<void> {
    const { sz, qz, mats } = this.layout;
    const S = (await this.S.data()) as Float32Array;
    for (let k = 0; k < this.members; k++) {
      for (const { rows: m, cols: n, s, q } of mats) {
        const at = (off: number, d: number) => symmetric(S.subarray(k * sz + s + off, k * sz + s + off + d * d), d);
        this.hostQ.set(jacobiEigenvectors(at(0, m), m, this.hostQ.slice(k * qz + q, k * qz + q + m * m)), k * qz + q);
        this.hostQ.set(jacobiEigenvectors(at(m * m, n), n, this.hostQ.slice(k * qz + q + m * m, k * qz + q + m * m + n * n)), k * qz + q + m * m);
      }
    }
    this.Q.dispose();
    this.Q = tf.tensor1d(Float32Array.from(this.hostQ));
  }

  /**
   * theta after one step: Adam's `thAdam` outside the matrices, SOAP's update from `thOld`
   * and the gradient `g` on them; plus the next statistics (for commit). lr: the networks'
   * Adam step (SOAP's is lr · lrScale); tt: the 1-based step. In the step's tidy.
   */
  next(thOld: tf.Tensor, thAdam: tf.Tensor, g: tf.Tensor, lr: number, tt: number): { th: tf.Tensor1D; S: tf.Tensor1D } {
    const c = { sb: this.settings.statBeta, c1inv: 1 / (1 - SOAP_B1 ** tt), c2inv: 1 / (1 - SOAP_B2 ** tt), lr: lr * this.settings.lrScale };
    if (this.progs) return soapFusedNext(this.progs, this.layout, this.members, thOld, thAdam, g, this.S, this.Q, c);
    return this.opsNext(thOld, thAdam, g, c);
  }

  /** next() as tfjs ops, matrix by matrix (any backend) */
  private opsNext(thOld: tf.Tensor, thAdam: tf.Tensor, g: tf.Tensor, c: SoapConsts): { th: tf.Tensor1D; S: tf.Tensor1D } {
    const K = this.members;
    const { sz, qz, mats } = this.layout;
    const nT = thOld.size / K;
    const [old2, adam2, g2] = [thOld, thAdam, g].map((t) => tf.reshape(t, [K, nT]));
    const S2 = tf.reshape(this.S, [K, sz]);
    const Q2 = tf.reshape(this.Q, [K, qz]);
    const block = (t: tf.Tensor, at: number, r: number, cols: number) => tf.reshape(tf.slice(t, [0, at], [K, r * cols]), [K, r, cols]) as tf.Tensor3D;
    const flat = (t: tf.Tensor) => tf.reshape(t, [K, -1]);
    const thPieces: tf.Tensor[] = [];
    const sPieces: tf.Tensor[] = [];
    let at = 0;
    for (const { offset, rows: m, cols: n, s, q } of mats) {
      if (offset > at) thPieces.push(tf.slice(adam2, [0, at], [K, offset - at]));
      const [L, R] = [block(S2, s, m, m), block(S2, s + m * m, n, n)];
      const [M1, M2] = [block(S2, s + m * m + n * n, m, n), block(S2, s + m * m + n * n + m * n, m, n)];
      const [QL, QR] = [block(Q2, q, m, m), block(Q2, q + m * m, n, n)];
      const G = block(g2, offset, m, n);
      const rot = (X: tf.Tensor3D) => tf.matMul(tf.matMul(QL, X, true, false), QR);
      const L1 = tf.add(tf.mul(L, c.sb), tf.mul(tf.matMul(G, G, false, true), 1 - c.sb));
      const R1 = tf.add(tf.mul(R, c.sb), tf.mul(tf.matMul(G, G, true, false), 1 - c.sb));
      const M1n = tf.add(tf.mul(M1, SOAP_B1), tf.mul(G, 1 - SOAP_B1)) as tf.Tensor3D;
      const M2n = tf.add(tf.mul(M2, SOAP_B2), tf.mul(tf.square(rot(G)), 1 - SOAP_B2));
      const N = tf.div(tf.mul(rot(M1n), c.c1inv), tf.add(tf.sqrt(tf.mul(M2n, c.c2inv)), SOAP_EPS)) as tf.Tensor3D;
      const U = tf.matMul(tf.matMul(QL, N), QR, false, true);
      thPieces.push(flat(tf.sub(block(old2, offset, m, n), tf.mul(U, c.lr))));
      sPieces.push(flat(L1), flat(R1), flat(M1n), flat(M2n));
      at = offset + m * n;
    }
    if (at < nT) thPieces.push(tf.slice(adam2, [0, at], [K, nT - at]));
    return { th: tf.reshape(tf.concat(thPieces, 1), [K * nT]) as tf.Tensor1D, S: tf.reshape(tf.concat(sPieces, 1), [K * sz]) as tf.Tensor1D };
  }

  /**
   * Replace the statistics and the bases (packed as SoapLayout, all members): to compare the
   * fused and the op paths from one state. Why not through refresh(): after a few gradients
   * a rectangular matrix's L or R is rank-deficient, so its eigenbasis inside the null space
   * is arbitrary and two f32 summation orders give different (equally valid) bases.
   * REQUIRES: S.length = K·sz, Q.length = K·qz, every Q block orthogonal.
   */
  setState(S: Float32Array, Q: Float64Array): void {
    tf.dispose([this.S, this.Q]);
    this.S = tf.tensor1d(S);
    this.hostQ = Float64Array.from(Q);
    this.Q = tf.tensor1d(Float32Array.from(Q));
  }

  /** Take the statistics of `next` (after the tidy), releasing the old ones. */
  commit(S: tf.Tensor1D): void {
    this.S.dispose();
    this.S = S;
  }

  dispose(): void {
    tf.dispose([this.S, this.Q]);
  }
}

/** a d x d block as f64, symmetrised (f32 sums leave it off by rounding) */
function symmetric(b: Float32Array, d: number): Float64Array {
  const a = new Float64Array(d * d);
  for (let i = 0; i < d; i++) for (let j = 0; j < d; j++) a[i * d + j] = 0.5 * (b[i * d + j] + b[j * d + i]);
  return a;
}
