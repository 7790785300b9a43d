/**
 * Cancellation of one encode or decode: the caller's AbortSignal and/or a time budget
 * (`timeoutMs`). The pipeline calls `check()` between stages and between tiles, so the work
 * stops at the next tile boundary; `race()` rejects the caller's promise the moment the
 * signal fires or the budget runs out, without waiting for a tile already running in a
 * worker (that tile finishes in the background and its result is dropped).
 * Both throw NimgError('ABORTED').
 */
import { NimgError } from './errors.js';

/** What the tile loops see: a cheap synchronous check. */
export interface AbortCheck {
  /** ABORTED if the signal fired or the time budget ran out */
  check(where?: string): void;
}

const now = (): number => (typeof performance !== 'undefined' ? performance.now() : Date.now());

function isSignal(s: unknown): s is AbortSignal {
  return (
    !!s &&
    typeof s === 'object' &&
    typeof (s as AbortSignal).aborted === 'boolean' &&
    typeof (s as AbortSignal).addEventListener === 'function' &&
    typeof (s as AbortSignal).removeEventListener === 'function'
  );
}

export class Abort implements AbortCheck {
  private readonly deadline: number;
  private reason: NimgError | null = null;

  private constructor(
    private readonly signal: AbortSignal | undefined,
    private readonly timeoutMs: number,
    private readonly what: string,
  ) {
    this.deadline = timeoutMs === Infinity ? Infinity : now() + timeoutMs;
  }

  /**
   * Validate `signal` (an AbortSignal or undefined) and `timeoutMs` (a positive number,
   * Infinity or undefined); BAD_INPUT otherwise. Returns null when neither is set.
   */
  static from(signal: unknown, timeoutMs: unknown, what: string): Abort | null {
    if (signal !== undefined && !isSignal(signal)) throw new NimgError('BAD_INPUT', `${what}: signal must be an AbortSignal`);
    if (timeoutMs !== undefined && !(typeof timeoutMs === 'number' && timeoutMs > 0 && !Number.isNaN(timeoutMs))) {
      throw new NimgError('BAD_INPUT', `${what}: timeoutMs must be a positive number of milliseconds (or Infinity), got ${String(timeoutMs)}`);
    }
    if (signal === undefined && (timeoutMs === undefined || timeoutMs === Infinity)) return null;
    const a = new Abort(signal, (timeoutMs as number | undefined) ?? Infinity, what);
    a.check('start');
    return a;
  }

  /**
   * The error of an abort that has happened, else null. `timerFired` says the deadline's timer
   * called: timers may fire a fraction of a millisecond before `now()` reaches the deadline
   * (they round), and that must still read as the budget running out, not as a bare abort.
   */
  private fired(where: string, timerFired = false): NimgError | null {
    if (this.reason) return this.reason;
    if (this.signal?.aborted) {
      const r = this.signal.reason;
      const why = r instanceof Error ? r.message : r === undefined ? 'aborted' : String(r);
      this.reason = new NimgError('ABORTED', `${this.what} aborted by its signal (${why}) at ${where}`, { cause: r });
    } else if (timerFired || now() >= this.deadline) {
      this.reason = new NimgError('ABORTED', `${this.what} ran out of its time budget (timeoutMs = ${this.timeoutMs}) at ${where}`);
    }
    return this.reason;
  }

  check(where = 'a checkpoint'): void {
    const e = this.fired(where);
    if (e) throw e;
  }

  /**
   * An AbortSignal that fires when this abort does (the caller's signal or the deadline), for
   * work that takes a signal rather than calling check() (the perimage optimiser checks it
   * between its steps). `dispose()` removes the listener and the timer.
   */
  linkedSignal(): { signal: AbortSignal; dispose(): void } {
    const ac = new AbortController();
    const fire = (timerFired = false) => ac.abort(this.fired(timerFired ? 'the deadline' : 'the signal', timerFired));
    const onAbort = () => fire();
    this.signal?.addEventListener('abort', onAbort, { once: true });
    const timer = this.deadline === Infinity ? undefined : setTimeout(() => fire(true), Math.min(0x7fffffff, Math.max(0, this.deadline - now())));
    if (this.fired('start')) fire();
    return {
      signal: ac.signal,
      dispose: () => {
        this.signal?.removeEventListener('abort', onAbort);
        if (timer !== undefined) clearTimeout(timer);
      },
    };
  }

  /**
   * `p`, unless the signal fires or the budget runs out first: then ABORTED at once. The
   * listener and the timer are removed when either settles (no leak, no process kept alive).
   */
  race<T>(p: Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const stop = (where: string, timerFired = false) => {
        cleanup();
        reject(this.fired(where, timerFired) ?? new NimgError('ABORTED', `${this.what} aborted`));
      };
      const onAbort = () => stop('the signal');
      const cleanup = () => {
        this.signal?.removeEventListener('abort', onAbort);
        if (timer !== undefined) clearTimeout(timer);
      };
      this.signal?.addEventListener('abort', onAbort, { once: true });
      if (this.deadline !== Infinity) {
        // timers are clamped to 2^31-1 ms; a longer budget is checked at the tile boundaries
        timer = setTimeout(() => stop('the deadline', true), Math.min(0x7fffffff, Math.max(0, this.deadline - now())));
      }
      if (this.fired('start')) return stop('start');
      p.then(
        (v) => {
          cleanup();
          resolve(v);
        },
        (e) => {
          cleanup();
          reject(e);
        },
      );
    });
  }
}
