/**
 * Dead units of a per-image decoder: for each ReLU 1x1 layer at the start of the synthesis,
 * how many of its channels are never positive anywhere on the image (no output, and no
 * gradient while training: capacity the file pays for and never uses), and how many are
 * positive on fewer than 1% of the pixels. Reads real files; plain float math (a diagnosis,
 * not the decoder's exact arithmetic).
 *   npx tsx bench/perimage-dead-units.ts FILE.nimg...
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { createPerImageCore } from '../src/profiles/perimage/core.js';
import { parsePerImageContainer } from '../src/profiles/perimage/container.js';
import { floatTensor, upsampleRef } from '../src/profiles/perimage/reference.js';

const core = await createPerImageCore();
for (const file of process.argv.slice(2)) {
  const name = path.basename(file, '.nimg');
  const f = parsePerImageContainer(new Uint8Array(readFileSync(file)));
  const p = core.decodeFileParams(f);
  const { width: W, height: H } = f.header;
  const g = core.decodeLatents(p, f.latents, W, H);
  let x = upsampleRef(p, g, W, H);
  const HW = W * H;
  let ti = 2 * (p.arch.D + 1) + 1;
  const out: string[] = [];
  for (const layer of p.arch.synthesis) {
    if (layer.kind !== '1x1' || layer.act !== 'relu') break;
    const Wt = floatTensor(p, ti++), B = floatTensor(p, ti++);
    const cin = x.length, y: Float32Array[] = [];
    let dead = 0, rare = 0;
    for (let o = 0; o < layer.out; o++) {
      const a = new Float32Array(HW); let pos = 0;
      for (let q = 0; q < HW; q++) {
        let s = B[o];
        for (let i = 0; i < cin; i++) s += Wt[o * cin + i] * x[i][q];
        a[q] = s > 0 ? s : 0;
        if (s > 0) pos++;
      }
      if (pos === 0) dead++; else if (pos < HW * 0.01) rare++;
      y.push(a);
    }
    out.push(`${layer.out}: dead ${dead}, <1% ${rare}`);
    x = y;
  }
  console.log(`${name.padEnd(28)} ${out.join(' | ')}`);
}
