/**
 * Memory management: one growable linear memory, no GC, no free list.
 *
 * Everything lives in a bump arena above __heap_base:
 *
 *   [ static data | model region (tables, LUTs, h_s weights) | call region ... ]
 *                  ^heapStart                                ^modelTop       ^top
 *
 * - setModel: the wrapper calls resetModel() (top = modelTop = heapStart), allocates and
 *   fills the model buffers, then commitModel() (modelTop = top).
 * - every other call: the wrapper calls resetCall() (top = modelTop) first; inputs, scratch
 *   and outputs of that call are bump-allocated after the model and are all dropped by the
 *   next resetCall(). Nothing is freed individually.
 * - alloc() grows the memory as needed (returns 0 when memory.grow fails: the wrapper reports
 *   LIMIT_EXCEEDED). Blocks are 16-byte aligned and padded with >= 16 bytes of slack, so SIMD
 *   loops may over-read up to 16 bytes past the end of any block without leaving memory.
 * The memory never shrinks (WebAssembly cannot), but peak use is bounded by the largest call.
 * The module is built with `--runtime stub` and allocates no managed objects.
 */

import { setErrIndex } from './status';

const heapStart: usize = (__heap_base + 15) & ~(<usize>15);
let top: usize = heapStart;
let modelTop: usize = heapStart;

/** Bump-allocate n bytes (16-aligned, + slack). Returns 0 if the memory cannot grow. */
export function alloc(n: usize): usize {
  if (n > 0xF000_0000) return 0;
  const p = (top + 15) & ~(<usize>15);
  const end64: u64 = <u64>p + ((<u64>n + 15) & ~(<u64>15)) + 16;
  const have: u64 = <u64>memory.size() << 16;
  if (end64 > have) {
    if (end64 > 0xFFFF_0000) return 0;
    const need = <i32>((end64 - have + 0xFFFF) >> 16);
    if (memory.grow(need) < 0) return 0;
  }
  top = <usize>end64;
  return p;
}

/** Drop every call buffer (keeps the model); clears the error index. */
export function resetCall(): void {
  top = modelTop;
  setErrIndex(-1);
}

/**
 * Bumped by resetModel(): data kept across calls (atCallStart) records it and are stale (their memory
 * reused) once it changes.
 */
let generation: u32 = 1;
export function arenaGeneration(): u32 {
  return generation;
}

/** Drop everything, model included. */
export function resetModel(): void {
  setErrIndex(-1);
  top = heapStart;
  modelTop = heapStart;
  generation++;
}

/** Everything allocated so far belongs to the model and survives resetCall(). */
export function commitModel(): void {
  modelTop = top;
}

/**
 * True while nothing was allocated since resetCall(): data built once and kept for the
 * module's life (the per-image profile's Laplace tables) is allocated then and joined to the
 * model region with commitModel(), so it never sits among call buffers. resetModel() drops it
 * (arenaGeneration() changes, and its owner rebuilds it).
 */
export function atCallStart(): bool {
  return top == modelTop;
}

/** Current top, to give back later with arenaRelease (scratch reused band after band). */
export function arenaMark(): usize {
  return top;
}

/** Drop every block allocated since arenaMark() returned mark. */
export function arenaRelease(mark: usize): void {
  if (mark >= modelTop && mark <= top) top = mark;
}

/** Bytes in use (model + current call), for diagnostics. */
export function arenaUsed(): usize {
  return top - heapStart;
}
