/**
 * CPU decode cost of candidate decoder architectures, side by side in one process: the same
 * Kodak images written as stand-in files of each architecture (bench/perimage-standin.ts: the
 * decode work of a real file of that size and decoder, not an encode), decoded interleaved and
 * rotated so the shared machine's load falls on all of them alike. What it answers: what a
 * larger context model or synthesis would cost the CPU decode before the encoder adopts it
 * (issue 16 keeps the decode within 3x AVIF 4:2:0, bench/perimage-cpu-speed.ts).
 *
 *   npx tsx bench/perimage-arch-decode.ts [--arches default,arm24,wide] [--images 4] [--runs 7]
 *       [--kodak ../shared/data/kodak] [--out .out/perimage-arch-decode.json]
 *
 * Per architecture: the median over images of each image's median decode, and its split
 * (entropy + context model, upsampling + synthesis) from decodePerImageFile's stats; ratios
 * against the first architecture named.
 */
import { readFileSync, readdirSync, writeFileSync, mkdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { decodePng } from '../src/image/png.js';
import { createPerImageCore, macsOf } from '../src/profiles/perimage/core.js';
import { decodePerImageFile } from '../src/profiles/perimage/decode-file.js';
import { opt } from './args.js';
import { standInArch, standInFile } from './perimage-standin.js';
import { median } from './stats.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const r2 = (x: number) => Math.round(x * 100) / 100;

async function main(): Promise<void> {
  const arches = opt('arches', 'default,arm24,wide')!.split(',');
  for (const a of arches) standInArch(a); // unknown names fail before any decode
  const runs = Number(opt('runs', '7'));
  const kodak = path.resolve(ROOT, opt('kodak', path.join('..', 'shared', 'data', 'kodak'))!);
  const names = readdirSync(kodak).filter((f) => /^kodim\d\d\.png$/.test(f)).sort().slice(0, Number(opt('images', '4')));
  const core = await createPerImageCore(await WebAssembly.compile(readFileSync(path.join(ROOT, 'build', 'nimg-core.wasm'))));
  const files: { image: string; arch: string; file: Uint8Array; bpp: number }[] = [];
  for (const n of names) {
    const png = await decodePng(readFileSync(path.join(kodak, n)));
    for (const a of arches) {
      const file = standInFile(core, png.data, png.width, png.height, -560, 1, a);
      files.push({ image: n.slice(0, 7), arch: a, file, bpp: (file.length * 8) / (png.width * png.height) });
    }
  }
  const times = files.map(() => ({ total: [] as number[], latents: [] as number[], synthesis: [] as number[] }));
  for (const f of files) await decodePerImageFile(core, f.file); // warm-up
  for (let r = 0; r < runs; r++) {
    // rotate the order each run: no architecture always follows the same one
    for (let k = 0; k < files.length; k++) {
      const i = (k + r) % files.length;
      const s = (await decodePerImageFile(core, files[i].file)).stats;
      times[i].total.push(s.totalMs);
      times[i].latents.push(s.latentsMs);
      times[i].synthesis.push(s.synthesisMs);
    }
  }
  const per = arches.map((a) => {
    const idx = files.map((f, i) => (f.arch === a ? i : -1)).filter((i) => i >= 0);
    const med = (k: 'total' | 'latents' | 'synthesis') => r2(median(idx.map((i) => median(times[i][k]))));
    return { arch: a, macs_per_pixel: macsOf(standInArch(a)), decode_ms: med('total'), entropy_arm_ms: med('latents'), upsampling_synthesis_ms: med('synthesis'), bpp_median: r2(median(idx.map((i) => files[i].bpp))) };
  });
  const result = {
    date: new Date().toISOString(),
    command: `npx tsx bench/perimage-arch-decode.ts ${process.argv.slice(2).join(' ')}`.trim(),
    machine: { cores: os.cpus().length, cpu_model: os.cpus()[0]?.model, node: process.version, loadavg: os.loadavg().map(r2) },
    method: `stand-in files (bench/perimage-standin.ts, not encodes) of ${names.length} Kodak images per architecture, decoded with decodePerImageFile (WASM core, 1 thread), ${runs} runs interleaved and rotated after a warm-up; medians per file, then over images`,
    images: names.map((n) => n.slice(0, 7)),
    arches: per.map((p) => ({ ...p, ratio_vs_first: r2(p.decode_ms / per[0].decode_ms) })),
  };
  const out = path.resolve(ROOT, opt('out', path.join('.out', 'perimage-arch-decode.json'))!);
  mkdirSync(path.dirname(out), { recursive: true });
  writeFileSync(out, JSON.stringify(result, null, 1) + '\n');
  console.log(JSON.stringify(result.arches));
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
