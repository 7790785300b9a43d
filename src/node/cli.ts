/**
 * The `nimg` command line (bin/nimg.js). Node only.
 *
 *   nimg encode IN.(png|jpg) OUT.nimg [--profile P] [--quality Q] [--refine N | --effort E] [--backend B]   ('-': stdin/stdout)
 *   nimg encode IN... -o DIR [--jobs N] [--force] …                             (files and folders)
 *   nimg decode IN.nimg OUT.png | nimg decode IN... -o DIR
 *   nimg info IN.nimg
 *
 * Exit status: 0 success; 1 bad input or failure (stderr: `NimgError [CODE]: message`, no
 * stack trace; with -o, any file failed, the others still written, and a summary line);
 * 2 bad usage (stderr: the message and the usage text).
 *
 * Parts: cli/args.ts (options, usage), cli/plan.ts (inputs → jobs, outputs checked before
 * work), cli/batch.ts + cli/worker.ts (running them, in worker threads when several at
 * once), cli/job.ts (one file), cli/progress.ts (stderr), cli/gpu-probe.ts (no Dawn noise).
 */
import { readdirSync, rmSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import path from 'node:path';
import { NimgError, isNimgError } from '../errors.js';
import { probe } from '../codec.js';
import './defaults.js';
import { USAGE, UsageError, parseArgs, type Parsed } from './cli/args.js';
import { makePlan } from './cli/plan.js';
import { readInput, type JobSettings } from './cli/job.js';
import { runBatch } from './cli/batch.js';
import { Progress, formatDuration } from './cli/progress.js';
import { mayHaveGpu, quietBackend } from './cli/gpu-probe.js';

export { USAGE, parseArgs } from './cli/args.js';

export interface Io {
  stdout: (s: string) => void;
  stderr: (s: string) => void;
  /** is stderr a terminal (progress bar) — default: process.stderr.isTTY */
  stderrIsTTY?: boolean;
  /** terminal width for the progress bar — default: process.stderr.columns */
  columns?: number;
  /** is stdout a terminal (refuse to write a binary output there) — default: process.stdout.isTTY */
  stdoutIsTTY?: boolean;
}

const defaultIo: Io = {
  stdout: (s) => process.stdout.write(s),
  stderr: (s) => process.stderr.write(s),
};

/**
 * Files coded at once. Asked for: at most the cores and the files. By default: cores, at
 * most 4 (each job holds its own model and tile buffers), at most the files; 1 where the
 * work goes to a GPU, which one codec keeps busy.
 */
export function jobCount(args: Pick<Parsed, 'jobs' | 'backend'>, files: number, cores = availableParallelism()): number {
  const cap = Math.max(1, Math.min(cores, files));
  if (args.jobs !== undefined) return Math.min(args.jobs, cap);
  const b = args.backend ?? 'auto';
  if (b === 'webgpu' || (b === 'auto' && mayHaveGpu())) return 1;
  return Math.min(4, cap);
}

const failure = (e: unknown): NimgError => (isNimgError(e) ? e : new NimgError('INTERNAL', e instanceof Error ? e.message : String(e)));

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
    if (args.command === 'info') {
      const info = probe(await readInput(args.inputs[0]));
      io.stdout(`${JSON.stringify(info, null, 2)}\n`);
      return 0;
    }
    return await code(args, io);
  } catch (e) {
    if (e instanceof UsageError) {
      io.stderr(`nimg: ${e.message}\n\n${USAGE}\n`);
      return 2;
    }
    const err = failure(e);
    io.stderr(`NimgError [${err.code}]: ${err.message}\n`);
    return 1;
  }
}

/** encode / decode: plan, run, report. */
async function code(args: Parsed, io: Io): Promise<number> {
  const command = args.command as 'encode' | 'decode';
  const stdoutTTY = io.stdoutIsTTY ?? (io === defaultIo && !!process.stdout.isTTY);
  if (args.output === '-' && stdoutTTY) {
    throw new UsageError(`${command} would write binary data to the terminal: redirect stdout (… - > out${command === 'encode' ? '.nimg' : '.png'})`);
  }
  const t0 = performance.now();
  const plan = await makePlan(args);
  const n = jobCount(args, plan.jobs.length);
  const settings: JobSettings = {
    command,
    profile: args.profile,
    quality: args.quality,
    refine: args.refine,
    effort: args.effort,
    backend: args.backend,
    requestedBackend: args.backend,
    threads: args.threads,
  };
  // several jobs share the cores: each WASM backend gets its share of threads
  if (n > 1 && settings.threads === undefined) settings.threads = Math.max(1, Math.floor(availableParallelism() / n));
  const tty = io.stderrIsTTY ?? (io === defaultIo && !!process.stderr.isTTY);
  const progress = new Progress(
    { write: io.stderr, columns: io.columns ?? (io === defaultIo ? process.stderr.columns : undefined) },
    { mode: tty ? 'bar' : plan.batch ? 'lines' : 'quiet', total: plan.jobs.length, verb: command, verbose: args.verbose, prefixInput: plan.batch },
  );
  for (const f of plan.failed) progress.fail(f, f.error);
  const log = args.verbose ? (s: string) => progress.line(s) : undefined;
  // Ctrl-C: no bar left on the line and no temporary outputs left behind (job.ts writes
  // `.NAME.PID.HEX.tmp` beside each output; worker threads share this process's pid)
  const onSigint = () => {
    progress.end();
    const dirs = new Set(plan.jobs.filter((j) => j.output !== '-').map((j) => path.dirname(j.output)));
    const tmp = new RegExp(`^\\..*\\.${process.pid}\\.[0-9a-f]{8}\\.tmp$`);
    for (const d of dirs) {
      try {
        for (const f of readdirSync(d)) if (tmp.test(f)) rmSync(path.join(d, f), { force: true });
      } catch {
        /* nothing to clean there */
      }
    }
    io.stderr('nimg: interrupted\n');
    process.exit(130);
  };
  process.once('SIGINT', onSigint);
  let outcome;
  try {
    outcome = await runBatch(plan.jobs, settings, n, progress, (s) => quietBackend(s, log));
  } finally {
    process.removeListener('SIGINT', onSigint);
    progress.end();
  }
  const failed = outcome.failed + plan.failed.length;
  if (!plan.batch) {
    if (outcome.fatal) io.stderr(`NimgError [${outcome.fatal.code}]: ${outcome.fatal.message}\n`);
    return outcome.fatal || failed ? 1 : 0;
  }
  if (outcome.fatal) io.stderr(`NimgError [${outcome.fatal.code}]: ${outcome.fatal.message}\n`);
  const verb = command === 'encode' ? 'encoded' : 'decoded';
  const parts = [`${outcome.ok} ${verb}`, `${failed} failed`];
  parts.push(plan.skipped.length ? `${plan.skipped.length} skipped (output exists; --force overwrites)` : '0 skipped');
  if (outcome.fatal) parts.push(`${plan.jobs.length - outcome.ok - outcome.failed} not started`);
  io.stderr(`nimg: ${parts.join(', ')} in ${formatDuration(performance.now() - t0)}${n > 1 ? ` (${n} jobs)` : ''}\n`);
  if (args.verbose) for (const s of plan.skipped) io.stderr(`nimg: skipped ${s.input}: ${s.output} exists\n`);
  return outcome.fatal || failed ? 1 : 0;
}
