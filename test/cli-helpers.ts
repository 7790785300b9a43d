/** Spawn the `nimg` CLI (bin/nimg.js) as a separate Node process. */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const BIN = path.join(ROOT, 'bin', 'nimg.js');

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export function runCli(args: string[], env: Record<string, string> = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [BIN, ...args], { cwd: ROOT, env: { ...process.env, ...env } });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d) => (stdout += d));
    p.stderr.on('data', (d) => (stderr += d));
    p.on('error', reject);
    p.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

export interface RunBytesResult {
  code: number | null;
  stdout: Buffer;
  stderr: string;
  ms: number;
}

/** Like runCli, with bytes on stdin and stdout kept as bytes (for `-` inputs and outputs). */
export function runCliBytes(args: string[], opts: { stdin?: Uint8Array; env?: Record<string, string> } = {}): Promise<RunBytesResult> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const p = spawn(process.execPath, [BIN, ...args], { cwd: ROOT, env: { ...process.env, ...opts.env } });
    const out: Buffer[] = [];
    let stderr = '';
    p.stdout.on('data', (d: Buffer) => out.push(d));
    p.stderr.on('data', (d) => (stderr += d));
    p.on('error', reject);
    p.on('close', (code) => resolve({ code, stdout: Buffer.concat(out), stderr, ms: performance.now() - t0 }));
    p.stdin.on('error', () => {}); // the CLI may exit before reading it all
    p.stdin.end(opts.stdin ? Buffer.from(opts.stdin) : undefined);
  });
}
