/**
 * Command-line parsing of `nimg` (src/node/cli.ts): the usage text, the options and the
 * checks that need no file system. A UsageError means exit status 2.
 */
import { DEFAULT_QUALITY, MAX_REFINE, type BackendChoice, type ProfileName } from '../../codec.js';
import { QUALITY_MAX, QUALITY_MIN } from '../../format/container.js';
import { MAX_THREADS } from '../../backend/threads.js';

export const USAGE = `Usage:
  nimg encode IN.png|IN.jpg OUT.nimg [options]      one file ("-": stdin / stdout)
  nimg encode IN... -o DIR [options]                 files and folders (their .png/.jpg/.jpeg)
  nimg decode IN.nimg OUT.png [options]
  nimg decode IN... -o DIR [options]                 files and folders (their .nimg)
  nimg info IN.nimg
  nimg --help | --version

Options:
  -p, --profile P   amortized (default: fast, any machine; container v1) | perimage (a decoder
                    learnt per image and sent in the file; container v2, decodes without
                    the weights; thousands of optimisation steps: use a GPU)
  -q, --quality Q   ${QUALITY_MIN} (smallest) .. ${QUALITY_MAX} (best), continuous, default ${DEFAULT_QUALITY} (both profiles)
  -e, --effort E    perimage encoder effort: the share (0, 1] of the default optimisation
                    steps to run (default 1; 0.25 runs a quarter of them, about 4x faster)
  -r, --refine N    amortized encoder effort: N steps of latent refinement, 0 (default) .. ${MAX_REFINE};
                    on Kodak at equal PSNR, 75 steps: 9.0% smaller, 150: 10.6%; each step
                    runs the decoder's network forward and backward, so use a GPU
                    (--backend webgpu)
  -o, --out-dir DIR write each output to DIR/NAME.nimg (encode) or DIR/NAME.png (decode);
                    DIR is created if missing. Existing outputs are skipped unless --force
  -f, --force       overwrite existing outputs (with --out-dir)
  -j, --jobs N      files coded at once, each by its own codec in a worker thread
                    (default: cores, up to 4 and up to the number of files; 1 on a GPU)
  -b, --backend B   auto (default) | webgpu | wasm | cpu; perimage encodes with auto need a
                    hardware GPU and are refused without one (the message estimates the CPU
                    time): --backend wasm runs them on the CPU anyway
  -t, --threads N   worker threads of the WASM backend per job, 1..${MAX_THREADS}, never more
                    than the cores (default: cores / jobs, up to 8; 1 = none)
  -v, --verbose     print size and stage timings to stderr

Outputs: encode writes .nimg, decode writes .png; other names are refused. A progress bar
goes to stderr on a terminal, one line per file otherwise (with --out-dir).
Environment: NIMG_WEIGHTS (manifest .json; .bin beside it), NIMG_CORE_WASM (core .wasm).
Exit status: 0 ok, 1 bad input or failure (with --out-dir: any file failed; the others are
still written), 2 bad usage.`;

export class UsageError extends Error {}

export type Command = 'encode' | 'decode' | 'info';

export interface Parsed {
  command: Command;
  /** inputs: files, folders, or '-' (stdin) */
  inputs: string[];
  /** the single-file form's output ('-': stdout); undefined with --out-dir */
  output?: string;
  outDir?: string;
  profile?: ProfileName;
  effort?: number;
  quality?: number;
  refine?: number;
  backend?: BackendChoice;
  threads?: number;
  jobs?: number;
  force: boolean;
  verbose: boolean;
}

const BACKENDS = ['auto', 'webgpu', 'wasm', 'cpu'];

/** What each command writes, by extension (lower case); the refusal names these. */
export const OUTPUT_TYPES: Record<'encode' | 'decode', { ext: string; what: string }> = {
  encode: { ext: '.nimg', what: '.nimg' },
  decode: { ext: '.png', what: '.png (PNG)' },
};

/** The file types a command picks from a folder given as input. */
export const INPUT_EXTS: Record<'encode' | 'decode', readonly string[]> = {
  encode: ['.png', '.jpg', '.jpeg'],
  decode: ['.nimg'],
};

function intOption(name: string, s: string, min: number, max: number): number {
  const n = Number(s);
  if (!/^\d+$/.test(s) || n < min || n > max) throw new UsageError(`${name} must be an integer in [${min}, ${max}], got ${JSON.stringify(s)}`);
  return n;
}

export function parseArgs(argv: string[]): Parsed | 'help' | 'version' {
  const files: string[] = [];
  let command = '';
  let quality: number | undefined;
  let refine: number | undefined;
  let profile: ProfileName | undefined;
  let effort: number | undefined;
  let backend: BackendChoice | undefined;
  let verbose = false;
  let force = false;
  let threads: number | undefined;
  let jobs: number | undefined;
  let outDir: string | undefined;
  let endOfOptions = false;
  for (let i = 0; i < argv.length; i++) {
    let a = argv[i];
    if (endOfOptions) {
      if (!command) command = a;
      else files.push(a);
      continue;
    }
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
    if (a === '--') {
      // file names that start with '-' after this
      endOfOptions = true;
    } else if (a === '-q' || a === '--quality') {
      const s = next();
      const q = Number(s);
      if (s.trim() === '' || !Number.isFinite(q) || q < QUALITY_MIN || q > QUALITY_MAX) {
        throw new UsageError(`--quality must be a number in [${QUALITY_MIN}, ${QUALITY_MAX}], got ${JSON.stringify(s)}`);
      }
      quality = q;
    } else if (a === '-p' || a === '--profile') {
      const p = next();
      if (p !== 'amortized' && p !== 'perimage') throw new UsageError(`--profile must be amortized or perimage, got ${JSON.stringify(p)}`);
      profile = p;
    } else if (a === '-e' || a === '--effort') {
      const s = next();
      const e = Number(s);
      if (s.trim() === '' || !Number.isFinite(e) || e <= 0 || e > 1) throw new UsageError(`--effort must be a number in (0, 1], got ${JSON.stringify(s)}`);
      effort = e;
    } else if (a === '-r' || a === '--refine') {
      refine = intOption('--refine', next(), 0, MAX_REFINE);
    } else if (a === '-b' || a === '--backend') {
      const b = next();
      if (!BACKENDS.includes(b)) throw new UsageError(`--backend must be one of ${BACKENDS.join(', ')}, got ${JSON.stringify(b)}`);
      backend = b as BackendChoice;
    } else if (a === '-t' || a === '--threads') {
      // capped like the API's `threads` (src/backend/threads.ts: each worker costs ~80 MB, more than the cores only slows down)
      threads = intOption('--threads', next(), 1, MAX_THREADS);
    } else if (a === '-j' || a === '--jobs') {
      jobs = intOption('--jobs', next(), 1, 256);
    } else if (a === '-o' || a === '--out-dir') {
      outDir = next();
      if (outDir === '' || outDir === '-') throw new UsageError(`--out-dir needs a folder, got ${JSON.stringify(outDir)}`);
    } else if (a === '-f' || a === '--force') {
      force = true;
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
  if (command !== 'encode' && command !== 'decode' && command !== 'info') throw new UsageError(`unknown command ${JSON.stringify(command)}`);
  const base = { command, profile, effort, quality, refine, backend, threads, jobs, force, verbose } as const;
  if (command !== 'encode' && (profile !== undefined || effort !== undefined)) {
    throw new UsageError(`${command} takes no --profile or --effort (the file's header names its profile)`);
  }
  if (effort !== undefined && profile !== 'perimage') throw new UsageError('--effort is for --profile perimage (the amortized profile\'s effort is --refine)');
  if (refine !== undefined && profile === 'perimage') throw new UsageError('--refine is for the amortized profile (perimage takes --effort)');

  if (command === 'info') {
    if (files.length !== 1) throw new UsageError(`info takes 1 file argument, got ${files.length}`);
    if (quality !== undefined || backend !== undefined || threads !== undefined) throw new UsageError('info takes no --quality, --backend or --threads');
    if (refine !== undefined) throw new UsageError('info takes no --refine');
    if (outDir !== undefined || jobs !== undefined || force) throw new UsageError('info takes no --out-dir, --jobs or --force');
    return { ...base, inputs: files };
  }
  if (command === 'decode' && quality !== undefined) throw new UsageError('decode takes no --quality (it is stored in the file)');
  if (command === 'decode' && refine !== undefined) throw new UsageError('decode takes no --refine (an encoder option)');

  if (outDir !== undefined) {
    if (files.length === 0) throw new UsageError(`${command} -o DIR needs at least one input file or folder`);
    if (files.includes('-')) throw new UsageError('"-" (stdin) is for the single-file form, not with --out-dir');
    return { ...base, inputs: files, outDir };
  }
  if (files.length !== 2) {
    throw new UsageError(
      files.length > 2
        ? `${command} takes 2 file arguments (IN OUT); for several inputs give an output folder with -o DIR`
        : `${command} takes 2 file arguments, got ${files.length}`,
    );
  }
  if (jobs !== undefined && jobs > 1) throw new UsageError('--jobs is for several files (with --out-dir)');
  if (force) throw new UsageError('--force is for --out-dir (the single-file form always writes OUT)');
  const [input, output] = files;
  checkOutputType(command, output);
  return { ...base, inputs: [input], output };
}

/** UsageError unless `path` names a type the command writes ('-' is stdout). */
export function checkOutputType(command: 'encode' | 'decode', path: string): void {
  if (path === '-') return;
  const t = OUTPUT_TYPES[command];
  if (!path.toLowerCase().endsWith(t.ext)) {
    const dot = path.lastIndexOf('.');
    const slash = Math.max(path.lastIndexOf('/'), path.lastIndexOf('\\'));
    const ext = dot > slash + 1 ? path.slice(dot) : '(none)';
    throw new UsageError(
      `${command} writes ${t.what} only; the output ${JSON.stringify(path)} has the extension ${ext}. ` +
        `Name it ….${t.ext.slice(1)}, or "-" for stdout${ext === '(none)' ? ', or write into a folder with -o DIR' : ''}`,
    );
  }
}
