/**
 * `npx vite build` in examples/vite (after `npm run build` at the repository root).
 * In an app of your own, `npm install nimg` and drop the alias: it only points this in-repo
 * example at the package as built in ../../dist.
 */
import { defineConfig, type Plugin } from 'vite';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);

/** tfjs-backend-wasm loads its .wasm at run time from `wasmPaths`: ship them in tfjs/. */
function tfjsWasmFiles(): Plugin {
  const dir = join(dirname(require.resolve('@tensorflow/tfjs-backend-wasm/package.json')), 'dist');
  return {
    name: 'nimg-example-tfjs-wasm',
    apply: 'build',
    generateBundle() {
      for (const f of ['tfjs-backend-wasm.wasm', 'tfjs-backend-wasm-simd.wasm', 'tfjs-backend-wasm-threaded-simd.wasm']) {
        this.emitFile({ type: 'asset', fileName: `tfjs/${f}`, source: readFileSync(join(dir, f)) });
      }
    },
  };
}

export default defineConfig({
  root: here,
  base: './',
  resolve: {
    alias: [{ find: /^nimg\/(worker|element)$/, replacement: resolve(here, '../../dist/$1/index.js') }],
  },
  // the dev server pre-bundles dependencies with esbuild, which would lose the workers
  optimizeDeps: { exclude: ['nimg'] },

  build: {
    target: 'es2022',
    rollupOptions: { input: { index: join(here, 'index.html'), element: join(here, 'element.html') } },
  },
  plugins: [tfjsWasmFiles()],
});
