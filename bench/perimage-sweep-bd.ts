/**
 * BD-rates of the PyTorch reference's sweep rows (train/perimage/sweep.py: one row per image,
 * recipe tag and lambda) against the web codecs on the same training photos, so that recipes
 * are chosen on training data (never Kodak) by the measure the issue sets: bits at equal PSNR
 * against AVIF 4:4:4.
 *
 *   npx tsx bench/perimage-sweep-bd.ts [--rows bench/results/perimage-gpu/sweep.jsonl]
 *       [--peers bench/results/perimage-gpu/calib-peers.json] [--jobs bench/results/perimage-calib]
 *
 * --jobs DIR: also the TypeScript encoder's rows of training photos there (bench/perimage-gpu.ts
 * `jobs`, named calib-PHOTO-lLAMBDA-sSTEPS-RECIPE[-ARCH][-bBIAS][-sdSEED][-stSTARTS][-soapNETS[-lrSOAPLR]]: the calibration encodes with the
 * default decoder, and the architecture studies of bench/perimage-queue.ts --arch-study), one
 * group per photo and tag `ts-RECIPE-ARCH`; PSNR is the encoder's psnrQuantized (the float
 * synthesis of the quantized model), the same measure for every architecture.
 *
 * --peers: a `*-rd-per-image.json` written by `npm run bench -- --images DIR --codecs
 * avif444,avif,webp --rd-only` over PNG copies of the photos (`100075.jpg` → `100075.png`).
 * Prints one line per (image, tag): steps, recipe, the number of rates, mean bpp / PSNR and
 * BD-rate (PSNR, pchip: the sweep's 6 points span a wide range) against each peer; with fewer
 * than 4 rates (a sweep cut short) no BD-rate, only the points.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { bdRate, type RdPoint } from './bdrate.ts';
import { opt } from './args.js';

interface SweepRow { tag: string; image: string; lam: number; steps: number; recipe: string; bpp: number; psnr: number; arch?: string; lr?: number; lr_latent?: number }
type PeerFile = Record<string, { images: Record<string, RdPoint[]> }>;

const rows = readFileSync(opt('rows', 'bench/results/perimage-gpu/sweep.jsonl'), 'utf8')
  .split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as SweepRow & { kind?: string })
  // the exact rows (quantized parameters, integer ARM bits); sweep.py's 'float' rows come first
  .filter((r) => r.kind !== 'float');
/** a TypeScript encoder row of a training photo as a sweep row; null for other rows */
function jobAsSweepRow(r: { name: string; image: string; lambda: number; steps: number; bpp: number; psnrQuantized: number; arch?: string }): SweepRow | null {
  // the name's tail after the recipe: the study decoder, init and seed (`wide`, `b0.1`, `wide-b0.1`, `sd2`, `st4`)
  const m = /^calib-.+-s\d+-(r\d+)(?:-([a-z0-9.-]+))?$/.exec(r.name);
  if (!m) return null;
  const variant = m[2] ?? r.arch ?? 'default';
  const arch = variant.replace(/(^|-)(b[\d.]+|sd\d+|st\d+|soap[a-z]+|lr[\d.]+)(?=-|$)/g, '') || 'default';
  return { tag: `ts-${m[1]}-${variant}`, image: r.image, lam: r.lambda, steps: r.steps, recipe: m[1], bpp: r.bpp, psnr: r.psnrQuantized, arch };
}
const jobsDir = opt('jobs');
if (jobsDir && existsSync(jobsDir)) {
  for (const n of readdirSync(jobsDir).filter((f) => f.endsWith('.json')).sort()) {
    const row = jobAsSweepRow(JSON.parse(readFileSync(path.join(jobsDir, n), 'utf8')));
    if (row) rows.push(row);
  }
}
const peers = JSON.parse(readFileSync(opt('peers', 'bench/results/perimage-gpu/calib-peers.json'), 'utf8')) as PeerFile;
const PEERS = ['avif444', 'avif', 'webp'].filter((p) => peers[p]);

const groups = new Map<string, SweepRow[]>();
for (const r of rows) {
  const key = `${r.image}\t${r.tag}`;
  groups.set(key, [...(groups.get(key) ?? []), r]);
}
const pct = (v: number) => (Number.isFinite(v) ? `${v >= 0 ? '+' : ''}${(100 * v).toFixed(1)}%` : 'n/a');
for (const [key, g] of [...groups].sort()) {
  const [image, tag] = key.split('\t');
  const png = image.replace(/\.[a-z]+$/i, '.png');
  const pts = g.map((r) => ({ bpp: r.bpp, psnr: r.psnr })).sort((a, b) => a.bpp - b.bpp);
  const bd = pts.length < 4 ? [`n/a (${pts.length} rates: ${pts.map((p) => `${p.bpp.toFixed(3)}/${p.psnr.toFixed(2)}`).join(', ')})`] : PEERS.map((p) => {
    const ref = peers[p].images[png];
    return `${p} ${ref ? pct(bdRate(ref, pts, { method: 'pchip' })) : 'no curve'}`;
  });
  const m = (f: (r: SweepRow) => number) => g.reduce((s, r) => s + f(r), 0) / g.length;
  console.log(`${image} ${tag.padEnd(12)} steps ${g[0].steps} ${g[0].recipe} arch ${g[0].arch ?? '?'} lr ${g[0].lr}/${g[0].lr_latent} rates ${g.length}: ` +
    `${m((r) => r.bpp).toFixed(3)} bpp ${m((r) => r.psnr).toFixed(2)} dB | BD-rate ${bd.join(', ')}`);
}
