/**
 * A pool of tile workers, each with its own tfjs WASM backend (see wasm-worker.ts).
 * Node: worker_threads (behind a dynamic import: node-pool.ts). Browsers and edge
 * runtimes: module Web Workers.
 */
import { NimgError, isNimgError } from '../errors.js';
import { withTimeout } from '../timeout.js';
import type { NetOp, PreparedNet } from '../model/net.js';
import { isNode } from './index.js';

export interface TileResult {
  data: Float32Array;
  h: number;
  w: number;
}

export interface TilePool {
  readonly size: number;
  run(op: NetOp, data: Float32Array, h: number, w: number): Promise<TileResult>;
  dispose(): void;
}

/** The minimal worker surface both runtimes provide. */
export interface WorkerLike {
  postMessage(msg: unknown, transfer?: ArrayBuffer[]): void;
  onMessage(fn: (msg: { type: string; id?: number; message?: string; data?: Float32Array; h?: number; w?: number }) => void): void;
  onError(fn: (err: unknown) => void): void;
  terminate(): void;
}

export type WorkerFactory = () => Promise<WorkerLike>;

function browserWorkerFactory(url?: string | URL): WorkerFactory {
  return async () => {
    if (typeof Worker === 'undefined') throw new NimgError('BACKEND_UNAVAILABLE', 'no Web Worker support in this runtime');
    // The literal shape new Worker(new URL('<relative .js>', import.meta.url), {type:'module'})
    // is on purpose: Vite and webpack recognise exactly this shape and bundle the worker as its
    // own entry; any other spelling ships the URL of an unbundled file. The .js name is the
    // file the package build emits beside this one (dist/backend/wasm-worker.js); esbuild
    // leaves the URL as it is, so its users emit the worker as a second entry of that name.
    const w = url ? new Worker(url, { type: 'module' }) : new Worker(new URL('./wasm-worker.js', import.meta.url), { type: 'module' });
    return {
      postMessage: (m, t) => w.postMessage(m, t ?? []),
      onMessage: (fn) => w.addEventListener('message', (e: MessageEvent) => fn(e.data)),
      // A module worker whose script is missing or is not JavaScript fires a bare 'error'
      // event (no message): name the URL so the cause can be found.
      onError: (fn) => w.addEventListener('error', (e) => fn(new Error((e as ErrorEvent).message || `tile worker script failed to load (${url ? String(url) : 'wasm-worker.js beside backend/pool.js'})`))),
      terminate: () => w.terminate(),
    };
  };
}

class Pool implements TilePool {
  private queue: { op: NetOp; data: Float32Array; h: number; w: number; resolve: (r: TileResult) => void; reject: (e: unknown) => void }[] = [];
  private idle: WorkerLike[] = [];
  private pending = new Map<number, { worker: WorkerLike; resolve: (r: TileResult) => void; reject: (e: unknown) => void }>();
  private nextId = 1;
  private dead: unknown = null;

  constructor(private workers: WorkerLike[]) {
    this.idle = workers.slice();
    for (const w of workers) {
      w.onMessage((msg) => {
        if (msg.id === undefined) return;
        const p = this.pending.get(msg.id);
        if (!p) return;
        this.pending.delete(msg.id);
        if (msg.type === 'done') p.resolve({ data: msg.data!, h: msg.h!, w: msg.w! });
        else p.reject(new NimgError('INTERNAL', `tile worker failed: ${msg.message}`));
        this.idle.push(w);
        this.pump();
      });
      w.onError((e) => this.fail(e));
    }
  }

  get size(): number {
    return this.workers.length;
  }

  private fail(e: unknown): void {
    this.dead = e;
    const err = new NimgError('INTERNAL', `tile worker crashed: ${String(e)}`, { cause: e });
    for (const p of this.pending.values()) p.reject(err);
    this.pending.clear();
    for (const q of this.queue) q.reject(err);
    this.queue = [];
  }

  private pump(): void {
    while (this.idle.length && this.queue.length) {
      const w = this.idle.shift()!;
      const job = this.queue.shift()!;
      const id = this.nextId++;
      this.pending.set(id, { worker: w, resolve: job.resolve, reject: job.reject });
      w.postMessage({ type: 'run', id, op: job.op, data: job.data, h: job.h, w: job.w }, [job.data.buffer as ArrayBuffer]);
    }
  }

  run(op: NetOp, data: Float32Array, h: number, w: number): Promise<TileResult> {
    if (this.dead) return Promise.reject(new NimgError('INTERNAL', `tile worker pool is dead: ${String(this.dead)}`));
    return new Promise((resolve, reject) => {
      this.queue.push({ op, data, h, w, resolve, reject });
      this.pump();
    });
  }

  dispose(): void {
    for (const w of this.workers) w.terminate();
    this.workers = [];
    this.idle = [];
    this.fail(new Error('pool disposed'));
  }
}

export interface PoolOptions {
  wasmPaths?: string | Record<string, string>;
  /** the tile worker's script (default: wasm-worker.js beside this module) */
  workerUrl?: string | URL;
  /** ms until the workers must have answered 'ready' (default: none) */
  timeoutMs?: number;
}

/** Start `threads` workers holding `net`; resolves when all are ready. */
export async function createWasmPool(net: PreparedNet, threads: number, opts: PoolOptions = {}): Promise<TilePool> {
  let factory: WorkerFactory;
  if (isNode) {
    // Hidden from bundlers: browser builds must not pull node:worker_threads in.
    const spec = './node-pool.js';
    factory = ((await import(/* @vite-ignore */ spec)) as typeof import('./node-pool.js')).nodeWorkerFactory();
  } else {
    factory = browserWorkerFactory(opts.workerUrl);
  }
  const workers: WorkerLike[] = [];
  const start = async () => {
    for (let i = 0; i < threads; i++) workers.push(await factory());
    await Promise.all(
      workers.map(
        (w) =>
          new Promise<void>((resolve, reject) => {
            let done = false;
            w.onMessage((m) => {
              if (done) return;
              if (m.type === 'ready') {
                done = true;
                resolve();
              } else if (m.type === 'error') {
                done = true;
                reject(new Error(m.message));
              }
            });
            w.onError((e) => {
              if (!done) {
                done = true;
                reject(e);
              }
            });
            // Structured clone (no transfer): every worker gets its own copy.
            w.postMessage({ type: 'init', net, wasmPaths: opts.wasmPaths });
          }),
      ),
    );
  };
  try {
    await withTimeout(start(), opts.timeoutMs ?? Infinity, `starting ${threads} WASM tile workers`);
  } catch (e) {
    for (const w of workers) w.terminate();
    const code = isNimgError(e) && e.code === 'TIMEOUT' ? 'TIMEOUT' : 'BACKEND_UNAVAILABLE';
    throw new NimgError(code, `could not start WASM tile workers: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
  }
  return new Pool(workers);
}
