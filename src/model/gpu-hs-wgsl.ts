/**
 * WGSL sources of the integer hyper-synthesis h_s on WebGPU (src/model/gpu-hs.ts runs them).
 * They compute exactly what assembly/hs.ts computes (weights/README.md "h_s"):
 *
 *   acc = Σ w·in                       i32; exact in any order: 255·Σ|w| < 2^31 per channel
 *                                      (checked at model load), |zhat| <= 255 after the clamp
 *   v   = floor(((acc + b)·m + 2^(sh-1)) / 2^sh)
 *                                      the core does this in i64 (acc + b needs 33 bits, the
 *                                      product up to ~2^49); WGSL has no 64-bit integers, so
 *                                      `requant` carries it as two 32-bit words (u32
 *                                      arithmetic wraps mod 2^32, which is what two's
 *                                      complement words need)
 *   hs.0 / hs.1: clamp(v, 0, 255), PixelShuffle(2): conv channel 4c+2dy+dx → (c, 2y+dy, 2x+dx)
 *   hs.2: mu_q = clamp(v, -32768, 32767) (channels < M), idx = clamp(v, 0, numScales-1)
 *         (channels M..2M-1), written packed: u32 = (mu_q & 0xffff) | idx << 16
 *
 * Channel counts are baked into the source (one pipeline per model); sizes are uniforms.
 */

/** floor(((s + q.x)·q.y + 2^(q.z-1)) / 2^q.z) clamped to [lo, hi]; q = (b, m, sh, 0), 0 < m < 2^16, 1 <= sh <= 40. */
export const REQUANT_WGSL = /* wgsl */ `
fn requant(s : i32, q : vec4<i32>, lo : i32, hi : i32) -> i32 {
  let m = bitcast<u32>(q.y);
  let sh = bitcast<u32>(q.z);
  // t = s + b as a 64-bit two's complement pair (tHi, tLo): s + b needs 33 bits
  let su = bitcast<u32>(s);
  let tLo = su + bitcast<u32>(q.x);
  let tHi = bitcast<u32>(s >> 31u) + bitcast<u32>(q.x >> 31u) + select(0u, 1u, tLo < su);
  // p = t·m mod 2^64 (the true product is below 2^50 in magnitude, so this is exact).
  // tLo·m is split in 16-bit halves so that no partial product leaves 32 bits.
  let a = (tLo & 0xffffu) * m;
  let c = (tLo >> 16u) * m;
  let pLo = a + (c << 16u);
  let pHi = (c >> 16u) + select(0u, 1u, pLo < a) + tHi * m;
  // + 2^(sh-1) (sh - 1 is 0..39: the bit lands in either word)
  var rLo = 0u;
  var rHi = 0u;
  if (sh <= 32u) { rLo = 1u << (sh - 1u); } else { rHi = 1u << (sh - 33u); }
  let qLo = pLo + rLo;
  let qHi = pHi + rHi + select(0u, 1u, qLo < pLo);
  // arithmetic shift right by sh: floor division for negative values too. Shift amounts
  // stay in 0..31 (WGSL takes them mod 32).
  var vLo : u32;
  var vHi : i32;
  if (sh < 32u) {
    vLo = (qLo >> sh) | (qHi << (32u - sh));
    vHi = bitcast<i32>(qHi) >> sh;
  } else {
    vLo = bitcast<u32>(bitcast<i32>(qHi) >> (sh - 32u));
    vHi = bitcast<i32>(qHi) >> 31u;
  }
  // clamp the 64-bit value: outside i32 it saturates by its sign
  if (vHi != (bitcast<i32>(vLo) >> 31u)) { return select(hi, lo, vHi < 0); }
  return clamp(bitcast<i32>(vLo), lo, hi);
}
`;

/**
 * hs.0 / hs.1: conv3x3 (pad 1) cin → 4·C, requant, clamp [0, 255], PixelShuffle(2).
 * One invocation = one pixel (x, y) and the 4 conv channels 4c..4c+3 of output channel c
 * (they share every input load and land in one 2x2 block). Dispatch (ceil(w/8), ceil(h/8), C).
 * `clampInput`: layer 0 clamps zhat to [-255, 255] as it reads it.
 */
export function conv3x3ShuffleWgsl(cin: number, clampInput: boolean): string {
  return /* wgsl */ `
${REQUANT_WGSL}
@group(0) @binding(0) var<storage, read> src : array<i32>;        // [cin][h][w]
@group(0) @binding(1) var<storage, read> wgt : array<vec4<i32>>;  // [C][cin][9] x (conv channels 4c..4c+3)
@group(0) @binding(2) var<storage, read> qp : array<vec4<i32>>;   // [4C]: b, m, sh, 0
@group(0) @binding(3) var<storage, read_write> dst : array<i32>;  // [C][2h][2w], values 0..255
@group(0) @binding(4) var<uniform> dims : vec4<u32>;              // h, w

const CIN : u32 = ${cin}u;

@compute @workgroup_size(8, 8, 1)
fn main(@builtin(global_invocation_id) gid : vec3<u32>) {
  let h = dims.x;
  let w = dims.y;
  let x = gid.x;
  let y = gid.y;
  let c = gid.z;
  if (x >= w || y >= h) { return; }
  let plane = h * w;
  var acc = vec4<i32>(0, 0, 0, 0);
  for (var i = 0u; i < CIN; i++) {
    let base = i * plane;
    let wb = (c * CIN + i) * 9u;
    for (var ky = 0u; ky < 3u; ky++) {
      let yy = i32(y) + i32(ky) - 1;
      if (yy < 0 || yy >= i32(h)) { continue; }
      for (var kx = 0u; kx < 3u; kx++) {
        let xx = i32(x) + i32(kx) - 1;
        if (xx < 0 || xx >= i32(w)) { continue; }
        let v = ${clampInput ? 'clamp(src[base + u32(yy) * w + u32(xx)], -255, 255)' : 'src[base + u32(yy) * w + u32(xx)]'};
        acc += wgt[wb + ky * 3u + kx] * v;
      }
    }
  }
  let w2 = 2u * w;
  let o = c * 4u * plane + 2u * y * w2 + 2u * x;
  let q = 4u * c;
  dst[o] = requant(acc.x, qp[q], 0, 255);
  dst[o + 1u] = requant(acc.y, qp[q + 1u], 0, 255);
  dst[o + w2] = requant(acc.z, qp[q + 2u], 0, 255);
  dst[o + w2 + 1u] = requant(acc.w, qp[q + 3u], 0, 255);
}
`;
}

/**
 * hs.2: conv1x1 cin → 2M; invocation = one pixel and 4 channel pairs (mu_q channel c, idx
 * channel M + c for c = 4g..4g+3, zero weights past M). Output packed u32 [M][P].
 * Dispatch (nx, ny, ceil(M/4)) with pixel p = (wg.y·nx + wg.x)·64 + local x, so P may exceed
 * 64·65535.
 */
export function conv1x1PackWgsl(cin: number): string {
  return /* wgsl */ `
${REQUANT_WGSL}
@group(0) @binding(0) var<storage, read> src : array<i32>;        // [cin][P], values 0..255
@group(0) @binding(1) var<storage, read> wmu : array<vec4<i32>>;  // [G][cin] x (channels 4g..4g+3)
@group(0) @binding(2) var<storage, read> widx : array<vec4<i32>>; // [G][cin] x (channels M+4g..)
@group(0) @binding(3) var<storage, read> qmu : array<vec4<i32>>;  // [4G]: b, m, sh, 0
@group(0) @binding(4) var<storage, read> qidx : array<vec4<i32>>; // [4G]
@group(0) @binding(5) var<storage, read_write> dst : array<u32>;  // [M][P]: mu_q & 0xffff | idx << 16
@group(0) @binding(6) var<uniform> dims : vec4<u32>;              // P, M, numScales - 1

const CIN : u32 = ${cin}u;

@compute @workgroup_size(64, 1, 1)
fn main(@builtin(workgroup_id) wg : vec3<u32>, @builtin(local_invocation_id) lid : vec3<u32>,
        @builtin(num_workgroups) nwg : vec3<u32>) {
  let P = dims.x;
  let M = dims.y;
  let maxIdx = i32(dims.z);
  let p = (wg.y * nwg.x + wg.x) * 64u + lid.x;
  let g = wg.z;
  if (p >= P) { return; }
  var am = vec4<i32>(0, 0, 0, 0);
  var ai = vec4<i32>(0, 0, 0, 0);
  for (var i = 0u; i < CIN; i++) {
    let v = src[i * P + p];
    am += wmu[g * CIN + i] * v;
    ai += widx[g * CIN + i] * v;
  }
  for (var j = 0u; j < 4u; j++) {
    let ch = 4u * g + j;
    if (ch < M) {
      let mu = requant(am[j], qmu[ch], -32768, 32767);
      let id = requant(ai[j], qidx[ch], 0, maxIdx);
      dst[ch * P + p] = (bitcast<u32>(mu) & 0xffffu) | (bitcast<u32>(id) << 16u);
    }
  }
}
`;
}
