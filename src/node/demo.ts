/**
 * `npm start`: encode and decode a real photograph with nimg and report size, bits per pixel,
 * PSNR, timings and the backend. Default image: src/node/sample.png (a 240x200 crop of
 * scikit-image's "chelsea" photograph, CC0). Usage: npm start [-- IMAGE.png|jpg [Q ...]]
 * The decoded images are written to .out/demo-q<Q>.png.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { decodeWithStats, dispose, encodeWithStats, init } from '../codec.js';
import { decodeImageFile, encodePng } from '../image/index.js';
import { isNimgError } from '../errors.js';
import { PACKAGE_ROOT } from './loader.js';
import './defaults.js';
import { psnrRgba } from '../image/psnr.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));

async function run(): Promise<void> {
  const args = process.argv.slice(2);
  const file = args[0] ?? path.join(HERE, 'sample.png');
  const qualities = args.length > 1 ? args.slice(1).map(Number) : [2, 5, 8];
  const image = await decodeImageFile(new Uint8Array(readFileSync(file)));
  const t0 = performance.now();
  const backend = await init({ backend: (process.env.NIMG_BACKEND as 'auto' | undefined) ?? 'auto' });
  const initMs = performance.now() - t0;
  console.log(`nimg demo: ${path.relative(process.cwd(), file)} (${image.width}x${image.height}), backend ${backend}, init ${initMs.toFixed(0)} ms`);
  const outDir = path.join(PACKAGE_ROOT, '.out');
  mkdirSync(outDir, { recursive: true });
  const rows: string[][] = [['quality', 'bytes', 'bpp', 'PSNR dB', 'encode ms', 'decode ms', 'backend']];
  for (const q of qualities) {
    const enc = await encodeWithStats(image, { quality: q });
    const dec = await decodeWithStats(enc.bytes);
    const psnr = psnrRgba(image.data, dec.image.data);
    writeFileSync(path.join(outDir, `demo-q${q}.png`), encodePng(dec.image));
    rows.push([
      String(q),
      String(enc.bytes.length),
      enc.stats.bpp.toFixed(3),
      psnr.toFixed(2),
      enc.stats.totalMs.toFixed(0),
      dec.stats.totalMs.toFixed(0),
      dec.stats.backend,
    ]);
  }
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
  for (const r of rows) console.log(r.map((s, c) => s.padStart(widths[c])).join('  '));
  console.log(`decoded images: ${path.relative(process.cwd(), outDir)}/demo-q*.png`);
}

run()
  .then(() => dispose())
  .then(
    () => process.exit(0),
    (e) => {
      if (isNimgError(e)) console.error(`NimgError [${e.code}]: ${e.message}`);
      else console.error(e);
      process.exit(1);
    },
  );
