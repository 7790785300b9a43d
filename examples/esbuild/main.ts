// nimg in an esbuild app: the decode runs in nimg's decoder worker (nimg/worker). esbuild
// does not follow new URL(..., import.meta.url), so build.mjs emits the two worker scripts
// as entries of their own beside this bundle (decoder-worker.js, wasm-worker.js: the names
// the package looks for) and copies the core WASM, the weights and tfjs's .wasm files;
// their URLs are passed here.
import { createDecoder } from 'nimg/worker';
import { nimgAssets } from './assets.js';
import { runDecodeDemo } from '../shared/decode-demo.js';

void runDecodeDemo(() => createDecoder(nimgAssets()), 'sample.nimg', document.getElementById('out') as HTMLCanvasElement, document.getElementById('status')!);
