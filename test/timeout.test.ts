/**
 * Start-up deadlines (src/timeout.ts): a step that never settles becomes NimgError('TIMEOUT'),
 * one that settles in time passes through untouched, and init checks its timeoutMs option.
 */
import { describe, expect, it } from 'vitest';
import { checkTimeout, withTimeout, DEFAULT_INIT_TIMEOUT_MS } from '../src/timeout.js';
import { NimgCodec } from '../src/codec.js';
import { NimgError } from '../src/errors.js';

describe('withTimeout', () => {
  it('rejects a step that never settles with TIMEOUT, after the deadline, and calls onTimeout', async () => {
    let released = false;
    const t0 = Date.now();
    const err = (await withTimeout(new Promise(() => {}), 50, 'starting a thing', () => (released = true)).catch((e: unknown) => e)) as NimgError;
    expect(err).toBeInstanceOf(NimgError);
    expect(err.code).toBe('TIMEOUT');
    expect(err.message).toMatch(/starting a thing did not finish within 50 ms/);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(45);
    expect(released).toBe(true);
  });

  it('passes values and errors of steps that settle in time', async () => {
    await expect(withTimeout(Promise.resolve(7), 1000, 'x')).resolves.toBe(7);
    const own = new NimgError('BACKEND_UNAVAILABLE', 'no');
    await expect(withTimeout(Promise.reject(own), 1000, 'x')).rejects.toBe(own);
    await expect(withTimeout(Promise.resolve(1), Infinity, 'x')).resolves.toBe(1);
  });

  it('checkTimeout: default, positive numbers and Infinity; anything else is BAD_INPUT (also through init)', async () => {
    expect(checkTimeout(undefined, 't')).toBe(DEFAULT_INIT_TIMEOUT_MS);
    expect(checkTimeout(5, 't')).toBe(5);
    expect(checkTimeout(Infinity, 't')).toBe(Infinity);
    for (const bad of [0, -1, NaN, '100', null]) expect(() => checkTimeout(bad, 't')).toThrow(expect.objectContaining({ code: 'BAD_INPUT' }));
    await expect(NimgCodec.create({ backend: 'wasm', threads: 1, timeoutMs: -5 })).rejects.toMatchObject({ code: 'BAD_INPUT' });
  });
});
