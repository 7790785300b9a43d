// Quick WebGPU adapter probe (Dawn via the npm "webgpu" package): prints the adapter or null.
// Run from a folder whose node_modules (or a parent's) holds "webgpu".
import { create, globals } from 'webgpu';
Object.assign(globalThis, globals);
const gpu = create([]);
const t0 = performance.now();
const a = await gpu.requestAdapter({ powerPreference: 'high-performance' });
if (!a) {
  console.log('PROBE adapter: null');
  process.exit(2);
}
const i = a.info ?? {};
console.log(`PROBE adapter: ${[i.vendor, i.architecture, i.device, i.description].filter(Boolean).join(' / ')} (fallback ${a.isFallbackAdapter ?? i.isFallbackAdapter}) in ${(performance.now() - t0).toFixed(0)} ms`);
console.log(`PROBE limits: maxStorageBufferBindingSize ${a.limits.maxStorageBufferBindingSize}, maxBufferSize ${a.limits.maxBufferSize}, maxComputeWorkgroupsPerDimension ${a.limits.maxComputeWorkgroupsPerDimension}`);
process.exit(0);
