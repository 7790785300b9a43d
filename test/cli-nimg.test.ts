/**
 * The `nimg` CLI, spawned as a separate process: exit codes, stderr format, usage, and
 * (when the WASM core is built) encode/decode/info with a random weight set, checking that a
 * file written by `nimg encode` in one process decodes to identical pixels in another
 * process and in this one.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT, runCli, type RunResult } from './cli-helpers.js';
import { makeRandomWeights } from './fixtures/random-weights.js';
import { NimgCodec } from '../src/codec.js';
import { decodePng, encodePng } from '../src/image/index.js';

const CORE = path.join(ROOT, 'build', 'nimg-core.wasm');
const HAVE_CORE = existsSync(CORE) && existsSync(path.join(ROOT, 'src', 'core', 'index.ts'));

/** stderr of a failed run: exactly one `NimgError [CODE]: message` line, no stack trace. */
function expectNimgError(r: RunResult, code: string) {
  expect(r.code, r.stderr).toBe(1);
  expect(r.stderr).toMatch(new RegExp(`^NimgError \\[${code}\\]: \\S.*\\n$`));
  expect(r.stderr).not.toMatch(/\n\s+at /);
  expect(r.stdout).toBe('');
}

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'nimg-cli-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe.concurrent('nimg CLI: usage (exit 2)', () => {
  const cases: [string, string[]][] = [
    ['no arguments', []],
    ['unknown command', ['frobnicate', 'a', 'b']],
    ['missing output', ['encode', 'in.png']],
    ['too many files', ['info', 'a.nimg', 'b.nimg']],
    ['bad quality', ['encode', 'in.png', 'out.nimg', '--quality', 'high']],
    ['quality too low', ['encode', 'in.png', 'out.nimg', '-q', '0.5']],
    ['quality too high', ['encode', 'in.png', 'out.nimg', '--quality=9']],
    ['quality without value', ['encode', 'in.png', 'out.nimg', '--quality']],
    ['bad backend', ['decode', 'in.nimg', 'out.png', '--backend', 'metal']],
    ['unknown option', ['info', 'x.nimg', '--fast']],
    ['quality on decode', ['decode', 'in.nimg', 'out.png', '-q', '3']],
    ['bad threads', ['decode', 'in.nimg', 'out.png', '--threads', '0']],
    ['negative refine', ['encode', 'in.png', 'out.nimg', '--refine', '-1']],
    ['fractional refine', ['encode', 'in.png', 'out.nimg', '-r', '1.5']],
    ['refine too high', ['encode', 'in.png', 'out.nimg', '--refine=2001']],
    ['refine on decode', ['decode', 'in.nimg', 'out.png', '--refine', '3']],
    ['refine on info', ['info', 'in.nimg', '--refine', '3']],
  ];
  for (const [name, args] of cases) {
    it(name, async () => {
      const r = await runCli(args);
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(/^nimg: .+\n\nUsage:\n/);
      expect(r.stderr).not.toMatch(/\n\s+at /);
    }, 30_000);
  }
  it('--help → 0 and usage on stdout; --version', async () => {
    const r = await runCli(['--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^Usage:\n\s+nimg encode/);
    const v = await runCli(['--version']);
    expect(v.code).toBe(0);
    expect(v.stdout).toMatch(/^nimg \d+\.\d+\.\d+\n$/);
  }, 30_000);
});

describe.concurrent('nimg CLI: bad input (exit 1, `NimgError [CODE]: message`)', () => {
  it('info on an empty file → TRUNCATED', async () => {
    const f = path.join(dir, 'empty.nimg');
    writeFileSync(f, new Uint8Array(0));
    expectNimgError(await runCli(['info', f]), 'TRUNCATED');
  }, 30_000);
  it('info / decode on a PNG → BAD_SIGNATURE', async () => {
    const f = path.join(dir, 'x.png');
    writeFileSync(f, encodePng({ width: 2, height: 2, data: new Uint8Array(16).fill(200) }));
    expectNimgError(await runCli(['info', f]), 'BAD_SIGNATURE');
    expectNimgError(await runCli(['decode', f, path.join(dir, 'o.png')]), 'BAD_SIGNATURE');
  }, 30_000);
  it('missing input file → BAD_INPUT', async () => {
    expectNimgError(await runCli(['info', path.join(dir, 'nope.nimg')]), 'BAD_INPUT');
    expectNimgError(await runCli(['encode', path.join(dir, 'nope.png'), path.join(dir, 'o.nimg')]), 'BAD_INPUT');
  }, 30_000);
  it('encode of a non-image → BAD_INPUT', async () => {
    const f = path.join(dir, 'text.png');
    writeFileSync(f, 'hello, not an image');
    expectNimgError(await runCli(['encode', f, path.join(dir, 'o.nimg')]), 'BAD_INPUT');
  }, 30_000);
  it('a truncated .nimg → TRUNCATED', async () => {
    const f = path.join(dir, 'trunc.nimg');
    writeFileSync(f, Uint8Array.of(0x4e, 0x49, 0x4d, 0x47, 0x0d, 0x0a, 0x87, 0x0a, 1, 0, 0));
    expectNimgError(await runCli(['decode', f, path.join(dir, 'o.png')]), 'TRUNCATED');
  }, 30_000);
});

describe.skipIf(!HAVE_CORE)('nimg CLI with a model (random weights)', () => {
  let env: Record<string, string>;
  let weights: { manifest: string; bin: Uint8Array };
  beforeAll(() => {
    const rw = makeRandomWeights({ seed: 7 });
    weights = { manifest: rw.manifestJson, bin: rw.bin };
    writeFileSync(path.join(dir, 'rw.json'), rw.manifestJson);
    writeFileSync(path.join(dir, 'rw.bin'), rw.bin);
    env = { NIMG_WEIGHTS: path.join(dir, 'rw.json') };
  });

  it('encode → info → decode in separate processes; pixels identical to an in-process decode', async () => {
    const src = path.join(ROOT, 'src', 'node', 'sample.png');
    const nimgFile = path.join(dir, 'sample.nimg');
    const e = await runCli(['encode', src, nimgFile, '--quality', '6.5', '--backend', 'wasm'], env);
    expect(e.code, e.stderr).toBe(0);
    expect(e.stdout).toBe('');
    const bytes = new Uint8Array(readFileSync(nimgFile));

    const i = await runCli(['info', nimgFile]);
    expect(i.code, i.stderr).toBe(0);
    const info = JSON.parse(i.stdout);
    expect(info).toMatchObject({ format: 'nimg', version: 1, width: 240, height: 200, quality: 6.5, hasAlpha: false });
    expect(info.bytes.total).toBe(bytes.length);

    const out1 = path.join(dir, 'd1.png');
    const out2 = path.join(dir, 'd2.png');
    const [d1, d2] = [await runCli(['decode', nimgFile, out1, '--backend', 'wasm'], env), await runCli(['decode', nimgFile, out2, '-b', 'wasm', '-v'], env)];
    expect(d1.code, d1.stderr).toBe(0);
    expect(d2.code, d2.stderr).toBe(0);
    expect(d2.stderr).toMatch(/backend wasm/);
    const p1 = await decodePng(new Uint8Array(readFileSync(out1)));
    const p2 = await decodePng(new Uint8Array(readFileSync(out2)));
    expect([p1.width, p1.height]).toEqual([240, 200]);
    expect(Buffer.compare(Buffer.from(p1.data), Buffer.from(p2.data))).toBe(0);

    const codec = await NimgCodec.create({ wasm: new Uint8Array(readFileSync(CORE)), weights, backend: 'wasm' });
    try {
      const mine = await codec.decode(bytes);
      expect(Buffer.compare(Buffer.from(mine.data), Buffer.from(p1.data))).toBe(0);
      // and the encoder is deterministic across processes
      const again = await codec.encode(await decodePng(new Uint8Array(readFileSync(src))), { quality: 6.5 });
      expect(Buffer.compare(Buffer.from(again), Buffer.from(bytes))).toBe(0);
      // --refine reaches the encoder: same bytes as an in-process refine, not the plain ones
      const refined = path.join(dir, 'r3.nimg');
      const er = await runCli(['encode', src, refined, '-q', '6.5', '--refine', '3', '-b', 'wasm', '-v'], env);
      expect(er.code, er.stderr).toBe(0);
      expect(er.stderr).toMatch(/refine \d/);
      const rb = new Uint8Array(readFileSync(refined));
      const mineR = await codec.encode(await decodePng(new Uint8Array(readFileSync(src))), { quality: 6.5, refine: 3 });
      expect(Buffer.compare(Buffer.from(mineR), Buffer.from(rb))).toBe(0);
      expect(Buffer.compare(Buffer.from(rb), Buffer.from(bytes))).not.toBe(0);
    } finally {
      codec.dispose();
    }
  }, 180_000);

  it('a file made with other weights → MODEL_MISMATCH', async () => {
    const other = makeRandomWeights({ seed: 8, modelId: 'other-model' });
    writeFileSync(path.join(dir, 'other.json'), other.manifestJson);
    writeFileSync(path.join(dir, 'other.bin'), other.bin);
    const f = path.join(dir, 'other.nimg');
    const e = await runCli(['encode', path.join(ROOT, 'src', 'node', 'sample.png'), f, '-q', '2', '-b', 'wasm'], { NIMG_WEIGHTS: path.join(dir, 'other.json') });
    expect(e.code, e.stderr).toBe(0);
    expectNimgError(await runCli(['decode', f, path.join(dir, 'o.png')], env), 'MODEL_MISMATCH');
  }, 120_000);

  it('missing weights → NOT_INITIALIZED', async () => {
    expectNimgError(
      await runCli(['encode', path.join(ROOT, 'src', 'node', 'sample.png'), path.join(dir, 'x.nimg')], { NIMG_WEIGHTS: path.join(dir, 'missing.json') }),
      'NOT_INITIALIZED',
    );
  }, 60_000);
});
