import { describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const ROOT = path.resolve(__dirname, '..');
const KODAK = path.resolve(ROOT, '../shared/data/kodak');
const PEERS = ['jpeg', 'webp', 'avif', 'avif444', 'jxl'];

describe('npm run bench -- --quick', () => {
  it.skipIf(!existsSync(KODAK))(
    'runs end to end on 2 small Kodak crops (peers; nimg too if it loads) and writes JSON',
    async () => {
      const dir = mkdtempSync(path.join(os.tmpdir(), 'nimg-bench-'));
      const json = path.join(dir, 'quick.json');
      const tsx = path.join(ROOT, 'node_modules', '.bin', 'tsx');
      const results = path.join(dir, 'results');
      const run = (args: string[]) =>
        new Promise<{ stdout: string; stderr: string }>((resolve, reject) => {
          execFile(tsx, ['bench/run.ts', ...args], { cwd: ROOT, timeout: 170_000, maxBuffer: 1 << 24 }, (err, stdout, stderr) =>
            err ? reject(Object.assign(err, { stdout, stderr })) : resolve({ stdout, stderr }),
          );
        });
      const { stdout, stderr } = await run(['--quick', '--json', json, '--results', results]);
      expect(stdout).toContain('Rate-distortion');
      expect(stdout).toContain('Speed at a mid quality');
      expect(stderr).not.toMatch(/\x1b\[/); // no ANSI when stderr is not a TTY
      const out = JSON.parse(readFileSync(json, 'utf8'));
      for (const c of PEERS) {
        expect(out.rd.curves[c], c).toHaveLength(2);
        for (const p of out.rd.curves[c]) {
          expect(p.bpp).toBeGreaterThan(0.05);
          expect(p.psnr).toBeGreaterThan(20);
          expect(p.ms_ssim).toBeGreaterThan(0.8);
          expect(p.ms_ssim).toBeLessThanOrEqual(1);
        }
        expect(out.speed.codecs[c].encode_ms_median).toBeGreaterThan(0);
        expect(out.speed.codecs[c].decode_ms_median).toBeGreaterThan(0);
      }
      expect(out.rd.bd_rate_vs_reference.psnr.webp).toBeCloseTo(0, 9);
      // bd_rate_psnr = nimg against each peer: numbers when nimg ran, null when it is missing
      for (const c of PEERS) expect(c in out.rd.bd_rate_psnr, c).toBe(true);
      if (out.rd.curves.nimg) expect(out.rd.bd_rate_psnr.webp).not.toBeNull();
      else expect(out.rd.bd_rate_psnr.webp).toBeNull();
      // nimg is either measured or explicitly marked missing
      expect(Boolean(out.rd.curves.nimg) || Boolean(out.rd.missing.nimg)).toBe(true);

      // results files + plots, and per-codec merging: a second run with one codec keeps the others
      for (const f of ['kodak-rd.json', 'kodak-speed.json', 'kodak-rd.svg', 'kodak-rd-msssim.svg']) expect(existsSync(path.join(results, f)), f).toBe(true);
      const svg = readFileSync(path.join(results, 'kodak-rd.svg'), 'utf8');
      expect(svg.startsWith('<svg')).toBe(true);
      expect(svg.trimEnd().endsWith('</svg>')).toBe(true);
      await run(['--quick', '--codecs', 'jpeg', '--rd-only', '--results', results, '--no-progress']);
      const merged = JSON.parse(readFileSync(path.join(results, 'kodak-rd.json'), 'utf8'));
      for (const c of PEERS) expect(merged.curves[c], c).toHaveLength(2);
    },
    180_000,
  );
});
