/**
 * The one error class nimg throws. `code` is stable API: callers branch on it,
 * messages may change.
 */
export type NimgErrorCode =
  | 'TRUNCATED' // input ends before a field or stream it declares
  | 'BAD_SIGNATURE' // not a .nimg file (magic mismatch)
  | 'UNSUPPORTED_VERSION' // container or weights version this build cannot read
  | 'MODEL_MISMATCH' // file made with other weights, or weights failed their hash
  | 'LIMIT_EXCEEDED' // dimensions or sizes above the configured limits
  | 'CHECKSUM_MISMATCH' // CRC-32 of header or payload wrong
  | 'CORRUPT_STREAM' // entropy-coded data inconsistent (decoder ran off its end, bad escape)
  | 'BAD_INPUT' // caller passed something unusable (wrong image shape, bad option)
  | 'BACKEND_UNAVAILABLE' // the requested compute backend cannot run here
  | 'NOT_INITIALIZED' // used before init() finished
  | 'ABORTED' // the caller's AbortSignal fired or its time budget (timeoutMs) ran out
  | 'TIMEOUT' // a start-up step (backend, workers) did not finish within its time limit
  | 'INTERNAL'; // a bug: a WASM trap or invariant failure, reported rather than leaked

export interface NimgErrorOptions {
  cause?: unknown;
  /** LIMIT_EXCEEDED: the name of the limit that was broken (e.g. 'maxPixels') */
  limit?: string;
  /** LIMIT_EXCEEDED: the value that broke it (e.g. the declared pixel count) */
  value?: number;
}

export class NimgError extends Error {
  readonly code: NimgErrorCode;
  /** LIMIT_EXCEEDED: which limit (a key of Limits); undefined for other codes */
  readonly limit?: string;
  /** LIMIT_EXCEEDED: the value that exceeded it */
  readonly value?: number;
  constructor(code: NimgErrorCode, message: string, options?: NimgErrorOptions) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'NimgError';
    this.code = code;
    if (options?.limit !== undefined) this.limit = options.limit;
    if (options?.value !== undefined) this.value = options.value;
  }
}

export function isNimgError(e: unknown): e is NimgError {
  return e instanceof NimgError;
}
