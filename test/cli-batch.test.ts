/**
 * The `nimg` CLI for real work, spawned as separate processes (as a user runs it):
 *   - a folder of Kodak images with one corrupt file, --jobs 2: the others written, exit 1,
 *     a failure line and a summary, plain progress lines (stderr is not a terminal);
 *     a rerun skips the existing outputs, --force rewrites; the outputs decode as a batch;
 *   - stdin/stdout round trip (same bytes as the file form);
 *   - refusal of outputs it cannot write (decode to .jpg), before any work;
 *   - the output path checked before any encode (the weights are missing there, so any
 *     encode attempt would report NOT_INITIALIZED instead);
 *   - `--backend webgpu` without an adapter: one error line, none of Dawn's Vulkan warnings.
 * Kodak: `../shared/data/kodak` beside the clone (skips with a message otherwise).
 */
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT, runCli, runCliBytes } from './cli-helpers.js';
import { makeRandomWeights } from './fixtures/random-weights.js';
import { probe } from '../src/codec.js';
import { decodePng } from '../src/image/index.js';

const KODAK = path.resolve(ROOT, '..', 'shared', 'data', 'kodak');
const KODAK_FILES = ['kodim03.png', 'kodim07.png', 'kodim23.png'];
const HAVE_KODAK = KODAK_FILES.every((f) => existsSync(path.join(KODAK, f)));
const HAVE_CORE = existsSync(path.join(ROOT, 'build', 'nimg-core.wasm'));
const SAMPLE = path.join(ROOT, 'src', 'node', 'sample.png');

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'nimg-batch-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** stderr must be plain lines: no carriage returns or terminal escapes when not a TTY. */
function expectPlain(stderr: string) {
  expect(stderr).not.toMatch(/\r|\x1b\[/);
}

if (!HAVE_KODAK) console.warn(`cli-batch: Kodak images not found in ${KODAK}; the batch test is skipped`);

describe.skipIf(!HAVE_KODAK || !HAVE_CORE)('nimg CLI batch on Kodak images (shipped weights, WASM)', () => {
  it('a folder with a corrupt file, --jobs 2: the rest written, exit 1, summary; rerun skips; --force rewrites; batch decode', async () => {
    const src = path.join(dir, 'kodak');
    const out = path.join(dir, 'out');
    mkdirSync(src);
    for (const f of KODAK_FILES) copyFileSync(path.join(KODAK, f), path.join(src, f));
    // corrupt: a real PNG cut short (its IDAT ends early)
    const whole = readFileSync(path.join(KODAK, 'kodim01.png'));
    writeFileSync(path.join(src, 'broken.png'), whole.subarray(0, 4000));

    const r = await runCli(['encode', src, '-o', out, '--jobs', '2', '-b', 'wasm', '-q', '3']);
    expect(r.code, r.stderr).toBe(1);
    expect(r.stdout).toBe('');
    expectPlain(r.stderr);
    for (const f of KODAK_FILES) {
      const bytes = new Uint8Array(readFileSync(path.join(out, f.replace('.png', '.nimg'))));
      expect(probe(bytes)).toMatchObject({ width: 768, height: 512, quality: 3 });
    }
    expect(existsSync(path.join(out, 'broken.nimg'))).toBe(false);
    const lines = r.stderr.trimEnd().split('\n');
    // one failure line naming the file, one progress line per written file, the summary last
    expect(lines.filter((l) => /^NimgError \[[A-Z_]+\]: .*broken\.png: \S/.test(l))).toHaveLength(1);
    const done = lines.filter((l) => /^nimg: \[\d\/4\] .*kodim\d\d\.png → .*kodim\d\d\.nimg: \d+ bytes, 768x512, [\d.]+ bpp$/.test(l));
    expect(done).toHaveLength(3);
    expect(lines.at(-1)).toMatch(/^nimg: 3 encoded, 1 failed, 0 skipped in \d+:\d\d \(2 jobs\)$/);
    // no temporary files left behind
    expect(readdirSync(out).sort()).toEqual(KODAK_FILES.map((f) => f.replace('.png', '.nimg')).sort());

    // rerun: the three outputs exist → skipped (unchanged), the broken file fails again
    const mtimes = KODAK_FILES.map((f) => statSync(path.join(out, f.replace('.png', '.nimg'))).mtimeMs);
    const again = await runCli(['encode', src, '-o', out, '--jobs', '2', '-b', 'wasm', '-q', '3']);
    expect(again.code, again.stderr).toBe(1);
    expect(again.stderr.trimEnd().split('\n').at(-1)).toMatch(/^nimg: 0 encoded, 1 failed, 3 skipped \(output exists; --force overwrites\) in /);
    expect(KODAK_FILES.map((f) => statSync(path.join(out, f.replace('.png', '.nimg'))).mtimeMs)).toEqual(mtimes);

    // --force on one file rewrites it (at another quality, so the bytes tell)
    const one = path.join(src, KODAK_FILES[0]);
    const forced = await runCli(['encode', one, '-o', out, '--force', '-b', 'wasm', '-q', '2']);
    expect(forced.code, forced.stderr).toBe(0);
    expect(forced.stderr).toMatch(/^nimg: \[1\/1\] .*\nnimg: 1 encoded, 0 failed, 0 skipped in /);
    expect(probe(new Uint8Array(readFileSync(path.join(out, KODAK_FILES[0].replace('.png', '.nimg')))))).toMatchObject({ quality: 2 });

    // the outputs decode as a batch (folder in, PNGs out)
    const dec = path.join(dir, 'dec');
    const d = await runCli(['decode', out, '-o', dec, '--jobs', '2', '-b', 'wasm']);
    expect(d.code, d.stderr).toBe(0);
    expectPlain(d.stderr);
    expect(d.stderr.trimEnd().split('\n').at(-1)).toMatch(/^nimg: 3 decoded, 0 failed, 0 skipped in /);
    for (const f of KODAK_FILES) {
      const img = await decodePng(new Uint8Array(readFileSync(path.join(dec, f))));
      expect([img.width, img.height]).toEqual([768, 512]);
    }
  }, 240_000);
});

describe.skipIf(!HAVE_CORE)('nimg CLI: stdin/stdout, output checks (random weights)', () => {
  let env: Record<string, string>;
  beforeAll(() => {
    const rw = makeRandomWeights({ seed: 11 });
    writeFileSync(path.join(dir, 'rw.json'), rw.manifestJson);
    writeFileSync(path.join(dir, 'rw.bin'), rw.bin);
    env = { NIMG_WEIGHTS: path.join(dir, 'rw.json') };
  });

  it('encode - - < in.png and decode - - round trip; same bytes as the file form', async () => {
    const png = readFileSync(SAMPLE);
    const viaFile = path.join(dir, 'file.nimg');
    const f = await runCli(['encode', SAMPLE, viaFile, '-q', '4', '-b', 'wasm'], env);
    expect(f.code, f.stderr).toBe(0);
    const e = await runCliBytes(['encode', '-', '-', '-q', '4', '-b', 'wasm'], { stdin: png, env });
    expect(e.code, e.stderr).toBe(0);
    expect(e.stderr).toBe('');
    expect(Buffer.compare(e.stdout, readFileSync(viaFile))).toBe(0);

    const d = await runCliBytes(['decode', '-', '-', '-b', 'wasm'], { stdin: e.stdout, env });
    expect(d.code, d.stderr).toBe(0);
    const viaFilePng = path.join(dir, 'file.png');
    const df = await runCli(['decode', viaFile, viaFilePng, '-b', 'wasm'], env);
    expect(df.code, df.stderr).toBe(0);
    expect(Buffer.compare(d.stdout, readFileSync(viaFilePng))).toBe(0);
    const img = await decodePng(new Uint8Array(d.stdout));
    expect([img.width, img.height]).toEqual([240, 200]);

    // a file into stdout, stdin into a file
    const mixed = path.join(dir, 'mixed.png');
    const m = await runCliBytes(['decode', '-', mixed, '-b', 'wasm'], { stdin: readFileSync(viaFile), env });
    expect(m.code, m.stderr).toBe(0);
    expect(Buffer.compare(readFileSync(mixed), d.stdout)).toBe(0);
  }, 120_000);

  it('garbage on stdin → one NimgError line, nothing on stdout', async () => {
    const r = await runCliBytes(['decode', '-', '-'], { stdin: Buffer.from('not a nimg file at all'), env });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^NimgError \[BAD_SIGNATURE\]: \S.*\n$/);
    expect(r.stdout.length).toBe(0);
  }, 60_000);

  it('refuses outputs it cannot write: decode to .jpg, encode to .png (exit 2, supported type named, nothing written)', async () => {
    const nimgFile = path.join(dir, 'any.nimg');
    writeFileSync(nimgFile, 'x');
    const jpg = path.join(dir, 'out.jpg');
    const r = await runCli(['decode', nimgFile, jpg], env);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^nimg: decode writes \.png \(PNG\) only; the output ".*out\.jpg" has the extension \.jpg/);
    expect(existsSync(jpg)).toBe(false);
    const r2 = await runCli(['encode', SAMPLE, path.join(dir, 'out.png')], env);
    expect(r2.code).toBe(2);
    expect(r2.stderr).toMatch(/^nimg: encode writes \.nimg only/);
  }, 60_000);

  it('the output path is checked before any work', async () => {
    // the model cannot load here: an encode that started would fail NOT_INITIALIZED, not BAD_INPUT
    const noModel = { NIMG_WEIGHTS: path.join(dir, 'missing.json') };
    const aFile = path.join(dir, 'plain-file');
    writeFileSync(aFile, 'x');
    const cases: [string[], RegExp][] = [
      [['encode', SAMPLE, path.join(dir, 'no', 'such', 'dir', 'x.nimg')], /folder .* does not exist/],
      [['encode', SAMPLE, path.join(aFile, 'x.nimg')], /cannot write/],
      [['encode', SAMPLE, '-o', aFile], /exists and is not a folder/],
      [['encode', SAMPLE, '-o', path.join(aFile, 'sub')], /cannot (create|use) output folder/],
    ];
    const folderOut = path.join(dir, 'is-a-folder.nimg');
    mkdirSync(folderOut);
    cases.push([['encode', SAMPLE, folderOut], /it is a folder/]);
    for (const [args, msg] of cases) {
      const t0 = performance.now();
      const r = await runCli(args, noModel);
      expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(1);
      expect(r.stderr).toMatch(/^NimgError \[BAD_INPUT\]: \S.*\n$/);
      expect(r.stderr).toMatch(msg);
      expect(performance.now() - t0).toBeLessThan(20_000);
    }
    // permissions (meaningless as root, who may write anywhere)
    if (process.getuid?.() !== 0) {
      const ro = path.join(dir, 'read-only');
      mkdirSync(ro);
      chmodSync(ro, 0o555);
      const r = await runCli(['encode', SAMPLE, '-o', ro], noModel);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/^NimgError \[BAD_INPUT\]: .*not writable/);
      chmodSync(ro, 0o755);
    }
  }, 120_000);

  it('--backend webgpu without an adapter: one error line, no Vulkan/Dawn warnings', async () => {
    const real = ['/dev/nvidia0', '/dev/kfd', '/dev/dri'].some((p) => existsSync(p));
    if (real) {
      console.warn('cli-batch: this machine has a GPU device node; the no-adapter case is not testable here');
      return;
    }
    // a Vulkan driver list that names no driver: Dawn finds no adapter and, left alone, says so on fd 2
    const r = await runCli(['encode', SAMPLE, path.join(dir, 'gpu.nimg'), '--backend', 'webgpu'], { ...env, VK_ICD_FILENAMES: path.join(dir, 'no-icd.json') });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^NimgError \[BACKEND_UNAVAILABLE\]: webgpu: \S.*\n$/);
    expect(r.stderr).not.toMatch(/vkCreateInstance|Warning|VK_ERROR/);
  }, 60_000);
});
