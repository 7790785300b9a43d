/**
 * Names the per-image profile's mid-rate Kodak files: bench/results/files/perimage/kodimNN.nimg,
 * the set the CPU speed bench (perimage-cpu-speed.ts) decodes and anyone can time. They are the
 * λ = MID_LAMBDA files of ONE curve (steps and recipe), the headline one by the rule the RD
 * report uses (perimage-curves.ts headlineFirst: most images, then the newer recipe, then more
 * steps), so every image is timed at the same settings and the files timed are those reported.
 *
 * A row owns its file as `file: "kodimNN.nimg"`; other rows' files are NAME.nimg. This moves
 * ownership: files of rows outside the chosen curve go back to NAME.nimg, the chosen rows'
 * files become kodimNN.nimg, and the rows' `file` fields follow. Idempotent; renames only.
 *
 *   npx tsx bench/perimage-midrate.ts [--dry-run]
 */
import { readFileSync, readdirSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { curveName, headlineFirst, recipeOf, type RecipeFields } from './perimage-curves.js';

const ROWS = 'bench/results/perimage-rows';
const FILES = 'bench/results/files/perimage';
/** the mid rate: λ 1.5e-3 is about 0.5 bpp on Kodak (0.22–0.85 bpp at the default effort) */
export const MID_LAMBDA = 1.5e-3;
const dry = process.argv.includes('--dry-run');

interface Row extends RecipeFields { name: string; image: string; lambda: number; steps: number; crop?: unknown; file?: string }
const rows = readdirSync(ROWS).filter((n) => /^kodim\d\d-.*\.json$/.test(n)).sort()
  .map((n) => ({ path: path.join(ROWS, n), row: JSON.parse(readFileSync(path.join(ROWS, n), 'utf8')) as Row }));
const mid = rows.filter(({ row }) => row.lambda === MID_LAMBDA && !row.crop);

// the curves of the mid-rate rows, headline first
const byCurve = new Map<string, typeof mid>();
for (const m of mid) {
  const k = curveName(m.row.steps, recipeOf(m.row));
  byCurve.set(k, [...(byCurve.get(k) ?? []), m]);
}
const curves = [...byCurve.entries()].map(([name, ms]) => ({ name, ms, n_images: new Set(ms.map((m) => m.row.image)).size, recipe: recipeOf(ms[0].row), steps: ms[0].row.steps }));
const chosen = curves.sort(headlineFirst)[0];
if (!chosen) throw new Error(`no λ = ${MID_LAMBDA} rows in ${ROWS}`);
console.log(`mid-rate set: ${chosen.name}, ${chosen.n_images} images`);

const midName = (r: Row) => `${path.parse(r.image).name}.nimg`;
// the directory's names as the moves leave them (a dry run moves nothing on disk)
const present = new Set(readdirSync(FILES));
const move = (from: string, to: string) => {
  if (from === to) return;
  if (!present.has(from)) throw new Error(`${from} is missing`);
  if (present.has(to)) throw new Error(`${to} exists: will not overwrite it with ${from}`);
  console.log(`${from} -> ${to}`);
  if (!dry) renameSync(path.join(FILES, from), path.join(FILES, to));
  present.delete(from); present.add(to);
};
const save = (p: string, r: Row) => { if (!dry) writeFileSync(p, JSON.stringify(r)); };

// first give back the names: files of rows outside the chosen curve return to NAME.nimg
for (const m of mid) {
  if (chosen.ms.includes(m) || !m.row.file) continue;
  move(m.row.file, `${m.row.name}.nimg`);
  delete m.row.file;
  save(m.path, m.row);
}
// then the chosen rows take kodimNN.nimg (one row per image: the first by name)
const taken = new Set<string>();
for (const m of chosen.ms) {
  const target = midName(m.row);
  if (taken.has(target)) continue;
  taken.add(target);
  move(m.row.file ?? `${m.row.name}.nimg`, target);
  if (m.row.file !== target) { m.row.file = target; save(m.path, m.row); }
}
