#!/usr/bin/env node
/**
 * Runs workerd (npm package `workerd`) on a folder made by build.mjs.
 *
 *   node examples/edge/serve.mjs [PORT] [--source]
 *       builds (build.mjs; `npm run edge` passes --source: this repository's own sources) and
 *       serves on 127.0.0.1:PORT (default 8787) until Ctrl-C
 *   curl --data-binary @photo.nimg http://127.0.0.1:8787/ > photo.png
 *
 * startWorkerd() is what the tests and bench/edge-worker.ts use: a random free port on
 * 127.0.0.1, ready when it answers HTTP, a bounded wait, and stop() ending that one process.
 */
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = path.dirname(fileURLToPath(import.meta.url));

/** A port that was free a moment ago on 127.0.0.1. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/** The workerd binary of the `workerd` package. */
export function workerdBin() {
  return fileURLToPath(new URL('bin/workerd', import.meta.resolve('workerd/package.json')));
}

/**
 * Serve `dir` (worker.js, the .wasm modules, config.capnp) with the weight files of
 * `weightsDir`. Resolves once workerd answers; rejects if it exits or `timeoutMs` passes.
 */
export async function startWorkerd({ dir, weightsDir, port, timeoutMs = 30_000 }) {
  port ??= await freePort();
  const child = spawn(workerdBin(), ['serve', path.join(dir, 'config.capnp'), '--directory-path', `weights=${weightsDir}`, '--socket-addr', `http=127.0.0.1:${port}`], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let log = '';
  child.stdout.on('data', (d) => (log += d));
  child.stderr.on('data', (d) => (log += d));
  let exited = null;
  child.on('exit', (code, signal) => (exited = `workerd exited (${code ?? signal})`));
  const url = `http://127.0.0.1:${port}/`;
  const stop = () =>
    new Promise((resolve) => {
      if (exited || child.exitCode !== null) return resolve();
      child.once('exit', () => resolve());
      child.kill('SIGTERM');
      setTimeout(() => child.exitCode === null && child.kill('SIGKILL'), 3000).unref();
    });
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (exited) throw new Error(`${exited}:\n${log}`);
    try {
      await fetch(url, { signal: AbortSignal.timeout(2000) });
      break;
    } catch {
      if (Date.now() > deadline) {
        await stop();
        throw new Error(`workerd did not answer on ${url} within ${timeoutMs} ms:\n${log}`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  return { url, port, pid: child.pid, stop, log: () => log };
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const { buildEdgeWorker } = await import('./build.mjs');
  const args = process.argv.slice(2);
  const dir = path.join(HERE, 'out');
  const source = args.includes('--source');
  await buildEdgeWorker({ outdir: dir, source });
  const weightsDir = source ? path.resolve(HERE, '..', '..', 'weights') : path.dirname(fileURLToPath(import.meta.resolve('nimg/weights/nimg-v1.json')));
  const w = await startWorkerd({ dir, weightsDir, port: Number(args.find((a) => !a.startsWith('--')) ?? 8787) });
  console.log(`nimg edge worker on ${w.url} (POST a .nimg file, get a PNG); Ctrl-C stops it`);
  process.on('SIGINT', () => w.stop().then(() => process.exit(0)));
}
