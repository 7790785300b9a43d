/**
 * Browser demo (web/index.html), bundled and served by `npm run web` (src/node/web.ts).
 * Assets it fetches: /nimg-core.wasm, /weights/nimg-v1.json + .bin, /tfjs/ (tfjs WASM files).
 */
import { init, encodeWithStats, decodeWithStats, probe, isNimgError, type BackendChoice, type DecodedImage } from '../src/index.js';

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const status = $<HTMLPreElement>('status');
const runBtn = $<HTMLButtonElement>('run');
const quality = $<HTMLInputElement>('quality');
const refine = $<HTMLSelectElement>('refine');
const backendSel = $<HTMLSelectElement>('backend');
const download = $<HTMLAnchorElement>('download');
let source: ImageData | null = null;
let ready: Promise<unknown> | null = null;

const echo = new URLSearchParams(location.search).has('echo');
function say(text: string, error = false) {
  status.textContent = text;
  status.className = error ? 'err' : '';
  // ?echo: mirror the status to the dev server's console (npm run web), for headless smoke tests
  if (echo) void fetch('./log', { method: 'POST', body: (error ? 'ERROR ' : '') + text }).catch(() => {});
}

function show(canvas: HTMLCanvasElement, img: { width: number; height: number; data: Uint8ClampedArray }) {
  canvas.width = img.width;
  canvas.height = img.height;
  canvas.getContext('2d')!.putImageData(new ImageData(new Uint8ClampedArray(img.data), img.width, img.height), 0, 0);
}

function psnr(a: Uint8ClampedArray, b: Uint8ClampedArray): number {
  let se = 0;
  for (let i = 0; i < a.length; i += 4) for (let c = 0; c < 3; c++) se += (a[i + c] - b[i + c]) ** 2;
  return 10 * Math.log10((255 * 255 * 3 * (a.length / 4)) / se);
}

async function start(backend: BackendChoice) {
  const t0 = performance.now();
  const [wasm, manifest, bin] = await Promise.all([
    WebAssembly.compileStreaming(fetch('./nimg-core.wasm')),
    fetch('./weights/nimg-v1.json').then((r) => r.text()),
    fetch('./weights/nimg-v1.bin').then((r) => r.arrayBuffer()),
  ]);
  const used = await init({ wasm, weights: { manifest, bin: new Uint8Array(bin) }, backend, wasmPaths: new URL('./tfjs/', location.href).href });
  say(`ready: backend ${used}, loaded in ${(performance.now() - t0).toFixed(0)} ms`);
  return used;
}

async function fileToImageData(f: File): Promise<ImageData> {
  const bmp = await createImageBitmap(f);
  const c = new OffscreenCanvas(bmp.width, bmp.height);
  const ctx = c.getContext('2d')!;
  ctx.drawImage(bmp, 0, 0);
  return ctx.getImageData(0, 0, bmp.width, bmp.height);
}

function report(e: unknown) {
  say(isNimgError(e) ? `NimgError [${e.code}]: ${e.message}` : String(e), true);
}

$<HTMLInputElement>('file').addEventListener('change', async (ev) => {
  const f = (ev.target as HTMLInputElement).files?.[0];
  if (!f) return;
  try {
    await ready;
    if (f.name.endsWith('.nimg')) {
      const bytes = new Uint8Array(await f.arrayBuffer());
      const info = probe(bytes);
      const { image, stats } = await decodeWithStats(bytes);
      show($('dec'), image);
      say(`${f.name}: ${info.width}x${info.height}, quality ${info.quality}, ${info.bytes.total} bytes, ${info.bpp.toFixed(3)} bpp\n` +
        `decode ${stats.totalMs.toFixed(0)} ms (transform ${stats.transformMs.toFixed(0)}, entropy ${stats.entropyMs.toFixed(0)}) on ${stats.backend}`);
      source = null;
      runBtn.disabled = true;
      return;
    }
    source = await fileToImageData(f);
    show($('orig'), source);
    runBtn.disabled = false;
    await run();
  } catch (e) {
    report(e);
  }
});

async function run() {
  if (!source) return;
  runBtn.disabled = true;
  try {
    const q = Number(quality.value);
    const img = { width: source.width, height: source.height, data: source.data };
    const r = Number(refine.value);
    if (r > 0) say(`refining the latent (${r} steps)…`);
    const enc = await encodeWithStats(img, { quality: q, refine: r });
    const dec = await decodeWithStats(enc.bytes);
    const out: DecodedImage = dec.image;
    show($('dec'), out);
    $('deccap').textContent = `decoded: q${q}, ${enc.bytes.length} bytes, ${enc.stats.bpp.toFixed(3)} bpp, PSNR ${psnr(source.data, out.data).toFixed(2)} dB`;
    if (download.href) URL.revokeObjectURL(download.href);
    download.href = URL.createObjectURL(new Blob([enc.bytes], { type: 'image/x-nimg' }));
    download.hidden = false;
    say(`encode ${enc.stats.totalMs.toFixed(0)} ms (transforms ${enc.stats.transformMs.toFixed(0)}, entropy ${enc.stats.entropyMs.toFixed(0)}` +
      `${enc.stats.refineMs ? `, refine ${enc.stats.refineMs.toFixed(0)}` : ''}), ` +
      `decode ${dec.stats.totalMs.toFixed(0)} ms (transform ${dec.stats.transformMs.toFixed(0)}, entropy ${dec.stats.entropyMs.toFixed(0)}), backend ${dec.stats.backend}`);
  } catch (e) {
    report(e);
  } finally {
    runBtn.disabled = !source;
  }
}

quality.addEventListener('input', () => ($('qout').textContent = quality.value));
quality.addEventListener('change', () => void run());
refine.addEventListener('change', () => void run());
runBtn.addEventListener('click', () => void run());
backendSel.addEventListener('change', () => {
  ready = init({ backend: backendSel.value as BackendChoice }).then((b) => say(`backend ${b}`), report);
});
ready = start('auto').catch(report);

// ?sample: encode + decode the bundled sample photograph right away (also a smoke test)
if (new URLSearchParams(location.search).has('sample')) {
  void (async () => {
    try {
      await ready;
      source = await fileToImageData(new File([await (await fetch('./sample.png')).blob()], 'sample.png'));
      show($('orig'), source);
      await run();
    } catch (e) {
      report(e);
    }
  })();
}
