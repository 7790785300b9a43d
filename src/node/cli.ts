/**
 * The `nimg` command line (bin/nimg.js). Node only.
 *
 *   nimg encode IN.(png|jpg) OUT.nimg [--quality Q] [--backend B]
 *   nimg decode IN.nimg OUT.png [--backend B]
 *   nimg info IN.nimg
 *
 * Exit status: 0 success; 1 bad input or failure (stderr: `NimgError [CODE]: message`, no
 * stack trace); 2 bad usage (stderr: the message and the usage text).
 */
import { readFile, writeFile } from 'node:fs/promises';
import { NimgError, isNimgError } from '../errors.js';
import { DEFAULT_QUALITY, MAX_REFINE, decodeWithStats, dispose, encodeWithStats, init, probe, type BackendChoice, type InitOptions } from '../codec.js';
import { decodeImageFile, encodePng } from '../image/index.js';
import { QUALITY_MAX, QUALITY_MIN } from '../format/container.js';
import { weightsPaths } from './loader.js';
import { MAX_THREADS } from '../backend/threads.js';
import './defaults.js';

export const USAGE = `Usage:
  nimg encode IN.png|IN.jpg OUT.nimg [--quality Q] [--refine N] [--backend B] [--threads N] [--verbose]
  nimg decode IN.nimg OUT.png [--backend B] [--threads N] [--verbose]
  nimg info IN.nimg
  nimg --help | --version

Options:
  -q, --quality Q   ${QUALITY_MIN} (smallest) .. ${QUALITY_MAX} (best), continuous, default ${DEFAULT_QUALITY}
  -r, --refine N    encoder effort: N steps of latent refinement, 0 (default) .. ${MAX_REFINE};
                    on Kodak at equal PSNR, 75 steps: 9.0% smaller, 150: 10.6%; each step
                    runs the decoder's network forward and backward, so use a GPU
                    (--backend webgpu)
  -b, --backend B   auto (default) | webgpu | wasm | cpu
  -t, --threads N   worker threads of the WASM backend, 1..16, never more than the cores
                    (default: cores, up to 8; 1 = none)
  -v, --verbose     print size and stage timings to stderr

Environment: NIMG_WEIGHTS (manifest .json; .bin beside it), NIMG_CORE_WASM (core .wasm).
Exit status: 0 ok, 1 bad input or failure, 2 bad usage.`;

class UsageError extends Error {}

interface Parsed {
  command: string;
  files: string[];
  quality?: number;
  refine?: number;
  backend?: BackendChoice;
  threads?: number;
  verbose: boolean;
}

const BACKENDS = ['auto', 'webgpu', 'wasm', 'cpu'];

export function parseArgs(argv: string[]): Parsed | 'help' | 'version' {
  const files: string[] = [];
  let command = '';
  let quality: number | undefined;
  let refine: number | undefined;
  let backend: BackendChoice | undefined;
  let verbose = false;
  let threads: number | undefined;
  for (let i = 0; i < argv.length; i++) {
    let a = argv[i];
    let value: string | undefined;
    const eq = a.startsWith('--') ? a.indexOf('=') : -1;
    if (eq > 0) {
      value = a.slice(eq + 1);
      a = a.slice(0, eq);
    }
    const next = (): string => {
      if (value !== undefined) return value;
      if (i + 1 >= argv.length) throw new UsageError(`option ${a} needs a value`);
      return argv[++i];
    };
    if (a === '-h' || a === '--help') return 'help';
    if (a === '-V' || a === '--version') return 'version';
    if (a === '-q' || a === '--quality') {
      const s = next();
      const q = Number(s);
      if (s.trim() === '' || !Number.isFinite(q) || q < QUALITY_MIN || q > QUALITY_MAX) {
        throw new UsageError(`--quality must be a number in [${QUALITY_MIN}, ${QUALITY_MAX}], got ${JSON.stringify(s)}`);
      }
      quality = q;
    } else if (a === '-r' || a === '--refine') {
      const s = next();
      const n = Number(s);
      if (!/^\d+$/.test(s) || n > MAX_REFINE) throw new UsageError(`--refine must be an integer in [0, ${MAX_REFINE}], got ${JSON.stringify(s)}`);
      refine = n;
    } else if (a === '-b' || a === '--backend') {
      const b = next();
      if (!BACKENDS.includes(b)) throw new UsageError(`--backend must be one of ${BACKENDS.join(', ')}, got ${JSON.stringify(b)}`);
      backend = b as BackendChoice;
    } else if (a === '-t' || a === '--threads') {
      const s = next();
      const n = Number(s);
      // capped like the API's `threads` (src/backend/threads.ts: each worker costs ~80 MB, more than the cores only slows down)
      if (!/^\d+$/.test(s) || n < 1 || n > MAX_THREADS) throw new UsageError(`--threads must be an integer in [1, ${MAX_THREADS}], got ${JSON.stringify(s)}`);
      threads = n;
    } else if (a === '-v' || a === '--verbose') {
      verbose = true;
    } else if (a.startsWith('-') && a !== '-') {
      throw new UsageError(`unknown option ${a}`);
    } else if (!command) {
      command = a;
    } else {
      files.push(a);
    }
  }
  if (!command) throw new UsageError('no command given');
  const want: Record<string, number> = { encode: 2, decode: 2, info: 1 };
  if (!(command in want)) throw new UsageError(`unknown command ${JSON.stringify(command)}`);
  if (files.length !== want[command]) throw new UsageError(`${command} takes ${want[command]} file argument${want[command] > 1 ? 's' : ''}, got ${files.length}`);
  if (command === 'info' && (quality !== undefined || backend !== undefined || threads !== undefined)) {
    throw new UsageError('info takes no --quality, --backend or --threads');
  }
  if (command === 'info' && refine !== undefined) throw new UsageError('info takes no --refine');
  if (command === 'decode' && quality !== undefined) throw new UsageError('decode takes no --quality (it is stored in the file)');
  if (command === 'decode' && refine !== undefined) throw new UsageError('decode takes no --refine (an encoder option)');
  return { command, files, quality, refine, backend, threads, verbose };
}

async function readInput(path: string): Promise<Uint8Array> {
  try {
    const b = await readFile(path);
    return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
  } catch (e) {
    throw new NimgError('BAD_INPUT', `cannot read ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, { cause: e });
  }
}

async function writeOutput(path: string, bytes: Uint8Array): Promise<void> {
  try {
    await writeFile(path, bytes);
  } catch (e) {
    throw new NimgError('BAD_INPUT', `cannot write ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, { cause: e });
  }
}

/**
 * MODEL_MISMATCH before loading anything heavy: the manifest's sha256 starts with the
 * weights hash (weights/README.md). Silent when the manifest cannot be read (init reports it).
 */
async function checkModelEarly(modelId: string, weightsHash: string): Promise<void> {
  let m: { model_id?: unknown; sha256?: unknown };
  try {
    m = JSON.parse(await readFile(weightsPaths().manifest, 'utf8'));
  } catch {
    return;
  }
  if (typeof m.model_id !== 'string' || typeof m.sha256 !== 'string') return;
  const hash = m.sha256.slice(0, 16).toLowerCase();
  if (m.model_id !== modelId || hash !== weightsHash) {
    throw new NimgError('MODEL_MISMATCH', `.nimg file was made with model ${modelId} (weights ${weightsHash}); the installed model is ${m.model_id} (weights ${hash})`);
  }
}

function initOptions(args: Parsed): InitOptions {
  const o: InitOptions = {};
  if (args.backend) o.backend = args.backend;
  if (args.threads) o.threads = args.threads;
  return o;
}

const fmt = (ms: number) => `${ms.toFixed(0)} ms`;

export interface Io {
  stdout: (s: string) => void;
  stderr: (s: string) => void;
}

const defaultIo: Io = {
  stdout: (s) => process.stdout.write(s),
  stderr: (s) => process.stderr.write(s),
};

/** Run the CLI; resolves to the exit status. Never throws. */
export async function main(argv: string[], io: Io = defaultIo): Promise<number> {
  let args: ReturnType<typeof parseArgs>;
  try {
    args = parseArgs(argv);
  } catch (e) {
    io.stderr(`nimg: ${(e as Error).message}\n\n${USAGE}\n`);
    return 2;
  }
  if (args === 'help') {
    io.stdout(`${USAGE}\n`);
    return 0;
  }
  if (args === 'version') {
    const { readFileSync } = await import('node:fs');
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
    io.stdout(`nimg ${pkg.version}\n`);
    return 0;
  }
  try {
    const [inPath, outPath] = args.files;
    if (args.command === 'info') {
      const info = probe(await readInput(inPath));
      io.stdout(`${JSON.stringify(info, null, 2)}\n`);
      return 0;
    }
    if (args.command === 'encode') {
      const input = await readInput(inPath);
      const image = await decodeImageFile(input);
      await init(initOptions(args));
      const { bytes, stats } = await encodeWithStats(image, { quality: args.quality ?? DEFAULT_QUALITY, refine: args.refine, backend: args.backend });
      await writeOutput(outPath, bytes);
      if (args.verbose) {
        io.stderr(
          `${inPath} (${image.width}x${image.height}) → ${outPath}: ${bytes.length} bytes, ${stats.bpp.toFixed(4)} bpp, ` +
            `backend ${stats.backend}, total ${fmt(stats.totalMs)} (transforms ${fmt(stats.transformMs)}, entropy ${fmt(stats.entropyMs)}, pre ${fmt(stats.preMs)}` +
            `${stats.refineMs ? `, refine ${fmt(stats.refineMs)}` : ''})\n`,
        );
      }
      return 0;
    }
    // decode
    const input = await readInput(inPath);
    const info = probe(input); // container errors before loading the model
    await checkModelEarly(info.modelId, info.weightsHash);
    await init(initOptions(args));
    const { image, stats } = await decodeWithStats(input, { backend: args.backend });
    await writeOutput(outPath, encodePng(image));
    if (args.verbose) {
      io.stderr(
        `${inPath} → ${outPath} (${image.width}x${image.height}): backend ${stats.backend}, total ${fmt(stats.totalMs)} ` +
          `(transform ${fmt(stats.transformMs)}, entropy ${fmt(stats.entropyMs)}, post ${fmt(stats.postMs)})\n`,
      );
    }
    return 0;
  } catch (e) {
    const err = isNimgError(e) ? e : new NimgError('INTERNAL', e instanceof Error ? e.message : String(e));
    io.stderr(`NimgError [${err.code}]: ${err.message}\n`);
    return 1;
  } finally {
    await dispose().catch(() => {});
  }
}
