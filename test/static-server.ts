/**
 * A static file server on 127.0.0.1 for the headless-browser tests: serves folders (first
 * match wins), optionally with the COOP/COEP headers that make a page cross-origin
 * isolated, and records the paths requested.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { extname, join, normalize } from 'node:path';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.wasm': 'application/wasm',
  '.json': 'application/json',
  '.png': 'image/png',
};

export interface StaticServer {
  url: string;
  /** paths requested so far, in order */
  requests: string[];
  close(): Promise<void>;
}

export async function serveStatic(dirs: string[], opts: { isolated?: boolean } = {}): Promise<StaticServer> {
  const requests: string[] = [];
  const server: Server = createServer((req, res) => {
    const path = decodeURIComponent((req.url ?? '/').split('?')[0]);
    requests.push(path);
    const rel = normalize(path === '/' ? '/index.html' : path);
    const file = rel.includes('..') ? null : dirs.map((d) => join(d, rel)).find((f) => existsSync(f) && statSync(f).isFile());
    const headers: Record<string, string> = { 'cache-control': 'no-store' };
    if (opts.isolated) {
      headers['cross-origin-opener-policy'] = 'same-origin';
      headers['cross-origin-embedder-policy'] = 'require-corp';
    }
    if (!file) {
      res.writeHead(404, headers).end('not found');
      return;
    }
    headers['content-type'] = TYPES[extname(file)] ?? 'application/octet-stream';
    res.writeHead(200, headers).end(readFileSync(file));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as { port: number }).port;
  return {
    url: `http://127.0.0.1:${port}/`,
    requests,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}
