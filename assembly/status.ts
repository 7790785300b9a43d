/** Status codes returned by every fallible export (never assert/abort: compiled out in release). */
export const ST_OK: i32 = 0;
/** caller passed something out of range (table index, value outside the escape domain, size) */
export const ST_BAD_INPUT: i32 = 1;
/** entropy-coded data inconsistent (bad escape, wrong final state, trailing bytes) */
export const ST_CORRUPT: i32 = 2;
/** the decoder needed bytes past the end of its input */
export const ST_TRUNCATED: i32 = 3;
/** memory.grow failed */
export const ST_OOM: i32 = 4;
/** no model set (or the model was rejected) */
export const ST_NO_MODEL: i32 = 5;
/** setModel: malformed model (tables, h_s params) */
export const ST_BAD_MODEL: i32 = 6;

/** index of the offending element of the last failing call (or -1), for messages */
let errIndex: i32 = -1;
export function setErrIndex(i: i32): void {
  errIndex = i;
}
export function getErrIndex(): i32 {
  return errIndex;
}
