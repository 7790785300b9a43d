// nimg in a Vite app: the decode runs in nimg's decoder worker (nimg/worker). Vite bundles
// that worker, its tile workers, the core WASM and the weights by itself (they are
// referenced with new URL(..., import.meta.url)); only tfjs's .wasm files need a home,
// emitted into tfjs/ by vite.config.ts.
import { createDecoder } from 'nimg/worker';
import { runDecodeDemo } from '../shared/decode-demo.js';

const wasmPaths = new URL('tfjs/', document.baseURI).href;
void runDecodeDemo(() => createDecoder({ wasmPaths }), 'sample.nimg', document.getElementById('out') as HTMLCanvasElement, document.getElementById('status')!);
