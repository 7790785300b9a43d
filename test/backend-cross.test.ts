/**
 * Cross-backend interchange (issue "GPU first, CPU always"): a file encoded on WebGPU decodes
 * on WASM and the other way round, with the same latent symbols and the same quality.
 *
 * For each case (small Kodak crop x quality):
 *   encode on WebGPU → decode on WebGPU and on WASM
 *   encode on WASM   → decode on WASM and on WebGPU
 * and assert
 *   (a) the latent symbols the decoder reconstructs — zhat (decodeZ) and the integer y
 *       symbols k (decodeY) — are identical whichever backend decodes, and equal to what the
 *       encoder coded (entropy coding is lossless);
 *   (b) PSNR vs the original of the cross-backend decode is within 0.05 dB of the
 *       same-backend decode;
 *   (c) the bytes made on each backend decode without error on the other.
 *
 * Test hook: the codec accepts any `Core` (InitOptions.core, "for tests and custom
 * builds"). `recordingCore` below wraps the real WASM core, exposes only the unfused `Core`
 * methods (no encodeLatent/decodeLatent, so the codec takes its reference path:
 * hyperSynthesis → quantizeLatent/encodeY, decodeY → dequantizeLatent) and records zhat and
 * k on the way. A WASM-only check asserts this path gives the same bytes and pixels as the
 * default (fused) core, so the symbols recorded are the ones the default codec codes.
 *
 * Runs when a WebGPU adapter exists (hardware, or SwiftShader in CI:
 * `apt-get install -y --no-install-recommends chromium libvulkan1` and
 * `VK_ICD_FILENAMES=/usr/lib/chromium/vk_swiftshader_icd.json`); skipped otherwise. Tiny
 * images only (SwiftShader ~0.2 GFLOP/s): 64x64 and 60x44 (padded to 64x64) and 96x64
 * (padded 128x64). Kodak crops from ../shared/data/kodak, else crops of src/node/sample.png.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { probeWebGpuAdapter } from '../src/backend/index.js';
import { NimgCodec, type DecodedImage } from '../src/codec.js';
import { createCore } from '../src/core/index.js';
import type { Core } from '../src/core/types.js';
import { parseContainer } from '../src/format/container.js';
import { decodePng, type RgbaImage } from '../src/image/png.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const KODAK = path.resolve(ROOT, '..', 'shared', 'data', 'kodak');

const adapter = await probeWebGpuAdapter();
if (!adapter.found) {
  console.warn(
    `[backend-cross] SKIPPED: no WebGPU adapter (${adapter.description}). ` +
      'To run: apt-get install -y --no-install-recommends chromium libvulkan1; export VK_ICD_FILENAMES=/usr/lib/chromium/vk_swiftshader_icd.json',
  );
}

/** Symbols seen by the recording core, per call. */
interface Record_ {
  encZ: Int32Array[]; // zhat passed to encodeZ
  encK: Int32Array[]; // k from quantizeLatent (what encodeY codes)
  decZ: Int32Array[]; // zhat from decodeZ
  decK: Int32Array[]; // k from decodeY
}

/** Test hook: the real core, unfused, recording the latent symbols (see the header). */
function recordingCore(inner: Core): { core: Core; take(): Record_ } {
  let rec: Record_ = { encZ: [], encK: [], decZ: [], decK: [] };
  const core: Core = {
    setModel: (m) => inner.setModel(m),
    toPlanar: (...a) => inner.toPlanar(...a),
    toRgba: (...a) => inner.toRgba(...a),
    hyperSynthesis: (...a) => inner.hyperSynthesis(...a),
    quantizeZ: (z) => inner.quantizeZ(z),
    quantizeLatent: (ys, muQ) => {
      const k = inner.quantizeLatent(ys, muQ);
      rec.encK.push(k.slice());
      return k;
    },
    dequantizeLatent: (...a) => inner.dequantizeLatent(...a),
    encodeZ: (zhat, hw) => {
      rec.encZ.push(zhat.slice());
      return inner.encodeZ(zhat, hw);
    },
    decodeZ: (bytes, hw) => {
      const z = inner.decodeZ(bytes, hw);
      rec.decZ.push(z.slice());
      return z;
    },
    encodeY: (k, idx) => inner.encodeY(k, idx),
    decodeY: (bytes, idx) => {
      const k = inner.decodeY(bytes, idx);
      rec.decK.push(k.slice());
      return k;
    },
  };
  return {
    core,
    take() {
      const r = rec;
      rec = { encZ: [], encK: [], decZ: [], decK: [] };
      return r;
    },
  };
}

function psnr(a: Uint8Array | Uint8ClampedArray, b: Uint8Array | Uint8ClampedArray, n: number): number {
  let s = 0;
  for (let i = 0; i < n; i++) {
    for (let c = 0; c < 3; c++) {
      const d = a[4 * i + c] - b[4 * i + c];
      s += d * d;
    }
  }
  return s === 0 ? Infinity : 10 * Math.log10((255 * 255 * 3 * n) / s);
}

function crop(img: RgbaImage, x0: number, y0: number, w: number, h: number): RgbaImage {
  const data = new Uint8ClampedArray(w * h * 4);
  for (let y = 0; y < h; y++) data.set(img.data.subarray(((y0 + y) * img.width + x0) * 4, ((y0 + y) * img.width + x0 + w) * 4), y * w * 4);
  return { width: w, height: h, data };
}

const sameInts = (a: Int32Array, b: Int32Array) => a.length === b.length && a.every((v, i) => v === b[i]);
const countDiff = (a: Int32Array, b: Int32Array) => a.reduce((n, v, i) => n + (v !== b[i] ? 1 : 0), 0);

/** (source file, crop x, y, w, h, qualities) — 4 cases, 3 images, qualities 2, 8, 5, 3.7. */
const CASES: { file: string; x: number; y: number; w: number; h: number; q: number[] }[] = existsSync(path.join(KODAK, 'kodim23.png'))
  ? [
      { file: path.join(KODAK, 'kodim01.png'), x: 320, y: 200, w: 64, h: 64, q: [2, 8] },
      { file: path.join(KODAK, 'kodim15.png'), x: 300, y: 150, w: 60, h: 44, q: [5] },
      { file: path.join(KODAK, 'kodim23.png'), x: 280, y: 120, w: 96, h: 64, q: [3.7] },
    ]
  : [
      { file: path.join(ROOT, 'src/node/sample.png'), x: 0, y: 0, w: 64, h: 64, q: [2, 8] },
      { file: path.join(ROOT, 'src/node/sample.png'), x: 100, y: 80, w: 60, h: 44, q: [5] },
      { file: path.join(ROOT, 'src/node/sample.png'), x: 120, y: 120, w: 96, h: 64, q: [3.7] },
    ];

const TOL_DB = 0.05;

describe.skipIf(!adapter.found)(`cross-backend interchange WebGPU <-> WASM (adapter: ${adapter.description})`, () => {
  let codec: NimgCodec; // recording core, unfused
  let fused: NimgCodec; // default core, for the WASM-only equivalence check
  let hook: ReturnType<typeof recordingCore>;

  beforeAll(async () => {
    hook = recordingCore(await createCore());
    codec = await NimgCodec.create({ core: hook.core, backend: 'wasm', threads: 1 });
    await codec.transformsFor('webgpu');
    fused = await NimgCodec.create({ backend: 'wasm', threads: 1 });
  }, 300_000);

  afterAll(() => {
    codec?.dispose();
    fused?.dispose();
  });

  for (const c of CASES) {
    for (const q of c.q) {
      const name = `${path.basename(c.file, '.png')} ${c.w}x${c.h} q${q}`;
      it(`${name}: symbols identical, PSNR within ${TOL_DB} dB, files interchangeable`, async () => {
        const img = crop(await decodePng(readFileSync(c.file)), c.x, c.y, c.w, c.h);
        const n = c.w * c.h;
        const stats: string[] = [];

        // encode on each backend, recording what the encoder coded
        hook.take();
        const bytesGpu = await codec.encode(img, { quality: q, backend: 'webgpu' });
        const encGpu = hook.take();
        const bytesWasm = await codec.encode(img, { quality: q, backend: 'wasm' });
        const encWasm = hook.take();
        for (const e of [encGpu, encWasm]) {
          expect(e.encZ.length).toBe(1);
          expect(e.encK.length).toBe(1);
        }

        const decodeOn = async (bytes: Uint8Array, backend: 'webgpu' | 'wasm'): Promise<{ img: DecodedImage; z: Int32Array; k: Int32Array }> => {
          hook.take();
          const out = await codec.decode(bytes, { backend }); // (c): throws on error
          const r = hook.take();
          expect(r.decZ.length).toBe(1);
          expect(r.decK.length).toBe(1);
          expect(out.width).toBe(c.w);
          expect(out.height).toBe(c.h);
          return { img: out, z: r.decZ[0], k: r.decK[0] };
        };

        for (const [label, bytes, enc, same, cross] of [
          ['webgpu-encoded', bytesGpu, encGpu, 'webgpu', 'wasm'],
          ['wasm-encoded', bytesWasm, encWasm, 'wasm', 'webgpu'],
        ] as const) {
          const a = await decodeOn(bytes, same);
          const b = await decodeOn(bytes, cross);
          // (a) symbols: identical across decoding backends and equal to the encoder's
          expect(sameInts(a.z, b.z), `${label}: zhat differs between ${same} and ${cross} decode`).toBe(true);
          expect(sameInts(a.k, b.k), `${label}: k differs between ${same} and ${cross} decode`).toBe(true);
          expect(sameInts(a.z, enc.encZ[0]), `${label}: decoded zhat != encoded zhat`).toBe(true);
          expect(sameInts(a.k, enc.encK[0]), `${label}: decoded k != encoded k`).toBe(true);
          // (b) pixels
          const pSame = psnr(a.img.data, img.data, n);
          const pCross = psnr(b.img.data, img.data, n);
          stats.push(`${label} (${bytes.length} B): PSNR ${same} ${pSame.toFixed(3)} dB, ${cross} ${pCross.toFixed(3)} dB`);
          expect(Math.abs(pCross - pSame), `${label}: ${cross} decode PSNR ${pCross} vs ${same} ${pSame}`).toBeLessThanOrEqual(TOL_DB);
        }

        // informational: how far the two encoders are apart (float rounding may flip symbols)
        stats.push(
          `encoders: bytes ${bytesGpu.length === bytesWasm.length && bytesGpu.every((v, i) => v === bytesWasm[i]) ? 'identical' : 'differ'}, ` +
            `zhat diff ${countDiff(encGpu.encZ[0], encWasm.encZ[0])}/${encGpu.encZ[0].length}, k diff ${countDiff(encGpu.encK[0], encWasm.encK[0])}/${encGpu.encK[0].length}`,
        );

        // the recorded (unfused) path is the default codec's: same bytes and pixels on WASM
        const bytesFused = await fused.encode(img, { quality: q, backend: 'wasm' });
        expect(Buffer.from(bytesFused).equals(Buffer.from(bytesWasm)), 'fused and unfused core encode differently').toBe(true);
        const pixFused = await fused.decode(bytesGpu, { backend: 'wasm' });
        const pixUnfused = await codec.decode(bytesGpu, { backend: 'wasm' });
        expect(Buffer.from(pixFused.data).equals(Buffer.from(pixUnfused.data)), 'fused and unfused core decode differently').toBe(true);
        // container sanity: the streams the symbols came from
        const parsed = parseContainer(bytesGpu);
        expect(parsed.header.width).toBe(c.w);
        console.log(`[backend-cross] ${name}: ${stats.join('; ')}`);
      }, 300_000);
    }
  }
});
