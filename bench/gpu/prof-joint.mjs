// Device-side profile of refinement's two phases on one Kodak image (WebGPU): wall time per
// step of each phase, and the kernels' CPU dispatch time by name during joint steps.
import { readFileSync } from 'node:fs';
const A = process.cwd() + '/.gpu/app/src/';
const tf = await import(process.cwd() + '/.gpu/node_modules/@tensorflow/tfjs-core/dist/tf-core.node.js');
const { initBackend } = await import(A + 'backend/index.js');
const { loadWeightsFromFile } = await import(A + 'model/node-weights.js');
const { createCore } = await import(A + 'core/index.js');
const { coreModelFromWeights } = await import(A + 'core/model.js');
const { createTransforms } = await import(A + 'model/transforms.js');
const { interpolateGain } = await import(A + 'codec.js');
const { latentGeometry } = await import(A + 'format/container.js');
const { decodeImageFile } = await import(A + 'image/index.js');
const { refineJoint } = await import(A + 'model/refine-z.js');
const { refineLatent } = await import(A + 'model/refine.js');
await initBackend('webgpu');
const weights = await loadWeightsFromFile(process.env.NIMG_WEIGHTS);
const model = coreModelFromWeights(weights);
const core = await createCore(readFileSync(process.env.NIMG_CORE_WASM));
core.setModel(model);
const t = await createTransforms(weights, { backend: 'webgpu' });
const img = await decodeImageFile(new Uint8Array(readFileSync('.gpu/kodak/kodim01.png')));
const g = latentGeometry(img.width, img.height);
const M = model.M, q = 3;
const x = core.toPlanar(img.data, img.width, img.height, 4, g.padW, g.padH);
const ys = await t.analysis(x, g.padH, g.padW);
const gEnc = interpolateGain(weights.tensors.get('gain.enc').data, 8, M, q);
for (let c = 0; c < M; c++) for (let i = c * g.h * g.w; i < (c + 1) * g.h * g.w; i++) ys[i] *= gEnc[c];
const z = await t.hyperAnalysis(ys, g.h, g.w);
const zhat = core.quantizeZ(z);
const { muQ, idx } = core.hyperSynthesis(zhat, g.hz, g.wz);
const base = { x, width: img.width, height: img.height, h: g.h, w: g.w, ys, gainDec: interpolateGain(weights.tensors.get('gain.dec').data, 8, M, q), lambda: weights.manifest.quality.lambdas[q - 1] };
const jm = { ...model, scales: weights.manifest.entropy.scales };
const prepared = t.prepared;
const sc = weights.manifest.entropy.scales;
const yin = { ...base, mu: Float32Array.from(muQ, (v) => v / 16), sigma: Float32Array.from(idx, (i) => sc[i]) };
const { setFusedRefine } = await import(A + 'model/refine-ops.js');
// A/B in one process: the element-wise chains as tfjs ops (fused off) or as WGSL programs (on),
// alternating, 3 rounds; the first 4-step runs warm the pipelines up
const times = { off: { y: [], j: [] }, on: { y: [], j: [] } };
for (const mode of ['off', 'on']) {
  setFusedRefine(mode === 'on');
  await refineLatent(prepared, { ...yin, iterations: 4 }, { tile: 64 });
  await refineJoint(prepared, jm, { ...base, z, iterations: 4 }, { tile: 64 });
}
for (let round = 0; round < 3; round++) {
  for (const mode of ['off', 'on']) {
    setFusedRefine(mode === 'on');
    const n = 40;
    let t0 = performance.now(); const ry = await refineLatent(prepared, { ...yin, iterations: n }, { tile: 64 }); const ty = performance.now() - t0;
    t0 = performance.now(); const rj = await refineJoint(prepared, jm, { ...base, z, iterations: n }, { tile: 64 }); const tj = performance.now() - t0;
    times[mode].y.push(ty); times[mode].j.push(tj);
    console.log(`fused ${mode}, ${n} steps: y ${ty.toFixed(0)} ms (J ${ry.jBefore.toFixed(4)} -> ${ry.jAfter.toFixed(4)}), joint ${tj.toFixed(0)} ms (J ${rj.jBefore.toFixed(4)} -> ${rj.jAfter.toFixed(4)})`);
  }
}
const med = (a) => [...a].sort((p, q) => p - q)[Math.floor(a.length / 2)];
console.log(`MEDIAN 40 steps: y off ${med(times.off.y).toFixed(0)} on ${med(times.on.y).toFixed(0)} ms (x${(med(times.off.y) / med(times.on.y)).toFixed(2)}); joint off ${med(times.off.j).toFixed(0)} on ${med(times.on.j).toFixed(0)} ms (x${(med(times.off.j) / med(times.on.j)).toFixed(2)})`);
setFusedRefine(true);
// dispatch time per kernel name during a joint run
const eng = tf.engine(); const orig = eng.runKernel.bind(eng); const acc = new Map();
eng.runKernel = (name, ...a) => { const s = performance.now(); const r = orig(name, ...a); const e = performance.now() - s; const o = acc.get(name) ?? [0, 0]; o[0] += e; o[1]++; acc.set(name, o); return r; };
let t0 = performance.now(); await refineJoint(prepared, jm, { ...base, z, iterations: 20 }, { tile: 64 }); console.log('joint 20 wrapped', (performance.now() - t0).toFixed(0));
eng.runKernel = orig;
console.log([...acc].sort((a, b) => b[1][0] - a[1][0]).slice(0, 25).map(([k, [ms, n]]) => `${k} ${ms.toFixed(1)}ms x${n}`).join('\n'));
const prof = await tf.profile(async () => { await refineJoint(prepared, jm, { ...base, z, iterations: 4 }, { tile: 64 }); });
const km = new Map(); for (const k of prof.kernels) { const v = typeof k.kernelTimeMs === 'number' ? k.kernelTimeMs : 0; km.set(k.name, (km.get(k.name) ?? 0) + v); }
console.log('GPU kernel ms (4 steps):', [...km].sort((a, b) => b[1] - a[1]).slice(0, 15).map(([k, v]) => `${k} ${v.toFixed(1)}`).join(', '));
t.dispose();
