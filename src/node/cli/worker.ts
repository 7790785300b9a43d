/**
 * A batch worker of the CLI (worker_threads): its own codec (own WASM core, tfjs engine and
 * weights), made on its first job; runs the jobs batch.ts sends, one at a time.
 *
 * Messages in:  { type: 'job', job: Job }
 * Messages out: { type: 'ready' } once, then per job { type: 'progress', index, p },
 *               { type: 'done', index, result } or { type: 'fail', index, error },
 *               or { type: 'fatal', error } when the codec cannot be made (the run stops).
 */
import { parentPort, workerData } from 'node:worker_threads';
import { NimgError, isNimgError } from '../../errors.js';
import { InitFailure, lazyCodec, runJob, type JobSettings } from './job.js';
import type { Job } from './plan.js';

const port = parentPort;
if (!port) throw new Error('src/node/cli/worker.ts runs as a worker thread');
const settings = (workerData as { settings: JobSettings }).settings;
const codec = lazyCodec(settings);

const plain = (e: unknown) => {
  const err = isNimgError(e) ? e : new NimgError('INTERNAL', e instanceof Error ? e.message : String(e));
  return { code: err.code, message: err.message };
};

port.on('message', async (m: { type: string; job: Job }) => {
  if (m.type !== 'job') return;
  const { index } = m.job;
  try {
    const result = await runJob(m.job, settings, codec.get, (p) => port.postMessage({ type: 'progress', index, p }));
    port.postMessage({ type: 'done', index, result });
  } catch (e) {
    if (e instanceof InitFailure) port.postMessage({ type: 'fatal', error: plain(e.error) });
    else port.postMessage({ type: 'fail', index, error: plain(e) });
  }
});
port.postMessage({ type: 'ready' });
