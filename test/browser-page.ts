/**
 * Shared harness of the headless-Chromium tests: serve a page on loopback, open it in
 * Chromium, and return the JSON the page POSTs to /result (100 s limit). Each test only
 * says which file answers which path.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer } from 'node:http';
import { join } from 'node:path';

export const chromiumBin = [process.env.CHROMIUM_BIN, '/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome'].find((p) => p && existsSync(p));

export interface PageRun {
  /** URL path (query stripped) → [content type, body], or null for 404 */
  serve(path: string): [string, Uint8Array | string] | null;
  /** Chromium's profile folder (inside the test's temp dir) */
  profileDir: string;
  chromeArgs?: string[];
  env?: NodeJS.ProcessEnv;
}

export async function runPageInChromium(run: PageRun): Promise<Record<string, unknown>> {
  if (!chromiumBin) throw new Error('no Chromium');
  let resolveResult!: (s: string) => void;
  const result = new Promise<string>((r) => (resolveResult = r));
  const server = createServer((req, res) => {
    const u = (req.url ?? '/').split('?')[0];
    if (u === '/result') {
      let body = '';
      req.on('data', (c) => (body += c));
      req.on('end', () => {
        res.end('ok');
        resolveResult(body);
      });
      return;
    }
    const f = u.includes('..') ? null : run.serve(u);
    if (!f) {
      res.statusCode = 404;
      res.end();
      return;
    }
    res.setHeader('Content-Type', f[0]);
    res.end(f[1]);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as { port: number }).port;
  const args = ['--headless=new', '--no-sandbox', '--no-first-run', `--user-data-dir=${join(run.profileDir)}`, ...(run.chromeArgs ?? []), `http://127.0.0.1:${port}/`];
  const chrome = spawn(chromiumBin, args, { stdio: 'ignore', detached: true, env: { ...process.env, ...run.env } });
  try {
    const timeout = new Promise<string>((_, rej) => setTimeout(() => rej(new Error('no result from the page within 100 s')), 100_000));
    return JSON.parse(await Promise.race([result, timeout]));
  } finally {
    try {
      process.kill(-chrome.pid!, 'SIGKILL'); // the browser's own process group
    } catch {
      chrome.kill('SIGKILL');
    }
    server.close();
  }
}
