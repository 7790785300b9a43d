/**
 * The member axis of the fused per-image programs: K independent models of the SAME image
 * (K values of λ) trained in one step, with the dispatches of one.
 *
 * Why: on WebGPU a training step costs the fixed price of its dispatches, not arithmetic
 * (arm-gpu.ts, up2-gpu.ts, synth-gpu.ts), so K models in one dispatch each cost about what
 * one does, where K separate trainings cost K times as much.
 *
 * How: every fused program is written for ONE member (its WGSL indexes per-member buffers
 * from 0). `runMembers` turns such a program into a K-member one without touching its
 * logic: the dispatch grows a y dimension of K (workgroup y = member m; x is the program's
 * own, so workgroup-based programs — reductions, per-workgroup partials — keep their
 * meaning), the global index the program sees is made member-local, and every buffer read
 * `NAME[e]` / output write `result[e]`, `setOutputAtIndex(e, …)` becomes
 * `NAME[m · size + e]` with `size` the per-member element count of that buffer (its
 * tensor's size / K; `shared` names — the target image — are read as they are). Bounds
 * tests `uniforms.size` become the per-member output size. A program that needs another
 * member's data cannot be expressed this way, and none does: members never interact.
 * K = 1 runs the program unchanged (same code, same shader key as before).
 *
 * Measured (bench/perimage-host-count.ts --members K, SwiftShader, default arch): 38.25
 * dispatches a step at K = 1 (train()) and at K = 6 (trainBatch): the same programs, each
 * once (51.5 at both before the fused loss and Adam of 2026-12-07). (SwiftShader's ms — 2.3 s vs 3.7 s a step — are CPU emulation,
 * where arithmetic does scale with K; they say nothing about a GPU.)
 */
import * as tf from '@tensorflow/tfjs-core';
import { flatProgram, run, storageBindingLimit } from '../../../model/gpu-kernels.js';

type Program = ReturnType<typeof flatProgram>;

const cache = new Map<string, Program>();

function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/**
 * The K-member version of `code` (see the header). `sizes`: per-member element count of
 * every bound buffer by name (undefined: shared, not offset); `outSize`: per-member output
 * elements; `span`: threads per member along x (dispatch x × workgroup x).
 */
export function memberCode(code: string, names: string[], sizes: (number | undefined)[], outSize: number, span: number): string {
  const head = /fn main\(index : i32\) \{/;
  if (!head.test(code)) throw new Error('members: program without fn main(index : i32)');
  let c = code;
  names.forEach((n, i) => {
    const s = sizes[i];
    if (s === undefined) return;
    c = c.replace(new RegExp(`\\b${escapeRe(n)}\\[`, 'g'), `${n}[mbr * ${s} + `);
  });
  c = c.replace(/\bresult\[/g, `result[mbr * ${outSize} + `);
  c = c.replace(/\bsetOutputAtIndex\(/g, `setOutputAtIndex(mbr * ${outSize} + `);
  c = c.replace(/\buniforms\.size\b/g, `min(uniforms.size, ${outSize})`);
  // tfjs's getGlobalIndex() is (wy · nx + wx) · wgx + localIndex: remove the member's share
  // a module-scope private: helper functions outside main read buffers too
  c = c.replace(head, `fn main(gidx : i32) {
        mbr = i32(workgroupId.y);
        let index = gidx - mbr * ${span};`);
  return `var<private> mbr : i32;\n${c}`;
}

/**
 * Run a one-member program `p` over K members: inputs are the K-member tensors (member-major,
 * each member's block of the size the one-member program reads), except the names in
 * `shared`; the output is [K · outShape[0], …outShape[1..]] (member-major). K = 1: `run(p, inputs)`.
 * `p` (and the K-member program made from it, cached) may be run any number of times (see `run`).
 */
export function runMembers(p: Program, inputs: tf.Tensor[], K: number, shared: readonly string[] = []): tf.Tensor {
  if (K === 1) return run(p, inputs);
  const sizes = p.variableNames.map((n, i) => (shared.includes(n) ? undefined : inputs[i].size / K));
  sizes.forEach((s, i) => {
    if (s !== undefined && !Number.isInteger(s)) throw new Error(`members: input ${p.variableNames[i]} of size ${inputs[i].size} is not ${K} members`);
  });
  const outSize = p.outputShape.reduce((a, b) => a * b, 1);
  // every buffer is K times a member's: the largest (the synthesis's parameter-gradient
  // partials, the ARM's gradients) must still be one binding; say so rather than let the
  // device fail with a validation error (fewer members, or a GPU with a larger limit)
  const lim = storageBindingLimit();
  if (lim && K * outSize * 4 > lim) throw new Error(`members: ${K} members need a ${K * outSize * 4} B output (${p.shaderKey}) over the device's maxStorageBufferBindingSize ${lim}; use fewer members`);
  const span = p.dispatch[0] * p.workgroupSize[0];
  if (p.dispatch[1] !== 1 || p.dispatch[2] !== 1 || p.workgroupSize[1] !== 1) throw new Error('members: program not flat in x');
  const key = `${p.shaderKey}_m${K}_${sizes.join('.')}_${outSize}_${span}`;
  let q = cache.get(key);
  if (!q) {
    const out = [K * p.outputShape[0], ...p.outputShape.slice(1)];
    q = flatProgram(`${p.shaderKey}_m${K}`, p.variableNames, out, memberCode(p.getUserCode(), p.variableNames, sizes, outSize, span));
    // the name (for profiles) is the one-member program's; the shader key must differ
    q.shaderKey = key;
    q.dispatch = [p.dispatch[0], K, 1];
    q.workgroupSize = [...p.workgroupSize] as [number, number, number];
    cache.set(key, q);
  }
  return run(q, inputs);
}
