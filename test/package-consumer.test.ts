/**
 * nimg as a new user gets it: `npm pack` (prepack builds the core and dist/), the tarball
 * installed into a fresh project outside this checkout (its dependencies from the registry
 * or npm's cache), then, with no tsx anywhere:
 *   - a plain `node` ESM round trip through `import { encode, decode } from 'nimg'`, and the
 *     same import under the `browser` condition getting no Node defaults;
 *   - `tsc --strict` (skipLibCheck off) on a consumer file, once with module/moduleResolution
 *     node16 and once with bundler;
 *   - `npx nimg --help` and `npx nimg info`.
 * Bounded: about a minute on 2 cores with a warm npm cache.
 */
import { execFile, type ExecFileOptions } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const ROOT = path.resolve(import.meta.dirname, '..');
const NPM = process.platform === 'win32' ? 'npm.cmd' : 'npm';
const TSC = path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function run(cmd: string, args: string[], opts: ExecFileOptions & { timeout: number }): Promise<Run> {
  return new Promise((resolve) => {
    execFile(cmd, args, { maxBuffer: 1 << 26, ...opts, env: { ...process.env, ...opts.env } }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? ((err as { code: number }).code) : 1) : 0;
      resolve({ code, stdout: String(stdout), stderr: String(stderr) + (err && code === 1 && !stderr ? String(err) : '') });
    });
  });
}

/** Bytes under a folder (files only; links not followed). */
function duBytes(dir: string): number {
  let n = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) n += duBytes(p);
    else if (e.isFile()) n += statSync(p).size;
  }
  return n;
}

const APP = `
import { encode, decode, probe, dispose, NimgError } from 'nimg';
import { cli, encodeFile } from 'nimg/node';
import { writeFileSync } from 'node:fs';

const width = 96, height = 80;
const data = new Uint8ClampedArray(width * height * 4);
for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) {
  const i = (y * width + x) * 4;
  data[i] = x * 2; data[i + 1] = y * 3; data[i + 2] = 128 + ((x + y) % 64); data[i + 3] = 255;
}
const bytes = await encode({ width, height, data }, { quality: 6 });
const info = probe(bytes);
const out = await decode(bytes);
let se = 0;
for (let i = 0; i < data.length; i++) if (i % 4 !== 3) se += (out.data[i] - data[i]) ** 2;
const psnr = 10 * Math.log10(255 ** 2 / (se / (width * height * 3)));
let code = null;
try { await decode(new Uint8Array(10)); } catch (e) { code = e instanceof NimgError ? e.code : String(e); }
writeFileSync('out.nimg', bytes);
console.log(JSON.stringify({ bytes: bytes.length, info: { width: info.width, height: info.height, quality: info.quality },
  out: [out.width, out.height, out.data.length], psnr, code, cli: typeof cli, encodeFile: typeof encodeFile }));
await dispose();
`;

const BROWSER_APP = `
import { init } from 'nimg';
try { await init(); console.log('initialised'); } catch (e) { console.log(e.code); }
`;

const CONSUMER_TS = `
import { decode, encode, init, probe, NimgError, type DecodedImage, type EncodeOptions, type InitOptions, type ProbeInfo } from 'nimg';

export async function roundTrip(image: { width: number; height: number; data: Uint8ClampedArray }): Promise<DecodedImage> {
  const options: EncodeOptions = { quality: 4.5 };
  const bytes: Uint8Array = await encode(image, options);
  const info: ProbeInfo = probe(bytes);
  if (info.width !== image.width) throw new Error('width');
  return decode(bytes);
}

export async function setUp(wasm: WebAssembly.Module, manifest: string, bin: Uint8Array): Promise<void> {
  const options: InitOptions = { wasm, weights: { manifest, bin }, backend: 'wasm', threads: 1 };
  await init(options);
}

export function codeOf(e: unknown): string | null {
  return e instanceof NimgError ? e.code : null;
}
`;

const CONSUMER_NODE_TS = `
import { decodeFile, encodeFile, cli } from 'nimg/node';

export async function convert(input: string, output: string): Promise<number> {
  const n: number = await encodeFile(input, output, { quality: 3 });
  const { width }: { width: number } = await decodeFile(output, output + '.png');
  return n + width + (await cli(['--help']));
}
`;

describe('the packed package in a fresh project', () => {
  let tmp: string;
  let app: string;
  let packed: { filename: string; size: number; unpackedSize: number; files: { path: string }[] };

  beforeAll(async () => {
    tmp = mkdtempSync(path.join(tmpdir(), 'nimg-consumer-'));
    const pack = await run(NPM, ['pack', '--json', '--pack-destination', tmp], { cwd: ROOT, timeout: 240_000 });
    expect(pack.code, pack.stderr).toBe(0);
    // lifecycle scripts may print before the JSON array, which starts a line
    packed = JSON.parse(pack.stdout.slice(pack.stdout.search(/^\[/m)))[0];
    app = path.join(tmp, 'app');
    const { mkdirSync } = await import('node:fs');
    mkdirSync(app);
    writeFileSync(path.join(app, 'package.json'), JSON.stringify({ name: 'nimg-consumer', private: true, type: 'module' }, null, 2));
    // @types/node for the node16 type check, at the version this checkout uses (cached by npm ci)
    const typesNode = JSON.parse(readFileSync(path.join(ROOT, 'node_modules', '@types', 'node', 'package.json'), 'utf8')).version;
    const install = await run(NPM, ['install', '--no-audit', '--no-fund', '--prefer-offline', path.join(tmp, packed.filename), `@types/node@${typesNode}`], {
      cwd: app,
      timeout: 300_000,
    });
    expect(install.code, install.stderr).toBe(0);
    const nm = path.join(app, 'node_modules');
    const weigh = (p: string) => (existsSync(path.join(nm, p)) ? (duBytes(path.join(nm, p)) / 2 ** 20).toFixed(1) : '-');
    console.log(
      `[package-consumer] tarball ${(packed.size / 2 ** 20).toFixed(1)} MiB (${(packed.unpackedSize / 2 ** 20).toFixed(1)} MiB unpacked, ${packed.files.length} files); ` +
        `consumer node_modules ${weigh('.')} MiB: nimg ${weigh('nimg')}, webgpu (optional) ${weigh('webgpu')}, @tensorflow ${weigh('@tensorflow')}`,
    );
  }, 600_000);

  afterAll(() => {
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  it('the tarball holds dist/ (JS, declarations, core, weights) and bin/, no sources', () => {
    const files = packed.files.map((f) => f.path);
    for (const f of ['dist/index.js', 'dist/index.d.ts', 'dist/node/main.js', 'dist/node/index.d.ts', 'dist/backend/wasm-worker.js', 'dist/nimg-core.wasm', 'dist/weights/nimg-v1.json', 'dist/weights/nimg-v1.bin', 'bin/nimg.js', 'package.json']) {
      expect(files).toContain(f);
    }
    expect(files.filter((f) => f.startsWith('src/') || f.startsWith('test/') || f.endsWith('.ts') && !f.endsWith('.d.ts'))).toEqual([]);
    // no compiler at run time: tsx and esbuild are not installed for a consumer
    expect(existsSync(path.join(app, 'node_modules', 'tsx'))).toBe(false);
    expect(existsSync(path.join(app, 'node_modules', 'esbuild'))).toBe(false);
  });

  it('plain node ESM: encode → probe → decode round trip with the shipped weights', async () => {
    writeFileSync(path.join(app, 'app.mjs'), APP);
    const r = await run(process.execPath, ['app.mjs'], { cwd: app, timeout: 120_000 });
    expect(r.code, r.stderr).toBe(0);
    const got = JSON.parse(r.stdout.trim().split('\n').pop()!);
    expect(got.info).toEqual({ width: 96, height: 80, quality: 6 });
    expect(got.out).toEqual([96, 80, 96 * 80 * 4]);
    expect(got.psnr).toBeGreaterThan(28);
    expect(got.code).toBe('BAD_SIGNATURE');
    expect([got.cli, got.encodeFile]).toEqual(['function', 'function']);
  }, 180_000);

  it('under the browser condition `nimg` carries no Node defaults (NOT_INITIALIZED)', async () => {
    writeFileSync(path.join(app, 'browser.mjs'), BROWSER_APP);
    const r = await run(process.execPath, ['--conditions=browser', 'browser.mjs'], { cwd: app, timeout: 60_000 });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.trim()).toBe('NOT_INITIALIZED');
  }, 90_000);

  for (const mode of ['node16', 'bundler'] as const) {
    it(`tsc --strict, module/moduleResolution ${mode}, skipLibCheck off`, async () => {
      const dir = path.join(app, `ts-${mode}`);
      const { mkdirSync } = await import('node:fs');
      mkdirSync(dir, { recursive: true });
      const node = mode === 'node16';
      writeFileSync(path.join(dir, 'consumer.ts'), CONSUMER_TS);
      if (node) writeFileSync(path.join(dir, 'consumer-node.ts'), CONSUMER_NODE_TS);
      const compilerOptions = {
        strict: true,
        noEmit: true,
        skipLibCheck: false,
        target: 'es2022',
        module: node ? 'node16' : 'esnext',
        moduleResolution: node ? 'node16' : 'bundler',
        // a Node project has Node's types; a bundled web app has the DOM's
        lib: node ? ['es2022'] : ['es2022', 'dom'],
        types: node ? ['node'] : [],
        typeRoots: [path.join(app, 'node_modules', '@types')],
      };
      writeFileSync(path.join(dir, 'tsconfig.json'), JSON.stringify({ compilerOptions, include: ['*.ts'] }, null, 2));
      const r = await run(process.execPath, [TSC, '-p', dir], { cwd: dir, timeout: 120_000 });
      expect(r.code, r.stdout + r.stderr).toBe(0);
    }, 150_000);
  }

  it('npx nimg --help and npx nimg info run the compiled CLI', async () => {
    const help = await run(NPM, ['exec', '--no', '--', 'nimg', '--help'], { cwd: app, timeout: 60_000 });
    expect(help.code, help.stderr).toBe(0);
    expect(help.stdout).toContain('Usage:');
    const file = path.join(app, 'out.nimg');
    if (existsSync(file)) {
      const info = await run(NPM, ['exec', '--no', '--', 'nimg', 'info', 'out.nimg'], { cwd: app, timeout: 60_000 });
      expect(info.code, info.stderr).toBe(0);
      expect(JSON.parse(info.stdout)).toMatchObject({ width: 96, height: 80 });
    }
  }, 150_000);
});
