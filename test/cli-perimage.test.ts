/**
 * The CLI's perimage profile (issue 16, point 6): `nimg encode --profile perimage --effort E`
 * (single file and batch), `nimg info` of a v2 file, `nimg decode` of it without any weights
 * on disk, the no-GPU refusal, the usage checks of the new options, and the progress bar's
 * optimisation steps.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT, runCli } from './cli-helpers.js';
import { NimgCodec } from '../src/codec.js';
import { decodePng, encodePng } from '../src/image/index.js';
import { Progress } from '../src/node/cli/progress.js';
import { mayHaveGpu } from '../src/node/cli/gpu-probe.js';
import { sampleCrop } from './refine-helpers.js';

const CORE = path.join(ROOT, 'build', 'nimg-core.wasm');
const W = 32;
const H = 24;
/** 16 of the default 8000 steps */
const EFFORT = String(16 / 8000);

let dir: string;
let png: string;
beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'nimg-cli-pi-'));
  png = path.join(dir, 'tiny.png');
  writeFileSync(png, encodePng({ width: W, height: H, data: await sampleCrop(W, H, 300, 200) }));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe.concurrent('nimg CLI: perimage usage (exit 2)', () => {
  const cases: [string, string[]][] = [
    ['bad profile', ['encode', 'in.png', 'out.nimg', '--profile', 'x']],
    ['effort zero', ['encode', 'in.png', 'out.nimg', '--profile', 'perimage', '--effort', '0']],
    ['effort above 1', ['encode', 'in.png', 'out.nimg', '-p', 'perimage', '-e', '2']],
    ['effort not a number', ['encode', 'in.png', 'out.nimg', '-p', 'perimage', '--effort=lots']],
    ['effort without perimage', ['encode', 'in.png', 'out.nimg', '--effort', '0.5']],
    ['refine with perimage', ['encode', 'in.png', 'out.nimg', '-p', 'perimage', '-r', '5']],
    ['profile on decode', ['decode', 'in.nimg', 'out.png', '--profile', 'perimage']],
    ['profile on info', ['info', 'in.nimg', '--profile', 'amortized']],
  ];
  for (const [name, args] of cases) {
    it(name, async () => {
      const r = await runCli(args);
      expect(r.code, r.stderr).toBe(2);
      expect(r.stderr).toMatch(/^nimg: .+\n\nUsage:\n/);
    }, 30_000);
  }
});

describe.skipIf(!existsSync(CORE))('nimg CLI: perimage files', () => {
  it('encode --profile perimage, info, and decode with no weights on disk', async () => {
    const out = path.join(dir, 'tiny.nimg');
    const e = await runCli(['encode', png, out, '--profile', 'perimage', '--effort', EFFORT, '--backend', 'wasm', '-q', '4', '-v']);
    expect(e.code, e.stderr).toBe(0);
    const bytes = new Uint8Array(readFileSync(out));
    expect(bytes[8]).toBe(2);
    const info = await runCli(['info', out]);
    expect(info.code, info.stderr).toBe(0);
    const j = JSON.parse(info.stdout);
    expect(j).toMatchObject({ version: 2, profile: 'perimage', width: W, height: H, quality: 4, arch: { grids: 7, context: 8, macsPerPixel: 362 } }); // the compact decoder (arch-choice.ts)
    // a v2 file carries its decoder: the weights may be missing altogether
    const decoded = path.join(dir, 'tiny-out.png');
    const d = await runCli(['decode', out, decoded], { NIMG_WEIGHTS: path.join(dir, 'missing.json') });
    expect(d.code, d.stderr).toBe(0);
    const codec = await NimgCodec.create({ wasm: new Uint8Array(readFileSync(CORE)), threads: 1 });
    try {
      const here = await codec.decode(bytes);
      const there = await decodePng(new Uint8Array(readFileSync(decoded)));
      expect(Buffer.compare(Buffer.from(there.data), Buffer.from(here.data))).toBe(0);
    } finally {
      codec.dispose();
    }
  }, 300_000);

  it('batch: encode -o DIR --profile perimage', async () => {
    const outDir = path.join(dir, 'batch');
    const r = await runCli(['encode', png, '-o', outDir, '-p', 'perimage', '-e', EFFORT, '-b', 'wasm', '-j', '1']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/tiny\.png/);
    expect(readFileSync(path.join(outDir, 'tiny.nimg'))[8]).toBe(2);
  }, 300_000);

  it.skipIf(mayHaveGpu())('no GPU: --profile perimage without --backend is refused, naming the estimate and the fast profile', async () => {
    const r = await runCli(['encode', png, path.join(dir, 'refused.nimg'), '--profile', 'perimage']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^NimgError \[BACKEND_UNAVAILABLE\]: .*about \d+(\.\d)? (s|min|h)\b.*'amortized'.*--backend wasm.*\n$/);
    expect(r.stderr).not.toMatch(/vkCreateInstance/);
    expect(existsSync(path.join(dir, 'refused.nimg'))).toBe(false);
  }, 120_000);
});

describe('progress bar: the optimisation steps', () => {
  it('shows `optimize done/total` and counts it as most of the job', () => {
    let t = 0;
    const p = new Progress({ write: () => {}, columns: 200 }, { mode: 'bar', total: 2, verb: 'encode', verbose: false, prefixInput: true, now: () => t, tick: false });
    const job = { index: 0, input: 'in/a.png', output: 'in/a.nimg' };
    p.start(job);
    t = 10_000;
    p.update(job, { stage: 'optimize', done: 4000, total: 8000 });
    expect(p.status()).toMatch(/ 0\/2 · 0:10, ETA 0:3\d · a\.png optimize 4000\/8000$/);
    p.end();
  });
});
