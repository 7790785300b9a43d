// Where build.mjs put nimg's assets, as absolute URLs (the decoder worker resolves them).
import type { DecoderOptions } from 'nimg/worker';

export function nimgAssets(): DecoderOptions {
  const at = (p: string) => new URL(p, document.baseURI).href;
  return {
    wasm: at('nimg/nimg-core.wasm'),
    weights: { manifest: at('nimg/nimg-v1.json'), bin: at('nimg/nimg-v1.bin') },
    wasmPaths: at('tfjs/'),
  };
}
