/**
 * Rate-distortion of the `refine` encode option (encoder-side latent refinement) on Kodak,
 * with the real codec: bytes of the file, decoded 8-bit pixels.
 *
 *   run:    npx tsx bench/refine-rd.ts run [--images DIR] [--refine 0,100] [--levels 1,...,8]
 *                                          [--shard K/N] [--out FILE.jsonl] [--backend auto] [--only a.png,b.png]
 *           one JSON line per (image, level, refine) appended to FILE (default
 *           bench/results/refine-raw.jsonl); --shard K/N takes images K, K+N, ... so several
 *           processes can share a GPU.
 *   report: npx tsx bench/refine-rd.ts report FILE.jsonl[:TAG] [...]
 *           → bench/results/kodak-rd-refine.json + kodak-rd-refine.svg: curves per refine
 *           value, BD-rates against refine 0, against the peers' curves of
 *           bench/results/kodak-rd.json (deterministic codecs, measured on the same 24
 *           images by `npm run bench`) and against the published curves of
 *           ../shared/anchors/kodak_anchors.json. A TAG names the encoder version of a file's refined
 *           rows (curve `refine150-TAG`), so runs of different refinement methods can sit in
 *           one report; refine 0 rows are the plain encoder whatever the tag.
 *
 * Refinement costs about three decodes of g_s work per step, so a full run is for a GPU
 * (bench/gpu/device-run.sh with BENCH=refine-rd); on a CPU, try --images with a few files.
 */
import { appendFileSync, existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import '../src/node/defaults.js'; // init() reads the packaged core and weights
import { NimgCodec } from '../src/codec.js';
import { decodeImageFile } from '../src/image/index.js';
import type { BackendChoice } from '../src/model/types.js';
import { msssimPrepare, msssimWith, psnrRgb } from './metrics.js';
import type { RdPoint } from './bdrate.js';
import { refineSvg, summarizeRefine, type RefineRow } from './refine-report.js';
import { loadAnchors } from './anchors.js';
import { opt } from './args.js';

const ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const argv = process.argv.slice(2);
const mode = argv[0];

async function run(): Promise<void> {
  const dir = path.resolve(opt('images', process.env.NIMG_KODAK ?? path.join(ROOT, '..', 'shared', 'data', 'kodak')));
  const refines = opt('refine', '0,100').split(',').map(Number);
  const levels = opt('levels', '1,2,3,4,5,6,7,8').split(',').map(Number);
  const [k, n] = opt('shard', '0/1').split('/').map(Number);
  const out = path.resolve(opt('out', path.join(ROOT, 'bench', 'results', 'refine-raw.jsonl')));
  const only = opt('only', '');
  const files = readdirSync(dir).filter((f) => f.endsWith('.png') && (!only || only.split(',').includes(f))).sort().filter((_, i) => i % n === k);
  const codec = await NimgCodec.create({ backend: opt('backend', 'auto') as BackendChoice });
  for (const f of files) {
    const img = await decodeImageFile(new Uint8Array(readFileSync(path.join(dir, f))));
    const ref = msssimPrepare(img.data, img.width, img.height);
    for (const q of levels) {
      for (const r of refines) {
        const stats: Record<string, number | string> = {};
        const t0 = performance.now();
        const bytes = await codec.encode(img, { quality: q, refine: r, stats });
        const encodeMs = performance.now() - t0;
        const dec = await codec.decode(bytes);
        const row: RefineRow = {
          image: f, q, refine: r,
          bpp: (bytes.length * 8) / (img.width * img.height),
          psnr: psnrRgb(img.data, dec.data, img.width, img.height),
          ms_ssim: msssimWith(ref, dec.data),
          encode_ms: Math.round(encodeMs),
          refine_ms: Math.round(Number(stats.refineMs ?? 0)),
          backend: String(stats.backend),
        };
        appendFileSync(out, JSON.stringify(row) + '\n');
        console.log(JSON.stringify(row));
      }
    }
  }
}

function report(specs: string[]): void {
  const sources = specs.map((spec) => {
    const [f, tag] = spec.split(':');
    return { text: readFileSync(f, 'utf8'), tag };
  });
  const rdPath = path.join(ROOT, 'bench', 'results', 'kodak-rd.json');
  const peers = existsSync(rdPath) ? (JSON.parse(readFileSync(rdPath, 'utf8')).curves as Record<string, RdPoint[]>) : {};
  const anchors = loadAnchors(path.resolve(ROOT, '..', 'shared', 'anchors', 'kodak_anchors.json'));
  const s = summarizeRefine(sources, peers, anchors);
  writeFileSync(path.join(ROOT, 'bench', 'results', 'kodak-rd-refine.json'), JSON.stringify(s, null, 1) + '\n');
  writeFileSync(path.join(ROOT, 'bench', 'results', 'kodak-rd-refine.svg'), refineSvg(s, peers, anchors));
  for (const [name, m] of Object.entries(s.bd_rate)) console.log(name, JSON.stringify(m), 'published:', JSON.stringify(s.bd_rate_psnr_vs_published[name]));
}

if (mode === 'run') await run();
else if (mode === 'report') report(argv.slice(1));
else {
  console.error('usage: refine-rd.ts run [...] | report FILE.jsonl ...');
  process.exit(2);
}
