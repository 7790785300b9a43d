/**
 * Encode a PNG or JPEG to .nimg and decode it back, through nimg's public Node API.
 *
 *   npm run example                          # the bundled sample photo, quality 5
 *   npx tsx examples/node/roundtrip.ts photo.jpg 3
 *
 * Writes .out/example.nimg and .out/example.png and prints size, bpp, PSNR and timings.
 * CI runs it (.ci/run), so it stays in step with the API. In your own project the import
 * is `from 'nimg/node'` (or `from 'nimg'` for the platform-neutral part); here it points at
 * the sources so that it runs from a clone without building the package.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { decodeImageFile, decodeWithStats, dispose, encodePng, encodeWithStats, init, isNimgError, probe } from '../../src/node/index.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const input = process.argv[2] ?? path.join(here, '..', '..', 'src', 'node', 'sample.png');
const quality = Number(process.argv[3] ?? 5);
const outDir = path.join(here, '..', '..', '.out');

/** PSNR in dB over the RGB channels of two RGBA images of the same size. */
function psnr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let se = 0;
  let n = 0;
  for (let i = 0; i < a.length; i += 4) {
    for (let c = 0; c < 3; c++) {
      const d = a[i + c] - b[i + c];
      se += d * d;
      n++;
    }
  }
  return se === 0 ? Infinity : 10 * Math.log10((255 * 255 * n) / se);
}

async function run(): Promise<void> {
  // init() is optional in Node (encode/decode call it); calling it first keeps model loading
  // out of the encode timing and tells which backend was chosen
  const backend = await init();
  const image = await decodeImageFile(new Uint8Array(await readFile(input)));
  const { bytes, stats: enc } = await encodeWithStats(image, { quality });
  const info = probe(bytes);
  const { image: back, stats: dec } = await decodeWithStats(bytes);
  if (back.width !== image.width || back.height !== image.height) throw new Error('decoded size differs from the input');
  await mkdir(outDir, { recursive: true });
  await writeFile(path.join(outDir, 'example.nimg'), bytes);
  await writeFile(path.join(outDir, 'example.png'), encodePng(back));
  console.log(
    `${path.basename(input)} ${image.width}x${image.height} → ${bytes.length} bytes (${info.bpp.toFixed(3)} bpp, quality ${info.quality}), ` +
      `PSNR ${psnr(image.data, back.data).toFixed(2)} dB; backend ${backend}, encode ${enc.totalMs.toFixed(0)} ms, decode ${dec.totalMs.toFixed(0)} ms; ` +
      `wrote ${path.relative(process.cwd(), outDir)}/example.{nimg,png}`,
  );
}

run()
  .catch((e) => {
    // every error nimg throws is a NimgError with a stable code
    console.error(isNimgError(e) ? `NimgError [${e.code}]: ${e.message}` : e);
    process.exitCode = 1;
  })
  .finally(() => dispose());
