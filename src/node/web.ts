/**
 * `npm run web`: serve the browser demo (web/) on http://localhost:8080 (env PORT).
 * Bundles web/main.ts with esbuild (tsx's own dependency) on start, and serves the core,
 * the weights, tfjs's WASM files and .nimg files from .out/ (/out/NAME.nimg, as
 * image/x-nimg). Headers: src/node/web-headers.ts (COOP/COEP so browsers allow WASM threads).
 */
import { createServer } from 'node:http';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { PACKAGE_ROOT } from './loader.js';
import { responseHeaders } from './web-headers.js';

const require = createRequire(import.meta.url);

async function bundle(entry: string): Promise<string> {
  const esbuild = (await import('esbuild')) as typeof import('esbuild');
  const r = await esbuild.build({
    entryPoints: [path.join(PACKAGE_ROOT, entry)],
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    write: false,
    minify: true,
    logLevel: 'warning',
  });
  return r.outputFiles[0].text;
}

async function main(): Promise<void> {
  const js = await bundle('web/main.ts');
  // the WASM backend's tile workers start at new URL('./wasm-worker.js', import.meta.url)
  const worker = await bundle('src/backend/wasm-worker.ts');
  const tfjsDist = path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm/package.json')) + '/dist';
  const routes: Record<string, () => string | Buffer> = {
    '/': () => readFileSync(path.join(PACKAGE_ROOT, 'web', 'index.html')),
    '/main.js': () => js,
    '/wasm-worker.js': () => worker,
    '/sample.png': () => readFileSync(path.join(PACKAGE_ROOT, 'src', 'node', 'sample.png')),
    '/nimg-core.wasm': () => readFileSync(path.join(PACKAGE_ROOT, 'build', 'nimg-core.wasm')),
    '/weights/nimg-v1.json': () => readFileSync(path.join(PACKAGE_ROOT, 'weights', 'nimg-v1.json')),
    '/weights/nimg-v1.bin': () => readFileSync(path.join(PACKAGE_ROOT, 'weights', 'nimg-v1.bin')),
  };
  const port = Number(process.env.PORT ?? 8080);
  createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (req.method === 'POST' && url.pathname === '/log') {
      let body = '';
      req.on('data', (c) => (body += c));
      req.on('end', () => {
        console.log(`[page] ${body}`);
        res.end('ok');
      });
      return;
    }
    let body: string | Buffer | null = null;
    let ext = path.extname(url.pathname) || '.html';
    try {
      if (routes[url.pathname]) body = routes[url.pathname]();
      else if (url.pathname.startsWith('/out/') && url.pathname.endsWith('.nimg')) {
        // .nimg files made by `npm run example` or the CLI into .out/, sent as image/x-nimg
        const f = path.join(PACKAGE_ROOT, '.out', path.basename(url.pathname));
        if (existsSync(f)) body = readFileSync(f);
      } else if (url.pathname.startsWith('/tfjs/')) {
        const f = path.join(tfjsDist, path.basename(url.pathname));
        if (f.endsWith('.wasm') && existsSync(f)) body = readFileSync(f);
      }
    } catch {
      body = null;
    }
    if (body === null) {
      res.writeHead(404).end('not found');
      return;
    }
    if (url.pathname === '/') ext = '.html';
    res.writeHead(200, responseHeaders(url.pathname, ext));
    res.end(body);
  }).listen(port, () => console.log(`nimg demo: http://localhost:${port}/`));
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
