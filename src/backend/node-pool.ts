/**
 * Node worker_threads for the tile pool. Imported only dynamically (from pool.ts, in Node).
 * When running from TypeScript sources, the worker gets the tsx loader.
 */
import { Worker } from 'node:worker_threads';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { WorkerFactory, WorkerLike } from './pool.js';

/**
 * The worker's entry: compiled JS if present beside this file, else the TypeScript source
 * loaded through tsx's scoped loader (tsx is a dependency; `--import tsx` in a worker's
 * execArgv does not reach the worker's main module on Node 20).
 */
function workerEntry(): { code: string | URL; eval: boolean } {
  const js = new URL('./wasm-worker.js', import.meta.url);
  if (existsSync(fileURLToPath(js))) return { code: js, eval: false };
  const ts = new URL('./wasm-worker.ts', import.meta.url).href;
  const require = createRequire(import.meta.url);
  // the ESM build of tsx's API (require.resolve would pick its CJS twin)
  const api = new URL('dist/esm/api/index.mjs', pathToFileURL(require.resolve('tsx/package.json'))).href;
  const code = `import(${JSON.stringify(api)}).then((m) => m.tsImport(${JSON.stringify(ts)}, ${JSON.stringify(ts)}))` +
    `.catch((e) => { require('node:worker_threads').parentPort.postMessage({ type: 'error', message: String(e && e.stack || e) }); });`;
  return { code, eval: true };
}

export function nodeWorkerFactory(): WorkerFactory {
  const entry = workerEntry();
  return async (): Promise<WorkerLike> => {
    const w = new Worker(entry.code, { eval: entry.eval });
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
