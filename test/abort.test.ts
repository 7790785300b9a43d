/**
 * Call budgets (src/abort.ts): when the deadline's timer fires, the caller gets
 * ABORTED naming `timeoutMs`, even where the timer fires before the clock reads the deadline
 * (Node rounds timers to whole ms; CI once got a bare "decode aborted" from exactly that).
 * The clock is frozen here so that it never reaches the deadline: only the timer can end the call.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { Abort } from '../src/abort.js';
import { NimgError } from '../src/errors.js';

afterEach(() => vi.restoreAllMocks());

const frozenClock = () => vi.spyOn(performance, 'now').mockReturnValue(1000);

describe('Abort: the deadline timer', () => {
  it('race(): a timer that fires before the clock reaches the deadline still reads as the budget running out', async () => {
    frozenClock();
    const a = Abort.from(undefined, 30, 'decode') as Abort;
    const e = (await a.race(new Promise(() => {})).catch((x: unknown) => x)) as NimgError;
    expect(e).toBeInstanceOf(NimgError);
    expect(e.code).toBe('ABORTED');
    expect(e.message).toMatch(/decode ran out of its time budget \(timeoutMs = 30\) at the deadline/);
    // and later checks report the same error
    expect(() => a.check('a tile')).toThrow(e);
  });

  it('linkedSignal(): the same, for work that takes a signal', async () => {
    frozenClock();
    const a = Abort.from(undefined, 30, 'encode') as Abort;
    const link = a.linkedSignal();
    await new Promise<void>((r) => link.signal.addEventListener('abort', () => r(), { once: true }));
    link.dispose();
    const e = link.signal.reason as NimgError;
    expect(e.code).toBe('ABORTED');
    expect(e.message).toMatch(/encode ran out of its time budget \(timeoutMs = 30\)/);
  });

  it("a caller's signal still reads as the signal, with its reason", async () => {
    const ac = new AbortController();
    const a = Abort.from(ac.signal, undefined, 'decode') as Abort;
    const p = a.race(new Promise(() => {})).catch((x: unknown) => x);
    ac.abort(new Error('user left'));
    const e = (await p) as NimgError;
    expect(e.code).toBe('ABORTED');
    expect(e.message).toMatch(/decode aborted by its signal \(user left\) at the signal/);
  });
});
