/**
 * Golden vectors of the trained model (train/export.py --golden test/fixtures/golden): the
 * WASM core must reproduce PyTorch/NumPy's integer path exactly: zhat = round(z),
 * (mu_q, idx) = h_s(zhat), and the entropy coder must round-trip zhat and k.
 * Skipped while weights/nimg-v1.{json,bin} or the golden file are not there.
 */
import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { coreModelFromWeights } from '../src/core/model.js';
import { createNodeCore } from '../src/core/node-loader.js';
import { hyperSynthesisRef } from '../src/core/reference.js';
import { parseWeights } from '../src/model/weights.js';

const MANIFEST = new URL('../weights/nimg-v1.json', import.meta.url);
const BIN = new URL('../weights/nimg-v1.bin', import.meta.url);
const GOLDEN = new URL('./fixtures/golden/golden.json', import.meta.url);
const have = existsSync(MANIFEST) && existsSync(BIN) && existsSync(GOLDEN) && readFileSync(BIN).length > 1024; // not an LFS pointer

interface Golden {
  z: number[];
  zhat: number[];
  zhat_shape: number[];
  mu_q: number[];
  idx: number[];
  k: number[];
}

describe.skipIf(!have)('golden vectors of the trained model', () => {
  it('quantizeZ, h_s and the coder reproduce export.py exactly', async () => {
    const w = await parseWeights(readFileSync(MANIFEST, 'utf8'), new Uint8Array(readFileSync(BIN)));
    const model = coreModelFromWeights(w);
    const g = JSON.parse(readFileSync(GOLDEN, 'utf8')) as Golden;
    const core = await createNodeCore();
    core.setModel(model);
    const [Nz, hz, wz] = g.zhat_shape;
    expect(Nz).toBe(model.Nz);
    const zhat = Int32Array.from(g.zhat);
    expect(core.quantizeZ(Float32Array.from(g.z))).toEqual(zhat);
    const { muQ, idx } = core.hyperSynthesis(zhat, hz, wz);
    expect(muQ).toEqual(Int32Array.from(g.mu_q));
    expect(idx).toEqual(Int32Array.from(g.idx));
    const ref = hyperSynthesisRef(model, zhat, hz, wz);
    expect(ref.muQ).toEqual(muQ);
    const k = Int32Array.from(g.k);
    expect(core.decodeY(core.encodeY(k, idx), idx)).toEqual(k);
    expect(core.decodeZ(core.encodeZ(zhat, hz * wz), hz * wz)).toEqual(zhat);
  });
});
