/**
 * Is there a WebGPU adapter? Asked in a child process whose stderr is captured: Dawn and the
 * Vulkan loader print their warnings ("vkCreateInstance: Found no drivers!") straight to
 * file descriptor 2 from native code, which nothing in this process can silence. The CLI
 * asks before it would load Dawn itself, so a machine without a GPU gets one clean
 * `NimgError [BACKEND_UNAVAILABLE]` line (or, under `auto`, the WASM backend) and no noise.
 */
import { spawn } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { NimgError } from '../../errors.js';

export interface GpuProbe {
  found: boolean;
  /** a software adapter (SwiftShader, llvmpipe, a fallback adapter): slower than WASM */
  software: boolean;
  /** the adapter's description, or why none was found */
  description: string;
  /** what Dawn printed on stderr meanwhile (shown with --verbose) */
  noise: string;
}

/**
 * Linux: any GPU device node (or a Vulkan driver list in the environment)? Without one Dawn
 * finds no hardware adapter; the same test as src/backend/index.ts's for `auto`.
 */
export function mayHaveGpu(): boolean {
  if (process.platform !== 'linux') return true;
  if (process.env.VK_ICD_FILENAMES || process.env.VK_DRIVER_FILES) return true;
  if (existsSync('/dev/nvidia0') || existsSync('/dev/kfd')) return true;
  try {
    return readdirSync('/dev/dri').some((n) => n.startsWith('renderD'));
  } catch {
    return false;
  }
}

/** as src/backend/index.ts: adapters that `auto` never takes */
const SOFTWARE_RE = /swiftshader|llvmpipe|lavapipe|softpipe|software|microsoft basic render/i;

const SCRIPT = `
const m = await import(process.argv[1]);
const gpu = m.create((process.env.NIMG_DAWN_FLAGS ?? '').split(/\\s+/).filter(Boolean));
const a = await gpu.requestAdapter({ powerPreference: 'high-performance' });
const i = a ? (a.info ?? {}) : {};
process.stdout.write(JSON.stringify({ found: !!a, fallback: !!(a && (a.isFallbackAdapter || i.isFallbackAdapter)), description: a ? [i.vendor, i.architecture, i.device, i.description].filter(Boolean).join(' / ') || '(no adapter info)' : 'requestAdapter returned null' }));
process.exit(0);
`;

/** Probe for an adapter in a child process (at most `timeoutMs`). */
export function probeGpuQuietly(timeoutMs = 60_000): Promise<GpuProbe> {
  let url: string;
  try {
    url = pathToFileURL(createRequire(import.meta.url).resolve('webgpu')).href;
  } catch {
    return Promise.resolve({ found: false, software: false, description: 'the optional "webgpu" package (Dawn for Node) is not installed', noise: '' });
  }
  return new Promise((resolve) => {
    const p = spawn(process.execPath, ['--input-type=module', '-e', SCRIPT, url], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    p.stdout.on('data', (d) => (out += d));
    p.stderr.on('data', (d) => (err += d));
    const timer = setTimeout(() => p.kill('SIGKILL'), timeoutMs);
    p.on('error', (e) => {
      clearTimeout(timer);
      resolve({ found: false, software: false, description: `probe failed: ${e.message}`, noise: err });
    });
    p.on('close', (code) => {
      clearTimeout(timer);
      try {
        const r = JSON.parse(out) as { found: boolean; fallback: boolean; description: string };
        const description = String(r.description);
        resolve({ found: !!r.found, software: !!r.fallback || SOFTWARE_RE.test(description), description, noise: err });
      } catch {
        resolve({ found: false, software: false, description: `the adapter probe ${code === null ? 'timed out' : `exited with ${code}`}`, noise: err });
      }
    });
  });
}

/**
 * The backend the CLI should ask for, decided without Dawn's noise: `webgpu` stays (or
 * fails with BACKEND_UNAVAILABLE when there is no adapter); `auto` becomes `wasm` where the
 * probe finds no adapter or a software one (what `auto` would pick, without loading Dawn
 * again). Other choices pass.
 */
export async function quietBackend<T extends { backend?: string }>(settings: T, log?: (s: string) => void): Promise<T> {
  const b = settings.backend ?? 'auto';
  if (b !== 'webgpu' && !(b === 'auto' && mayHaveGpu())) return settings;
  const p = await probeGpuQuietly();
  if (log && p.noise.trim()) log(`nimg: the WebGPU probe printed:\n${p.noise.trimEnd()}`);
  if (p.found && (b === 'webgpu' || !p.software)) return settings;
  if (b === 'webgpu') throw new NimgError('BACKEND_UNAVAILABLE', `webgpu: no adapter (${p.description})`);
  return { ...settings, backend: 'wasm' };
}
