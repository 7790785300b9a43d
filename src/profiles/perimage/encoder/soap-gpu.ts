/**
 * One SOAP step (soap.ts) as three WebGPU programs instead of ~20 tfjs ops a matrix: the
 * trainer's step is bound by the fixed cost of each dispatch, not by arithmetic, and these
 * matrices are tiny (at most 24 x 27 in the default decoder).
 *   P1  the next statistics S' (every L, R, M1, M2 of every member): L' = β L + (1−β) G Gᵀ,
 *       R' = β R + (1−β) Gᵀ G, M1' = 0.9 M1 + 0.1 G, M2' = 0.999 M2 + 0.001 (QLᵀ G QR)²
 *   P2  the normalised step in the rotated coordinates, N = (QLᵀ M1' QR)·c1inv /
 *       (sqrt(M2'·c2inv) + ε), for every matrix entry
 *   P3  the new theta: θ − lr · QL N QRᵀ on the matrices' entries, Adam's value elsewhere
 * One thread per output element; each sums over its matrix's row and column (O(m·n) work a
 * thread, a few hundred multiply-adds). The layout (offsets and sizes) is baked into the
 * code and into the shader key. The arithmetic is the ops path's in another summation
 * order: results agree to f32 rounding (test/perimage-soap-webgpu.test.ts).
 */
import * as tf from '@tensorflow/tfjs-core';
import { flatProgram, run, type Program } from '../../../model/gpu-kernels.js';
import type { SoapLayout } from './soap.js';

/** Adam's constants (adam.ts's), for both paths of the step: baked into these programs, used by soap.ts's ops */
export const SOAP_B1 = 0.9;
export const SOAP_B2 = 0.999;
export const SOAP_EPS = 1e-8;

/** the step's scalars: the statistics' decay, Adam's bias corrections (inverted), the step size */
export type SoapConsts = { sb: number; c1inv: number; c2inv: number; lr: number };

/** WGSL: the if-chain that finds the matrix of local index `e` by its start in a member's block (`base` of each) */
function chain(lay: SoapLayout, base: (j: number) => number, size: (j: number) => number, body: (j: number) => string): string {
  return lay.mats.map((_, j) => `if (e >= ${base(j)} && e < ${base(j) + size(j)}) {
            let l = e - ${base(j)};
${body(j)}
          }`).join(' else ');
}

/** the three programs of one step (soapPrograms) */
export interface SoapPrograms { stats: Program; step: Program; theta: Program }

/** The three programs for `lay` and K members of nT parameters each (built once per training run). */
export function soapPrograms(lay: SoapLayout, K: number, nT: number): SoapPrograms {
  const { sz, qz, nz } = lay;
  const key = `${K}_${nT}_${lay.mats.map((m) => `${m.offset}x${m.rows}x${m.cols}`).join('_')}`;
  // QL(a, r) and QR(b, c) of matrix j, member k
  const QL = (j: number, a: string, r: string) => `Q[k * ${qz} + ${lay.mats[j].q} + (${a}) * ${lay.mats[j].rows} + (${r})]`;
  const QR = (j: number, b: string, c: string) => `Q[k * ${qz} + ${lay.mats[j].q + lay.mats[j].rows ** 2} + (${b}) * ${lay.mats[j].cols} + (${c})]`;
  // G(a, b): the gradient of matrix j's entry (a, b); X(a, b) of a matrix stored row-major at `base`
  const G = (j: number, a: string, b: string) => `GT[k * ${nT} + ${lay.mats[j].offset} + (${a}) * ${lay.mats[j].cols} + (${b})]`;
  // (QLᵀ X QR)(r, c) for X an accessor: Σ_a QL(a, r) Σ_b X(a, b) QR(b, c)
  const rotated = (j: number, X: (a: string, b: string) => string) => {
    const { rows: m, cols: n } = lay.mats[j];
    return `var acc = 0.0;
            for (var a = 0; a < ${m}; a++) {
              var inner = 0.0;
              for (var b = 0; b < ${n}; b++) { inner += ${X('a', 'b')} * ${QR(j, 'b', 'c')}; }
              acc += ${QL(j, 'a', 'r')} * inner;
            }`;
  };
  const stats = flatProgram(`nimg_soap_stats_${key}`, ['S', 'GT', 'Q'], [K * sz], `
      fn main(index : i32) {
        if (index < uniforms.size) {
          let k = index / ${sz};
          let e = index % ${sz};
          let old = S[index];
          var v = 0.0;
          ${chain(lay, (j) => lay.mats[j].s, (j) => { const { rows: m, cols: n } = lay.mats[j]; return m * m + n * n + 2 * m * n; }, (j) => {
    const { rows: m, cols: n } = lay.mats[j];
    return `            if (l < ${m * m}) {
              let r = l / ${m};
              let c = l % ${m};
              var acc = 0.0;
              for (var b = 0; b < ${n}; b++) { acc += ${G(j, 'r', 'b')} * ${G(j, 'c', 'b')}; }
              v = uniforms.sb * old + (1.0 - uniforms.sb) * acc;
            } else if (l < ${m * m + n * n}) {
              let r = (l - ${m * m}) / ${n};
              let c = (l - ${m * m}) % ${n};
              var acc = 0.0;
              for (var a = 0; a < ${m}; a++) { acc += ${G(j, 'a', 'r')} * ${G(j, 'a', 'c')}; }
              v = uniforms.sb * old + (1.0 - uniforms.sb) * acc;
            } else if (l < ${m * m + n * n + m * n}) {
              let i = l - ${m * m + n * n};
              v = old * ${SOAP_B1} + ${G(j, `i / ${n}`, `i % ${n}`)} * ${1 - SOAP_B1};
            } else {
              let i = l - ${m * m + n * n + m * n};
              let r = i / ${n};
              let c = i % ${n};
              ${rotated(j, (a, b) => G(j, a, b))}
              v = old * ${SOAP_B2} + (acc * acc) * ${1 - SOAP_B2};
            }`;
  })}
          setOutputAtIndex(index, v);
        }
      }`, 'sb : f32, ');
  const step = flatProgram(`nimg_soap_step_${key}`, ['S', 'Q'], [K * nz], `
      fn main(index : i32) {
        if (index < uniforms.size) {
          let k = index / ${nz};
          let e = index % ${nz};
          var v = 0.0;
          ${chain(lay, (j) => lay.mats[j].nb, (j) => lay.mats[j].rows * lay.mats[j].cols, (j) => {
    const { rows: m, cols: n, s } = lay.mats[j];
    const m1 = s + m * m + n * n;
    return `            let r = l / ${n};
            let c = l % ${n};
            ${rotated(j, (a, b) => `S[k * ${sz} + ${m1} + (${a}) * ${n} + (${b})]`)}
            let m2 = S[k * ${sz} + ${m1 + m * n} + l];
            v = (acc * uniforms.c1inv) / (sqrt(m2 * uniforms.c2inv) + ${SOAP_EPS});`;
  })}
          setOutputAtIndex(index, v);
        }
      }`, 'c1inv : f32, c2inv : f32, ');
  const theta = flatProgram(`nimg_soap_theta_${key}`, ['TH', 'TA', 'N', 'Q'], [K * nT], `
      fn main(index : i32) {
        if (index < uniforms.size) {
          let k = index / ${nT};
          let e = index % ${nT};
          var v = TA[index];
          ${chain(lay, (j) => lay.mats[j].offset, (j) => lay.mats[j].rows * lay.mats[j].cols, (j) => {
    const { rows: m, cols: n, nb } = lay.mats[j];
    return `            let r = l / ${n};
            let c = l % ${n};
            var acc = 0.0;
            for (var a = 0; a < ${m}; a++) {
              var inner = 0.0;
              for (var b = 0; b < ${n}; b++) { inner += N[k * ${nz} + ${nb} + a * ${n} + b] * ${QR(j, 'c', 'b')}; }
              acc += ${QL(j, 'r', 'a')} * inner;
            }
            v = TH[index] - uniforms.lr * acc;`;
  })}
          setOutputAtIndex(index, v);
        }
      }`, 'lr : f32, ');
  return { stats, step, theta };
}

/**
 * SoapState.next on tfjs WebGPU with soapPrograms(lay, K, nT).
 * REQUIRES: gpuKernelsAvailable(); S, Q packed by `lay` for K members; thOld has K·nT entries.
 */
export function soapFusedNext(p: SoapPrograms, lay: SoapLayout, K: number, thOld: tf.Tensor, thAdam: tf.Tensor, g: tf.Tensor, S: tf.Tensor, Q: tf.Tensor, c: SoapConsts): { th: tf.Tensor1D; S: tf.Tensor1D } {
  const nT = thOld.size / K;
  const f = (v: number) => [{ type: 'float32' as const, data: [v] }];
  const S1 = tf.reshape(run(p.stats, [S, g, Q], 'float32', f(c.sb)), [K * lay.sz]) as tf.Tensor1D;
  const N = run(p.step, [S1, Q], 'float32', [...f(c.c1inv), ...f(c.c2inv)]);
  const th = tf.reshape(run(p.theta, [thOld, thAdam, N, Q], 'float32', f(c.lr)), [K * nT]) as tf.Tensor1D;
  return { th, S: S1 };
}
