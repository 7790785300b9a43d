/**
 * `node build.mjs [outdir]` in examples/esbuild (after `npm run build` at the repository
 * root): bundles the two pages and nimg's two worker scripts, and copies the assets.
 * In an app of your own, `npm install nimg` and drop the resolve plugin: it only points this
 * in-repo example at the package as built in ../../dist.
 */
import * as esbuild from 'esbuild';
import { copyFileSync, mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const pkg = resolve(here, '../../dist');
const require = createRequire(import.meta.url);

const inRepoNimg = {
  name: 'in-repo-nimg',
  setup(build) {
    build.onResolve({ filter: /^nimg\/(worker|element)$/ }, (a) => ({ path: join(pkg, a.path.slice(5), 'index.js') }));
  },
};

export async function buildExample(outdir = join(here, 'out')) {
  await esbuild.build({
    entryPoints: {
      main: join(here, 'main.ts'),
      element: join(here, 'element.ts'),
      // nimg starts its workers at new URL('./decoder-worker.js' and './wasm-worker.js',
      // import.meta.url): with every bundle in one folder, these names are found
      'decoder-worker': join(pkg, 'worker/decoder-worker.js'),
      'wasm-worker': join(pkg, 'backend/wasm-worker.js'),
    },
    outdir,
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    minify: true,
    logLevel: 'warning',
    plugins: [inRepoNimg],
  });
  for (const page of ['index.html', 'element.html']) copyFileSync(join(here, page), join(outdir, page));
  mkdirSync(join(outdir, 'nimg'), { recursive: true });
  for (const f of ['nimg-core.wasm', 'weights/nimg-v1.json', 'weights/nimg-v1.bin']) copyFileSync(join(pkg, f), join(outdir, 'nimg', f.replace('weights/', '')));
  const tfjs = join(dirname(require.resolve('@tensorflow/tfjs-backend-wasm/package.json')), 'dist');
  mkdirSync(join(outdir, 'tfjs'), { recursive: true });
  for (const f of ['tfjs-backend-wasm.wasm', 'tfjs-backend-wasm-simd.wasm', 'tfjs-backend-wasm-threaded-simd.wasm']) copyFileSync(join(tfjs, f), join(outdir, 'tfjs', f));
  return outdir;
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) await buildExample(process.argv[2] && resolve(process.argv[2]));
