/**
 * The example pages' decode demo (shared by examples/vite and examples/esbuild): decode a
 * .nimg file with a nimg/worker decoder, paint it, and record the page thread's long tasks
 * meanwhile. The outcome is left on `window.nimgDemo` (the headless test reads it there).
 */
import type { WorkerDecoder } from 'nimg/worker';

interface LongTask {
  start: number;
  duration: number;
}

export interface DemoResult {
  ok: boolean;
  error?: string;
  backend?: string;
  threads?: number;
  crossOriginIsolated: boolean;
  width?: number;
  height?: number;
  /** decoded RGBA, base64 */
  rgba?: string;
  /** ms from createDecoder to ready, and of the decode call on the page */
  loadMs?: number;
  decodeMs?: number;
  /** the worker's own stage timings */
  stats?: object;
  /** page-thread long tasks that overlapped loading + decoding */
  longTasks: LongTask[];
}

const tasks: LongTask[] = [];
try {
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) tasks.push({ start: e.startTime, duration: e.duration });
  }).observe({ type: 'longtask', buffered: true });
} catch {
  /* no Long Tasks API: the list stays empty */
}

function base64(bytes: Uint8ClampedArray): string {
  let s = '';
  for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(s);
}

export async function runDecodeDemo(make: () => WorkerDecoder, url: string, canvas: HTMLCanvasElement, status: HTMLElement): Promise<DemoResult> {
  const result: DemoResult = { ok: false, crossOriginIsolated: globalThis.crossOriginIsolated === true, longTasks: [] };
  const t0 = performance.now();
  try {
    const decoder = make();
    const [info, bytes] = await Promise.all([decoder.ready, fetch(url).then((r) => r.arrayBuffer())]);
    const t1 = performance.now();
    const { image, stats } = await decoder.decodeWithStats(bytes);
    const t2 = performance.now();
    canvas.width = image.width;
    canvas.height = image.height;
    canvas.getContext('2d')!.putImageData(new ImageData(image.data as Uint8ClampedArray<ArrayBuffer>, image.width, image.height), 0, 0);
    Object.assign(result, { ok: true, backend: info, threads: decoder.threads, width: image.width, height: image.height, rgba: base64(image.data), loadMs: t1 - t0, decodeMs: t2 - t1, stats });
    status.textContent = `${image.width}x${image.height} decoded in a worker (${info}, ${decoder.threads} tile thread(s)): load ${(t1 - t0).toFixed(0)} ms, decode ${(t2 - t1).toFixed(0)} ms`;
  } catch (e) {
    result.error = `${(e as { code?: string }).code ?? ''} ${String(e)}`;
    status.textContent = `failed: ${result.error}`;
  }
  // Long task entries arrive after the task ends: give the observer a frame to deliver them.
  await new Promise((r) => setTimeout(r, 100));
  result.longTasks = tasks.filter((t) => t.start + t.duration >= t0);
  (window as unknown as { nimgDemo: DemoResult }).nimgDemo = result;
  return result;
}
