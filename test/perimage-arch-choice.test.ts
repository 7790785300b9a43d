/**
 * The encoder's choice of decoder by image size and λ (src/profiles/perimage/encoder/arch-choice.ts):
 * the rule's boundaries, and that 'auto' (the default) makes files that carry the chosen
 * architecture, including when the λ of one batched encode straddle the rule.
 */
import { describe, expect, it } from 'vitest';
import {
  archName, chooseArchName, compactArch, COMPACT_LAMBDA_64K, encodePerImage, encodePerImageMembers,
} from '../src/profiles/perimage/encoder/index.js';
import { archProblems } from '../src/profiles/perimage/encoder/model.js';
import { macsOf } from '../src/profiles/perimage/core.js';
import { defaultArch } from '../src/profiles/perimage/types.js';
import { estimateEncodeSeconds } from '../src/profiles/perimage/encoder/estimate.js';
import { formatSeconds, noGpuError } from '../src/profiles/perimage/encode.js';
import { KODAK_LAMBDAS } from '../bench/perimage-plan.js';


describe('perimage architecture choice', () => {
  it('the compact decoder is a valid SPEC architecture, smaller than the default', () => {
    expect(archProblems(compactArch())).toEqual([]);
    expect(macsOf(compactArch())).toBeLessThan(macsOf(defaultArch()) / 3);
    expect(archName(compactArch())).toBe('compact');
    expect(archName(defaultArch())).toBe('default');
    expect(archName({ ...defaultArch(), Wh: 24 })).toBe('custom');
    expect(archName({ ...compactArch(), synthesis: compactArch().synthesis.map((l, i) => (i === 0 ? { ...l, out: 16 } : l)) })).toBe('custom');
  });

  it('Kodak-sized photos keep the default decoder at every rate of the bench', () => {
    for (const l of KODAK_LAMBDAS) expect(chooseArchName(768 * 512, l)).toBe('default');
  });

  it('small images at low rates get the compact decoder, at high rates the default', () => {
    expect(chooseArchName(256 * 256, 1.2e-2)).toBe('compact');
    expect(chooseArchName(256 * 256, 3.5e-2)).toBe('compact');
    expect(chooseArchName(256 * 256, 4e-3)).toBe('default');
    expect(chooseArchName(256 * 256, 1.5e-3)).toBe('default');
    expect(chooseArchName(481 * 321, 3.5e-2)).toBe('compact');
    expect(chooseArchName(481 * 321, 1.2e-2)).toBe('default');
    expect(chooseArchName(256 * 256, COMPACT_LAMBDA_64K)).toBe('compact');
    expect(chooseArchName(256 * 256, COMPACT_LAMBDA_64K * 0.99)).toBe('default');
    // monotone: more pixels never turn default into compact, a larger λ never compact into default
    const px = [64, 4096, 65536, 150_000, 393_216, 2e6, 24e6];
    const lams = [1e-5, 1.5e-4, 1.5e-3, 4e-3, 1.2e-2, 3.5e-2, 0.1];
    for (let i = 0; i < px.length; i++) {
      for (let j = 0; j < lams.length; j++) {
        const c = chooseArchName(px[i], lams[j]) === 'compact';
        if (c && j + 1 < lams.length) expect(chooseArchName(px[i], lams[j + 1])).toBe('compact');
        if (c && i > 0) expect(chooseArchName(px[i - 1], lams[j])).toBe('compact');
      }
    }
  });

  const W = 24, H = 16;
  const rgba = new Uint8ClampedArray(W * H * 4);
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      const i = 4 * (y * W + x);
      rgba.set([(x * 11) & 255, (y * 16 + x) & 255, ((x ^ y) * 9) & 255, 255], i);
    }
  }
  const img = { width: W, height: H, data: rgba };

  it("'auto' (the default) makes a compact file for a small image; an explicit architecture is kept", async () => {
    const auto = await encodePerImage(img, { quality: 3, steps: 12, backend: 'wasm', seed: 2 });
    expect(auto.params.arch).toEqual(compactArch());
    expect(auto.stats.arch).toBe('compact');
    const def = await encodePerImage(img, { quality: 3, steps: 12, backend: 'wasm', seed: 2, arch: defaultArch() });
    expect(def.params.arch).toEqual(defaultArch());
    expect(def.stats.arch).toBe('default');
  }, 120_000);

  it('a batched encode whose λ straddle the rule trains one run per architecture, results in λ order', async () => {
    // 384 pixels: compact from λ ≈ 2.2e-6 on; 1e-7 keeps the default
    const lambdas = [1e-2, 1e-7, 2e-3];
    const many = await encodePerImageMembers(img, { quality: 3, lambdas, steps: 12, backend: 'wasm', seed: 2 });
    expect(many.map((r) => r.stats.arch)).toEqual(['compact', 'default', 'compact']);
    for (let k = 0; k < lambdas.length; k++) {
      expect(many[k].stats.lambda).toBe(lambdas[k]);
      const one = await encodePerImage(img, { quality: 3, lambda: lambdas[k], steps: 12, backend: 'wasm', seed: 2 });
      expect(many[k].grids).toEqual(one.grids);
      expect(many[k].params.arch).toEqual(one.params.arch);
    }
  }, 240_000);

  it('the no-GPU refusal estimates the CPU time of the decoder the encode would train', () => {
    // 256x256 at quality 1 (λ 2e-2): compact; at quality 8: default (measured 433 vs 688 ms a WASM step)
    const compact = estimateEncodeSeconds(256, 256, 8000, 'wasm', 'compact');
    const def = estimateEncodeSeconds(256, 256, 8000, 'wasm');
    expect(compact).toBeLessThan(0.7 * def);
    expect(estimateEncodeSeconds(256, 256, 8000, 'webgpu', 'compact')).toBe(estimateEncodeSeconds(256, 256, 8000, 'webgpu'));
    expect(noGpuError(256, 256, 8000, 'none', 1).message).toContain(`about ${formatSeconds(compact)}`);
    expect(noGpuError(256, 256, 8000, 'none', 8).message).toContain(`about ${formatSeconds(def)}`);
    expect(noGpuError(256, 256, 8000, 'none').message).toContain(`about ${formatSeconds(def)}`);
  });
});
