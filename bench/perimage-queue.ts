/**
 * The job queue of bench/perimage-gpu.ts `jobs` for a device session (written to
 * .gpu/queue.jsonl; paths relative to the repo root on the device, where .gpu/ is carried):
 *   - calibration encodes of the training photos in .gpu/calib/ (BSDS500 train, whole
 *     481x321 photos) at CALIB_LAMBDAS, for the quality -> lambda table (never Kodak);
 *   - Kodak encodes at KODAK_LAMBDAS, the first (mid rate) for all 24 images first.
 * The two first lists are interleaved, then the other Kodak rates follow, image by image.
 * Jobs whose rows already exist (--done DIR holding NAME.json files) are left out: sessions
 * resume where the last one stopped.
 *   npx tsx bench/perimage-queue.ts [--done bench/results/perimage-rows] [--steps 8000] [--out .gpu/queue.jsonl]
 */
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';

const argv = process.argv.slice(2);
const opt = (name: string, def: string): string => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 && argv[i + 1] !== undefined ? argv[i + 1] : def;
};
export const CALIB_LAMBDAS = [1e-2, 3e-3, 1e-3, 3e-4, 1e-4];
export const KODAK_LAMBDAS = [1.5e-3, 5e-4, 4e-3, 1.5e-4];
const steps = +opt('steps', '8000');
const doneDir = opt('done', 'bench/results/perimage-rows');
const done = new Set(existsSync(doneDir) ? readdirSync(doneDir).filter((n) => n.endsWith('.json')).map((n) => n.slice(0, -5)) : []);
const lam = (l: number) => l.toExponential().replace('+', '');

const calibImgs = readdirSync('.gpu/calib').filter((n) => /\.(jpg|png)$/.test(n)).sort();
const kodak = readdirSync('.gpu/kodak').filter((n) => n.endsWith('.png')).sort();
type Job = { name: string; image: string; lambda: number; steps: number };
const calib: Job[] = [];
for (const l of CALIB_LAMBDAS) for (const f of calibImgs) calib.push({ name: `calib-${path.parse(f).name}-l${lam(l)}`, image: `.gpu/calib/${f}`, lambda: l, steps });
const kjob = (f: string, l: number): Job => ({ name: `${path.parse(f).name}-l${lam(l)}`, image: `.gpu/kodak/${f}`, lambda: l, steps });
const mid = kodak.map((f) => kjob(f, KODAK_LAMBDAS[0]));
const rest: Job[] = [];
for (const l of KODAK_LAMBDAS.slice(1)) for (const f of kodak) rest.push(kjob(f, l));
const all: Job[] = [];
for (let i = 0; i < Math.max(calib.length, mid.length); i++) {
  if (i < calib.length) all.push(calib[i]);
  if (i < mid.length) all.push(mid[i]);
}
all.push(...rest);
const todo = all.filter((j) => !done.has(j.name));
writeFileSync(opt('out', '.gpu/queue.jsonl'), todo.map((j) => JSON.stringify(j)).join('\n') + '\n');
console.log(`${todo.length} jobs (${all.length - todo.length} done already)`);
