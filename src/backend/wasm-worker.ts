/**
 * Tile worker: its own tfjs engine on the WASM backend, running the same TfNet code as
 * the main thread. Runs as a Node worker_thread (the Node-only import is dynamic) or as
 * a browser/edge module Web Worker.
 *
 * Messages in:  {type:'init', net: PreparedNet, wasmPaths?}
 *               {type:'run', id, op, data: Float32Array (NHWC), h, w}
 * Messages out: {type:'ready'} | {type:'error', id?, message}
 *               {type:'done', id, data, h, w}
 */
import * as tf from '@tensorflow/tfjs-core';
import { TfNet, runTile, type NetOp, type PreparedNet } from '../model/net.js';
import { withoutProcessHooks } from './index.js';

type InMsg =
  | { type: 'init'; net: PreparedNet; wasmPaths?: string | Record<string, string> }
  | { type: 'run'; id: number; op: NetOp; data: Float32Array; h: number; w: number };

interface Port {
  post(msg: unknown, transfer?: ArrayBuffer[]): void;
  listen(fn: (msg: InMsg) => void): void;
}

async function getPort(): Promise<Port> {
  const isNode = typeof process !== 'undefined' && !!process.versions?.node;
  if (isNode) {
    const spec = 'node:worker_threads';
    const { parentPort } = (await import(/* @vite-ignore */ spec)) as typeof import('node:worker_threads');
    if (!parentPort) throw new Error('wasm-worker: not running in a worker thread');
    return {
      post: (m, t) => parentPort.postMessage(m, t ?? []),
      listen: (fn) => parentPort.on('message', fn),
    };
  }
  const scope = globalThis as unknown as { postMessage(m: unknown, t?: ArrayBuffer[]): void; addEventListener(t: string, f: (e: { data: InMsg }) => void): void };
  return {
    post: (m, t) => scope.postMessage(m, t ?? []),
    listen: (fn) => scope.addEventListener('message', (e) => fn(e.data)),
  };
}

async function main(): Promise<void> {
  const port = await getPort();
  let net: TfNet | null = null;
  // Serialise work: one tile at a time in this thread.
  let chain: Promise<void> = Promise.resolve();
  port.listen((msg) => {
    chain = chain.then(async () => {
      try {
        if (msg.type === 'init') {
          const wasm = await import('@tensorflow/tfjs-backend-wasm');
          if (msg.wasmPaths !== undefined) wasm.setWasmPaths(msg.wasmPaths as string);
          // Parallelism comes from the pool: one XNNPACK thread per worker (where the
          // threaded build would load, e.g. cross-origin-isolated pages), no oversubscription.
          wasm.setThreadsCount(1);
          // and the single-threaded build: the threaded one starts its own pthread workers
          // from a Blob of its factory's source text, which minifying bundlers break (the
          // pthreads never report back and setBackend never settles).
          tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', false);
          const ok = await withoutProcessHooks(() => tf.setBackend('wasm'));
          if (!ok) throw new Error('wasm backend failed to initialise in worker');
          await tf.ready();
          net = new TfNet(msg.net);
          port.post({ type: 'ready' });
        } else if (msg.type === 'run') {
          if (!net) throw new Error('worker not initialised');
          const r = await runTile(net, msg.op, msg.data, msg.h, msg.w);
          const out = r.data.slice(); // own buffer, transferable
          port.post({ type: 'done', id: msg.id, data: out, h: r.h, w: r.w }, [out.buffer as ArrayBuffer]);
        }
      } catch (e) {
        port.post({ type: 'error', id: (msg as { id?: number }).id, message: e instanceof Error ? `${e.message}\n${e.stack}` : String(e) });
      }
    });
  });
}

void main();
