/**
 * The CLI's parts in-process (fast): argument parsing of the batch and stdin/stdout forms,
 * the job count, the progress display in its three modes (a fake terminal and clock), and
 * EncodeOptions.onProgress through a refined encode (random weights).
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { UsageError, checkOutputType, parseArgs } from '../src/node/cli/args.js';
import { jobCount } from '../src/node/cli.js';
import { Progress, formatDuration, jobFraction, type ProgressOptions } from '../src/node/cli/progress.js';
import { NimgError } from '../src/errors.js';
import { NimgCodec, type EncodeProgress } from '../src/codec.js';
import { makeRandomWeights } from './fixtures/random-weights.js';
import { ROOT } from './cli-helpers.js';

describe('parseArgs: batch and stdin/stdout forms', () => {
  it('the single-file form keeps IN OUT; "-" is accepted on both sides', () => {
    expect(parseArgs(['encode', 'a.png', 'b.nimg', '-q', '4.5'])).toMatchObject({ command: 'encode', inputs: ['a.png'], output: 'b.nimg', quality: 4.5, force: false });
    expect(parseArgs(['decode', '-', '-'])).toMatchObject({ inputs: ['-'], output: '-' });
    expect(parseArgs(['encode', '--', '-odd.png', 'x.NIMG'])).toMatchObject({ inputs: ['-odd.png'], output: 'x.NIMG' });
  });
  it('-o DIR takes any number of inputs, with --jobs and --force', () => {
    expect(parseArgs(['encode', 'a.png', 'dir', 'c.jpg', '-o', 'out', '-j', '3', '--force'])).toMatchObject({
      inputs: ['a.png', 'dir', 'c.jpg'], outDir: 'out', jobs: 3, force: true,
    });
    expect(parseArgs(['decode', 'x.nimg', '--out-dir=o'])).toMatchObject({ inputs: ['x.nimg'], outDir: 'o' });
    expect((parseArgs(['encode', 'a.png', '-o', 'out']) as { output?: string }).output).toBeUndefined();
  });
  it('usage errors', () => {
    const bad: string[][] = [
      ['encode', 'a.png', 'b.png', 'c.png'], // several inputs need -o
      ['encode', '-o', 'out'], // no input
      ['encode', '-', '-o', 'out'], // stdin only in the single form
      ['encode', 'a.png', '-o', '-'],
      ['encode', 'a.png', 'b.nimg', '--force'],
      ['encode', 'a.png', 'b.nimg', '--jobs', '2'],
      ['encode', 'a.png', '-o', 'o', '--jobs', '0'],
      ['info', 'a.nimg', '-o', 'o'],
      ['decode', 'a.nimg', 'b.jpg'],
      ['decode', 'a.nimg', 'b'],
      ['encode', 'a.png', 'b.png'],
    ];
    for (const a of bad) expect(() => parseArgs(a), a.join(' ')).toThrow(UsageError);
  });
  it('the output type: by extension, case-insensitive, the refusal names what is supported', () => {
    expect(() => checkOutputType('decode', 'x.PNG')).not.toThrow();
    expect(() => checkOutputType('encode', 'dir.v2/x.nimg')).not.toThrow();
    expect(() => checkOutputType('decode', 'out.jpg')).toThrow(/decode writes \.png \(PNG\) only; .* extension \.jpg/);
    expect(() => checkOutputType('encode', 'dir.v2/out')).toThrow(/encode writes \.nimg only; .* extension \(none\)/);
  });
});

describe('jobCount', () => {
  it('caps --jobs by cores and files; the default is at most 4, 1 for webgpu', () => {
    expect(jobCount({ jobs: 8, backend: 'wasm' }, 10, 2)).toBe(2);
    expect(jobCount({ jobs: 8, backend: 'wasm' }, 3, 16)).toBe(3);
    expect(jobCount({ jobs: 2 }, 1, 16)).toBe(1);
    expect(jobCount({ backend: 'wasm' }, 100, 16)).toBe(4);
    expect(jobCount({ backend: 'wasm' }, 100, 2)).toBe(2);
    expect(jobCount({ backend: 'webgpu' }, 100, 16)).toBe(1);
    expect(jobCount({ backend: 'cpu' }, 0, 16)).toBe(1);
  });
});

function fakeRun(mode: ProgressOptions['mode'], total: number, columns = 200) {
  let t = 0;
  let written = '';
  const p = new Progress({ write: (s) => (written += s), columns }, { mode, total, verb: 'encode', verbose: false, prefixInput: true, now: () => t, tick: false });
  return { p, advance: (ms: number) => (t += ms), out: () => written };
}

const job = (index: number, input: string) => ({ index, input, output: input.replace(/\.png$/, '.nimg') });
const result = { bytes: 1234, width: 768, height: 512, bpp: 0.025, backend: 'wasm', timings: 'total 1 ms' };

describe('Progress', () => {
  it('formatDuration and jobFraction', () => {
    expect(formatDuration(7_400)).toBe('0:07');
    expect(formatDuration(65_000)).toBe('1:05');
    expect(formatDuration(3_723_000)).toBe('1:02:03');
    expect(jobFraction(undefined, false)).toBe(0);
    expect(jobFraction({ stage: 'refine', done: 75, total: 150 }, true)).toBeCloseTo(0.5);
    expect(jobFraction({ stage: 'done', done: 1, total: 1 }, false)).toBe(1);
    expect(jobFraction({ stage: 'coding', done: 0, total: 1 }, false)).toBeCloseTo(0.7);
    expect(jobFraction({ stage: 'coding', done: 9, total: 18 }, true)).toBeCloseTo(0.975);
  });

  it('a terminal: the bar is redrawn in place with counts, elapsed time, ETA and the refine step', () => {
    const { p, advance, out } = fakeRun('bar', 4);
    const a = job(0, 'in/a.png');
    const b = job(1, 'in/b.png');
    p.start(a);
    p.start(b);
    advance(10_000);
    p.update(a, { stage: 'refine', done: 30, total: 60 });
    p.finish(b, result);
    advance(10_000);
    // 1 of 4 done and a at 0.05 + 0.9 * 0.5 = 0.5 → 1.5 / 4 after 20 s: ETA 20 * 2.5 / 1.5 ≈ 33 s
    expect(p.status()).toBe('████████░░░░░░░░░░░░ 1/4 · 0:20, ETA 0:33 · a.png refine 30/60');
    p.fail(a, new NimgError('CORRUPT_STREAM', 'bad'));
    expect(p.status()).toMatch(/^██████████░░░░░░░░░░ 2\/4 \(1 failed\) · 0:20, ETA 0:20$/);
    p.end();
    const o = out();
    expect(o).toContain('\r\x1b[K');
    // the failure is a line of its own, above the bar, and the bar is gone at the end
    expect(o).toContain('\r\x1b[KNimgError [CORRUPT_STREAM]: in/a.png: bad\n');
    expect(o.endsWith('\r\x1b[K')).toBe(true);
  });

  it('a terminal: one file shows a spinner; a narrow terminal truncates instead of wrapping', () => {
    const { p, advance, out } = fakeRun('bar', 1, 30);
    const a = job(0, 'a-very-long-file-name-indeed.png');
    p.start(a);
    advance(3_000);
    expect(p.status()).toMatch(/^. encode a-very-long-file-name-indeed\.png · 0:03$/);
    p.update(a, { stage: 'refine', done: 2, total: 3 });
    for (const seg of out().split('\r\x1b[K')) expect(seg.length).toBeLessThanOrEqual(29);
    p.end();
  });

  it('not a terminal: plain lines per finished file, no cursor codes; quiet mode prints failures only', () => {
    const lines = fakeRun('lines', 2);
    lines.p.start(job(0, 'a.png'));
    lines.p.update(job(0, 'a.png'), { stage: 'refine', done: 1, total: 3 });
    lines.p.finish(job(0, 'a.png'), result);
    lines.p.fail(job(1, 'b.png'), new NimgError('BAD_INPUT', 'not an image'));
    lines.p.end();
    expect(lines.out()).toBe('nimg: [1/2] a.png → a.nimg: 1234 bytes, 768x512, 0.0250 bpp\nNimgError [BAD_INPUT]: b.png: not an image\n');

    const quiet = fakeRun('quiet', 1);
    quiet.p.start(job(0, 'a.png'));
    quiet.p.finish(job(0, 'a.png'), result);
    quiet.p.end();
    expect(quiet.out()).toBe('');
  });
});

const CORE = path.join(ROOT, 'build', 'nimg-core.wasm');

describe.skipIf(!existsSync(CORE))('EncodeOptions.onProgress', () => {
  it('reports the stages in order and every refinement step, in steps of `refine`; a throwing callback is ignored', async () => {
    const rw = makeRandomWeights({ seed: 3 });
    const codec = await NimgCodec.create({ wasm: new Uint8Array(readFileSync(CORE)), weights: { manifest: rw.manifestJson, bin: rw.bin }, backend: 'wasm', threads: 1 });
    try {
      const image = { width: 64, height: 64, data: new Uint8Array(64 * 64 * 4).map((_, i) => (i * 37) & 255) };
      const seen: EncodeProgress[] = [];
      const bytes = await codec.encode(image, { quality: 5, refine: 6, onProgress: (p) => seen.push({ ...p }) });
      expect(seen[0]).toEqual({ stage: 'analysis', done: 0, total: 1 });
      expect(seen.at(-1)).toEqual({ stage: 'done', done: 1, total: 1 });
      const refine = seen.filter((p) => p.stage === 'refine');
      expect(refine[0]).toEqual({ stage: 'refine', done: 0, total: 6 });
      expect(refine.at(-1)).toEqual({ stage: 'refine', done: 6, total: 6 });
      // one report per step (one tile here) plus the start, never going back
      expect(refine).toHaveLength(7);
      for (let i = 1; i < refine.length; i++) expect(refine[i].done).toBeGreaterThanOrEqual(refine[i - 1].done);
      const order = [...new Set(seen.map((p) => p.stage))];
      expect(order).toEqual(['analysis', 'refine', 'coding', 'done']);

      // the callback cannot break an encode, nor change its bytes
      const again = await codec.encode(image, { quality: 5, refine: 6, onProgress: () => { throw new Error('display bug'); } });
      expect(Buffer.compare(Buffer.from(again), Buffer.from(bytes))).toBe(0);
      const plain: string[] = [];
      await codec.encode(image, { onProgress: (p) => plain.push(p.stage) });
      expect(plain).toEqual(['analysis', 'coding', 'done']);
    } finally {
      codec.dispose();
    }
  }, 120_000);
});

describe('demo server headers (docs/serving.md)', () => {
  it('.nimg is image/x-nimg; hashed names are immutable, others revalidated; COOP/COEP always', async () => {
    const { responseHeaders } = await import('../src/node/web-headers.js');
    const { NIMG_MEDIA_TYPE } = await import('../src/index.js');
    expect(NIMG_MEDIA_TYPE).toBe('image/x-nimg');
    const h = responseHeaders('/out/photo.nimg', '.nimg');
    expect(h).toMatchObject({ 'content-type': 'image/x-nimg', 'cache-control': 'no-cache', 'cross-origin-opener-policy': 'same-origin', 'cross-origin-embedder-policy': 'require-corp' });
    expect(responseHeaders('/img/photo.3f2a9c01.nimg', '.nimg')['cache-control']).toBe('public, max-age=31536000, immutable');
    expect(responseHeaders('/nimg-core.wasm', '.wasm')['content-type']).toBe('application/wasm');
    expect(responseHeaders('/x.unknown', '.unknown')['content-type']).toBe('application/octet-stream');
  });
});
