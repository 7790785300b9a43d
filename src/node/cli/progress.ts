/**
 * Progress of a CLI run on stderr. Three modes:
 *   'bar'   a terminal: one status line redrawn in place (bar, counts, elapsed, ETA, the
 *           file in work and its stage, e.g. `refine 45/150`); lines about finished files
 *           (failures, --verbose) are printed above it.
 *   'lines' not a terminal, several files: one plain line per finished file.
 *   'quiet' not a terminal, one file: nothing (the single-file form stays silent for scripts).
 * Failures are printed in every mode, as `NimgError [CODE]: INPUT: message`.
 */
import path from 'node:path';
import type { EncodeProgress } from '../../codec.js';
import type { NimgError } from '../../errors.js';
import type { Job } from './plan.js';
import type { JobResult } from './job.js';

export type ProgressMode = 'bar' | 'lines' | 'quiet';

export interface ProgressSink {
  write(s: string): void;
  /** terminal width, when a terminal */
  columns?: number;
}

export interface ProgressOptions {
  mode: ProgressMode;
  /** jobs that will run (skipped and unrunnable inputs excluded) */
  total: number;
  verb: 'encode' | 'decode';
  verbose: boolean;
  now?: () => number;
  /** name the input in failure lines (several files; the single-file form's messages name it already) */
  prefixInput: boolean;
  /** redraw the bar on a timer too, so the clock moves while a job gives no news (off in tests) */
  tick?: boolean;
}

/** 0:07, 1:05, 1:02:03 */
export function formatDuration(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const ss = String(s % 60).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${ss}` : `${m}:${ss}`;
}

/**
 * How far a job is, 0..1, from its encoder progress: refinement (amortized) or the
 * optimisation (perimage) dominates such an encode (5% .. 95%); otherwise analysis is most
 * of the transforms' time.
 */
export function jobFraction(p: EncodeProgress | undefined, refining: boolean): number {
  if (!p) return 0;
  switch (p.stage) {
    case 'analysis':
      return refining ? 0.02 : 0.05;
    case 'refine':
    case 'optimize':
      return 0.05 + (0.9 * p.done) / Math.max(1, p.total);
    case 'coding': {
      // perimage: parameter quantization, one unit per tensor (amortized: 0/1)
      const start = refining ? 0.95 : 0.7;
      return start + ((1 - start) * p.done) / Math.max(1, p.total);
    }
    default:
      return 1;
  }
}

const SPINNER = '⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏';

export class Progress {
  private readonly t0: number;
  private readonly now: () => number;
  private done = 0;
  private failed = 0;
  private readonly active = new Map<number, { job: Job; p?: EncodeProgress }>();
  private shown = false;
  private lastDraw = -Infinity;
  private frame = 0;
  private timer: ReturnType<typeof setInterval> | null = null;
  private ended = false;

  constructor(private readonly out: ProgressSink, private readonly o: ProgressOptions) {
    this.now = o.now ?? (() => performance.now());
    this.t0 = this.now();
    if (o.mode === 'bar' && o.tick !== false) {
      this.timer = setInterval(() => this.draw(true), 250);
      this.timer.unref?.();
    }
  }

  start(job: Job): void {
    this.active.set(job.index, { job });
    this.draw(true);
  }

  update(job: Job, p: EncodeProgress): void {
    const a = this.active.get(job.index);
    if (a) a.p = p;
    this.draw(false);
  }

  finish(job: Job, r: JobResult): void {
    this.active.delete(job.index);
    this.done++;
    const where = job.output === '-' ? 'stdout' : job.output;
    const size = `${r.bytes} bytes, ${r.width}x${r.height}, ${r.bpp.toFixed(4)} bpp`;
    if (this.o.mode === 'lines') {
      this.line(`nimg: [${this.done + this.failed}/${this.o.total}] ${job.input} → ${where}: ${size}${this.o.verbose ? `, backend ${r.backend}, ${r.timings}` : ''}`);
    } else if (this.o.verbose) {
      this.line(`${job.input === '-' ? 'stdin' : job.input} → ${where}: ${size}, backend ${r.backend}, ${r.timings}`);
    }
    this.draw(true);
  }

  fail(job: Job | { input: string }, e: NimgError): void {
    if ('index' in job) {
      this.active.delete(job.index);
      this.failed++;
    }
    this.line(`NimgError [${e.code}]: ${this.o.prefixInput ? `${job.input}: ` : ''}${e.message}`);
    this.draw(true);
  }

  /** A line above the bar (or alone without one). */
  line(s: string): void {
    this.clear();
    this.out.write(`${s}\n`);
  }

  /** Remove the bar and stop the clock. */
  end(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.clear();
    this.ended = true;
  }

  /** The status line as it would be drawn now (no colour, no cursor codes). */
  status(): string {
    const elapsed = this.now() - this.t0;
    const total = this.o.total;
    let frac = this.done + this.failed;
    for (const a of this.active.values()) frac += jobFraction(a.p, a.p?.stage === 'refine' || a.p?.stage === 'optimize' || (a.p?.total ?? 0) > 1);
    frac = total > 0 ? Math.min(1, frac / total) : 1;
    const current = [...this.active.values()].map((a) => {
      const name = a.job.input === '-' ? 'stdin' : path.basename(a.job.input);
      // the long stages show their steps: `refine 45/150`, `optimize 2400/8000`
      return a.p?.stage === 'refine' || a.p?.stage === 'optimize' ? `${name} ${a.p.stage} ${a.p.done}/${a.p.total}` : name;
    });
    // an estimate needs some progress to go on
    const eta = frac > 0.02 && frac < 1 ? `, ETA ${formatDuration((elapsed * (1 - frac)) / frac)}` : '';
    const clock = `${formatDuration(elapsed)}${eta}`;
    if (total <= 1) {
      const spin = SPINNER[this.frame % SPINNER.length];
      return `${spin} ${this.o.verb} ${current[0] ?? ''} · ${clock}`;
    }
    const width = 20;
    const filled = Math.round(frac * width);
    const bar = '█'.repeat(filled) + '░'.repeat(width - filled);
    const counts = `${this.done + this.failed}/${total}${this.failed ? ` (${this.failed} failed)` : ''}`;
    return `${bar} ${counts} · ${clock}${current.length ? ` · ${current.join(', ')}` : ''}`;
  }

  private clear(): void {
    if (this.shown) this.out.write('\r\x1b[K');
    this.shown = false;
  }

  /** Redraw the bar; progress updates at most every 100 ms. */
  private draw(force: boolean): void {
    if (this.o.mode !== 'bar' || this.ended) return;
    const t = this.now();
    if (!force && t - this.lastDraw < 100) return;
    this.lastDraw = t;
    this.frame++;
    let s = this.status();
    const cols = this.out.columns || 80; // 0 from a pseudo-terminal without a size
    // a line wider than the terminal wraps, and `\r` would then redraw only its tail
    if (s.length > cols - 1) s = `${s.slice(0, Math.max(0, cols - 2))}…`;
    this.out.write(`\r\x1b[K${s}`);
    this.shown = true;
  }
}
