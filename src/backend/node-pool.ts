/**
 * Node worker_threads for the tile pool. Imported only dynamically (from pool.ts, in Node).
 * When running from TypeScript sources, the worker gets the tsx loader.
 */
import { Worker } from 'node:worker_threads';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { WorkerFactory, WorkerLike } from './pool.js';

function workerEntry(): { url: URL; execArgv: string[] } {
  const js = new URL('./wasm-worker.js', import.meta.url);
  if (existsSync(fileURLToPath(js))) return { url: js, execArgv: [] };
  const ts = new URL('./wasm-worker.ts', import.meta.url);
  const require = createRequire(import.meta.url);
  const tsx = pathToFileURL(require.resolve('tsx')).href;
  return { url: ts, execArgv: ['--import', tsx] };
}

export function nodeWorkerFactory(): WorkerFactory {
  const { url, execArgv } = workerEntry();
  return async (): Promise<WorkerLike> => {
    const w = new Worker(url, { execArgv });
    // Referenced only while it has work: an idle pool never keeps the process alive,
    // a pending tile always does.
    w.unref();
    w.on('message', () => w.unref());
    return {
      postMessage: (m, t) => {
        w.ref();
        w.postMessage(m, t ?? []);
      },
      onMessage: (fn) => w.on('message', fn),
      onError: (fn) => {
        w.on('error', fn);
        w.on('exit', (code) => {
          if (code !== 0) fn(new Error(`worker exited with code ${code}`));
        });
      },
      terminate: () => void w.terminate(),
    };
  };
}
