/**
 * The example pages' decode demo (shared by examples/vite and examples/esbuild): decode a
 * .nimg file with a nimg/worker decoder, paint it, and record the page thread's long tasks
 * meanwhile. The outcome is left on `window.nimgDemo`, the pixels on `window.nimgPixels`
 * (the headless test reads them there).
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
  /** ms from createDecoder to ready (and the file fetched), and of the decode call on the page */
  loadMs?: number;
  decodeMs?: number;
  /** the worker's own stage timings */
  stats?: object;
  /** page-thread long tasks that overlapped the decode call, and the loading before it */
  longTasks: LongTask[];
  loadLongTasks: LongTask[];
}

const tasks: LongTask[] = [];
try {
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) tasks.push({ start: e.startTime, duration: e.duration });
  }).observe({ type: 'longtask', buffered: true });
} catch {
  /* no Long Tasks API: the list stays empty */
}

const overlapping = (a: number, b: number) => tasks.filter((t) => t.start < b && t.start + t.duration > a);

export async function runDecodeDemo(make: () => WorkerDecoder, url: string, canvas: HTMLCanvasElement, status: HTMLElement): Promise<DemoResult> {
  const result: DemoResult = { ok: false, crossOriginIsolated: globalThis.crossOriginIsolated === true, longTasks: [], loadLongTasks: [] };
  const t0 = performance.now();
  let t1 = t0;
  let t2 = t0;
  try {
    const decoder = make();
    const [info, bytes] = await Promise.all([decoder.ready, fetch(url).then((r) => r.arrayBuffer())]);
    t1 = performance.now();
    const { image, stats } = await decoder.decodeWithStats(bytes);
    t2 = performance.now();
    // paint in a task of its own: what follows the decode is the page's business, not the decoder's
    await new Promise((r) => setTimeout(r, 0));
    canvas.width = image.width;
    canvas.height = image.height;
    canvas.getContext('2d')!.putImageData(new ImageData(image.data as Uint8ClampedArray<ArrayBuffer>, image.width, image.height), 0, 0);
    (window as unknown as { nimgPixels: Uint8ClampedArray }).nimgPixels = image.data;
    Object.assign(result, { ok: true, backend: info, threads: decoder.threads, width: image.width, height: image.height, loadMs: t1 - t0, decodeMs: t2 - t1, stats });
    status.textContent = `${image.width}x${image.height} decoded in a worker (${info}, ${decoder.threads} tile thread(s)): load ${(t1 - t0).toFixed(0)} ms, decode ${(t2 - t1).toFixed(0)} ms`;
  } catch (e) {
    result.error = `${(e as { code?: string }).code ?? ''} ${String(e)}`;
    status.textContent = `failed: ${result.error}`;
  }
  // Long task entries arrive after the task ends: give the observer time to deliver them.
  await new Promise((r) => setTimeout(r, 200));
  result.longTasks = overlapping(t1, t2);
  result.loadLongTasks = overlapping(t0, t1);
  (window as unknown as { nimgDemo: DemoResult }).nimgDemo = result;
  return result;
}
