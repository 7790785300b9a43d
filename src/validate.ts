/**
 * Argument validation of the public entry points. Every check throws NimgError('BAD_INPUT'),
 * never a TypeError: `null`, wrong types, and objects whose getters throw are all caller
 * errors. Options are read once, into a plain snapshot, so that a getter cannot answer one
 * thing to the validation and another to the pipeline later.
 */
import { NimgError } from './errors.js';

/**
 * A snapshot of an options object: `undefined` → {}; `null`, a non-object or an array →
 * BAD_INPUT (a caller passing null meant something we cannot guess); each of `keys` read
 * once (a throwing getter → BAD_INPUT). Unknown keys are ignored (options objects are often
 * shared between calls of different kinds).
 */
export function readOptions<K extends string>(o: unknown, what: string, keys: readonly K[]): Partial<Record<K, unknown>> {
  if (o === undefined) return {};
  if (o === null || typeof o !== 'object' || Array.isArray(o)) throw new NimgError('BAD_INPUT', `${what} must be an object or undefined, got ${describe(o)}`);
  const out: Partial<Record<K, unknown>> = {};
  for (const k of keys) {
    let v: unknown;
    try {
      v = (o as Record<string, unknown>)[k];
    } catch (e) {
      throw new NimgError('BAD_INPUT', `${what}.${k} cannot be read (${e instanceof Error ? e.message : String(e)})`, { cause: e });
    }
    if (v !== undefined) out[k] = v;
  }
  return out;
}

/** A short description of a value's type for messages. */
export function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (ArrayBuffer.isView(v)) return (v as object).constructor?.name ?? 'a typed array';
  return typeof v;
}

/**
 * The bytes of a file as a Uint8Array view: Uint8Array, ArrayBuffer or any ArrayBufferView;
 * BAD_INPUT otherwise. A detached buffer reads as empty (the callers report TRUNCATED).
 */
export function bytesOf(input: unknown, what: string): Uint8Array {
  try {
    if (input instanceof Uint8Array) return input;
    if (input instanceof ArrayBuffer) return new Uint8Array(input);
    if (ArrayBuffer.isView(input)) return new Uint8Array(input.buffer, input.byteOffset, input.byteLength);
  } catch (e) {
    throw new NimgError('BAD_INPUT', `${what}: the bytes cannot be read (${e instanceof Error ? e.message : String(e)})`, { cause: e });
  }
  throw new NimgError('BAD_INPUT', `${what}: expected the bytes as a Uint8Array, ArrayBuffer or ArrayBufferView, got ${describe(input)}`);
}

/** The fields of an ImageData-like object, read once (a throwing getter → BAD_INPUT). */
export function readImage(image: unknown): { width: unknown; height: unknown; data: unknown } {
  if (!image || typeof image !== 'object') throw new NimgError('BAD_INPUT', `image must be an object {width, height, data}, got ${describe(image)}`);
  const o = readOptions(image, 'image', ['width', 'height', 'data'] as const);
  return { width: o.width, height: o.height, data: o.data };
}
