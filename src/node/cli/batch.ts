/**
 * Runs the jobs of a CLI invocation: in this process when one at a time, else across
 * `jobs` worker threads (worker.ts), each with its own codec, handing the next file to
 * whichever worker is free. A failed file is reported and the others go on; a codec that
 * cannot be made (no weights, backend unavailable) stops the run, since every file would
 * fail the same way.
 */
import { Worker } from 'node:worker_threads';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { NimgError, isNimgError, type NimgErrorCode } from '../../errors.js';
import type { EncodeProgress } from '../../codec.js';
import { InitFailure, lazyCodec, runJob, type JobResult, type JobSettings } from './job.js';
import type { Job } from './plan.js';
import type { Progress } from './progress.js';

export interface BatchOutcome {
  ok: number;
  failed: number;
  /** the codec could not be made: the run stopped (jobs not started are not counted) */
  fatal?: NimgError;
}

const asNimgError = (e: unknown): NimgError => (isNimgError(e) ? e : new NimgError('INTERNAL', e instanceof Error ? e.message : String(e)));

/** One at a time, in this process (the single-file form, stdin/stdout, --jobs 1). */
async function runHere(jobs: Job[], settings: JobSettings, progress: Progress, prepare?: Prepare): Promise<BatchOutcome> {
  const codec = lazyCodec(settings, prepare);
  const out: BatchOutcome = { ok: 0, failed: 0 };
  try {
    for (const job of jobs) {
      progress.start(job);
      try {
        const r = await runJob(job, settings, codec.get, (p) => progress.update(job, p));
        progress.finish(job, r);
        out.ok++;
      } catch (e) {
        if (e instanceof InitFailure) {
          out.fatal = e.error;
          return out;
        }
        progress.fail(job, asNimgError(e));
        out.failed++;
      }
    }
    return out;
  } finally {
    codec.dispose();
  }
}

/**
 * The worker's entry: compiled JS beside this file (the built package), else the TypeScript
 * source through tsx's scoped loader, as src/backend/node-pool.ts does for its tile workers
 * (`--import tsx` in execArgv does not reach a worker's main module on Node 20).
 */
function workerEntry(): { code: string | URL; eval: boolean } {
  const js = new URL('./worker.js', import.meta.url);
  if (existsSync(fileURLToPath(js))) return { code: js, eval: false };
  const ts = new URL('./worker.ts', import.meta.url).href;
  const require = createRequire(import.meta.url);
  const api = new URL('dist/esm/api/index.mjs', pathToFileURL(require.resolve('tsx/package.json'))).href;
  const code = `import(${JSON.stringify(api)}).then((m) => m.tsImport(${JSON.stringify(ts)}, ${JSON.stringify(ts)}))` +
    `.catch((e) => { require('node:worker_threads').parentPort.postMessage({ type: 'fatal', error: { code: 'INTERNAL', message: 'batch worker failed to start: ' + String(e && e.message || e) } }); });`;
  return { code, eval: true };
}

type FromWorker =
  | { type: 'ready' }
  | { type: 'progress'; index: number; p: EncodeProgress }
  | { type: 'done'; index: number; result: JobResult }
  | { type: 'fail'; index: number; error: { code: NimgErrorCode; message: string } }
  | { type: 'fatal'; error: { code: NimgErrorCode; message: string } };

/** Across `n` worker threads. */
function runInWorkers(jobs: Job[], settings: JobSettings, n: number, progress: Progress): Promise<BatchOutcome> {
  const entry = workerEntry();
  const out: BatchOutcome = { ok: 0, failed: 0 };
  const byIndex = new Map(jobs.map((j) => [j.index, j]));
  let next = 0;
  let settled = false;
  return new Promise<BatchOutcome>((resolve) => {
    const workers: Worker[] = [];
    const inHand = new Map<Worker, Job | null>();
    const finishIfDone = () => {
      if (settled) return;
      const busy = [...inHand.values()].some((j) => j !== null);
      if (out.fatal || (!busy && (next >= jobs.length || inHand.size === 0))) {
        settled = true;
        // jobs that no worker could take (all of them crashed) count as failed
        if (!out.fatal) {
          for (; next < jobs.length; next++) {
            progress.fail(jobs[next], new NimgError('INTERNAL', 'no batch worker left to run it'));
            out.failed++;
          }
        }
        for (const w of workers) void w.terminate();
        resolve(out);
      }
    };
    const give = (w: Worker) => {
      if (next >= jobs.length || out.fatal) {
        inHand.set(w, null);
        finishIfDone();
        return;
      }
      const job = jobs[next++];
      inHand.set(w, job);
      progress.start(job);
      w.postMessage({ type: 'job', job });
    };
    for (let i = 0; i < n; i++) {
      const w = new Worker(entry.code, { eval: entry.eval, workerData: { settings } });
      workers.push(w);
      inHand.set(w, null);
      w.on('message', (m: FromWorker) => {
        if (settled) return;
        if (m.type === 'ready') give(w);
        else if (m.type === 'progress') {
          const job = byIndex.get(m.index);
          if (job) progress.update(job, m.p);
        } else if (m.type === 'done') {
          progress.finish(byIndex.get(m.index) as Job, m.result);
          out.ok++;
          give(w);
        } else if (m.type === 'fail') {
          progress.fail(byIndex.get(m.index) as Job, new NimgError(m.error.code, m.error.message));
          out.failed++;
          give(w);
        } else if (m.type === 'fatal') {
          out.fatal ??= new NimgError(m.error.code, m.error.message);
          finishIfDone();
        }
      });
      const crashed = (err: unknown) => {
        if (settled || !inHand.has(w)) return;
        const job = inHand.get(w);
        inHand.delete(w);
        if (job) {
          progress.fail(job, new NimgError('INTERNAL', `batch worker crashed: ${err instanceof Error ? err.message : String(err)}`));
          out.failed++;
        }
        finishIfDone();
      };
      w.on('error', crashed);
      w.on('exit', (code) => crashed(new Error(`exit code ${code}`)));
    }
  });
}

/** Adjusts the settings once before the first codec is made (the CLI's quiet GPU probe). */
export type Prepare = (s: JobSettings) => Promise<JobSettings>;

/**
 * Run the jobs, `n` at a time (1: in this process). `prepare` runs before the first codec:
 * lazily in this process (so input errors come first, as in the single-file form), or once
 * before the workers start.
 */
export async function runBatch(jobs: Job[], settings: JobSettings, n: number, progress: Progress, prepare?: Prepare): Promise<BatchOutcome> {
  if (jobs.length === 0) return { ok: 0, failed: 0 };
  if (n <= 1 || jobs.length === 1) return runHere(jobs, settings, progress, prepare);
  let s = settings;
  try {
    if (prepare) s = await prepare(settings);
  } catch (e) {
    return { ok: 0, failed: 0, fatal: asNimgError(e) };
  }
  return runInWorkers(jobs, s, Math.min(n, jobs.length), progress);
}
