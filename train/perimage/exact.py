"""The integer side of profile 2, as the core will run it (src/profiles/perimage/SPEC.md).

- tables(): the 8 x 96 Laplace frequency tables T[f][s_all] (binary64, numpy's exp): log2 b =
  -5 + s_all/8; the base set is s_all = 16..95 (log2 b = -3 + s/8, s = s_all - 16), the only one
  files without FINE_SCALES use and the one parameter tensors always use (model.set_fine_scales);
- arm_int(): the integer context model (Q8 weights, int32 sums, the SPEC's shifts/clamps);
- latent_bits(): the exact size of the latent stream (code lengths of the chosen tables,
  escapes included; rANS adds a few bytes of state);
- quantize_params(): integers + exponents per tensor, and the bits of the params section.
Everything here is a measurement tool for the sweeps: the bytes of real files come from the
core; the TypeScript tests check that both agree.
"""
import math

import numpy as np
import torch
import torch.nn.functional as F

from model import CONTEXT, FINE_SCALES, LOG2B_MIN_BASE, LOG2B_MIN_FINE, Q_MAX

NF, NS = 8, 80  # NS: the base set's size
NS_ALL = 96  # with FINE_SCALES
S_BASE = round(8 * (LOG2B_MIN_BASE - LOG2B_MIN_FINE))  # 16: s_all of the base set's first table
PREC = 1 << 16


def table_b(s_all):
    # -5 + s_all/8 is exact in binary64, so the base tables are bit-identical to the former -3 + s/8
    return 2.0 ** (LOG2B_MIN_FINE + s_all / 8)


def table_range(s_all):
    return min(math.ceil(8 * table_b(s_all)) + 2, 254)  # 3 for every b <= 1/8


def laplace_cdf(x, b):
    return np.where(x < 0, 0.5 * np.exp(np.minimum(x, 0) / b), 1 - 0.5 * np.exp(-np.maximum(x, 0) / b))


def build_table(f, s_all):
    b = table_b(s_all)
    R = table_range(s_all)
    d = f / 8
    v = np.arange(-R, R + 1, dtype=np.float64)
    p = laplace_cdf(v + 0.5 - d, b) - laplace_cdf(v - 0.5 - d, b)
    p = np.append(p, max(0.0, 1 - p.sum()))
    n = len(p)
    freq = 1 + np.floor(p * (PREC - n)).astype(np.int64)
    freq[np.argmax(freq)] += PREC - freq.sum()
    return freq  # n = 2R + 2, last = escape


_TABLES = None
RANGES = [table_range(s) for s in range(NS_ALL)]


def tables():
    """bits[f][s_all]: code length in bits of each symbol (last = escape, without its EG bits)."""
    global _TABLES
    if _TABLES is None:
        _TABLES = [[-np.log2(build_table(f, s) / PREC) for s in range(NS_ALL)] for f in range(NF)]
    return _TABLES


def dense_bits_table(device):
    """[NF, NS_ALL, 2*254+2] code lengths, padded with the escape length, as a torch tensor."""
    T = tables()
    W = 2 * 254 + 1
    out = np.zeros((NF, NS_ALL, W + 1))
    for f in range(NF):
        for s in range(NS_ALL):
            t = T[f][s]
            R = (len(t) - 2) // 2
            row = np.full(W + 1, np.nan)
            row[254 - R:254 + R + 1] = t[:-1]
            out[f, s, :W] = row[:W]
            out[f, s, W] = t[-1]
    return torch.tensor(out, device=device)


def eg_bits(e):
    return 2 * torch.floor(torch.log2(e + 1.0)) + 1


# ------------------------------------------------------------------------------------------
# integer ARM

def arm_int(q, Ws, bs):
    """q: int64 [h, w]; Ws/bs: int64 Q8 weight [out, in] / bias [out] per layer.
    Returns (mu, ls) int64 [h, w], as SPEC §1."""
    N = Ws[0].shape[1]
    h, w = q.shape
    qp = F.pad(q[None, None].double(), (4, 4, 4, 0))[0, 0].long()
    x = torch.stack([qp[4 + dy:4 + dy + h, 4 + dx:4 + dx + w] for dy, dx in CONTEXT[:N]], -1)  # [h,w,N]
    # products and sums stay below 2^31, so binary64 matmuls are exact (CUDA has no int64 GEMM)
    a = (x.double() @ Ws[0].T.double()).long() + bs[0]
    for l in range(1, len(Ws)):
        a = a.clamp(0, 32767)
        a = (a.double() @ Ws[l].T.double()).long() + (bs[l] << 8)
        a = (a + 128) >> 8
    return a[..., 0].clamp(-32768, 32767), a[..., 1].clamp(-32768, 32767)


def symbols(q, mu, ls):
    """(v, f, s_all) of each latent; without FINE_SCALES s_all >= S_BASE, the former
    clamp((ls + 768 + 16) >> 5, 0, 79) + 16."""
    m = mu + 16
    c = m >> 8
    f = (m & 255) >> 5
    s = ((ls + 1280 + 16) >> 5).clamp(0 if FINE_SCALES['on'] else S_BASE, NS_ALL - 1)
    return q - c, f, s


def symbol_bits(v, f, s, dense):
    """Exact code length of each symbol v under T[f][s_all] (escape + Exp-Golomb beyond the range)."""
    R = torch.tensor(RANGES, device=v.device)[s]
    inside = v.abs() <= R
    idx = torch.where(inside, v + 254, torch.full_like(v, 2 * 254 + 1))
    b = dense[f, s, idx]
    e = torch.where(v < -R, 2 * (-R - 1 - v), 2 * (v - R - 1) + 1).double()
    return torch.where(inside, b, b + eg_bits(e.clamp_min(0)))


def latent_bits(grids, Ws, bs, dense):
    total = 0.0
    for q in grids:
        mu, ls = arm_int(q, Ws, bs)
        v, f, s = symbols(q, mu, ls)
        total += symbol_bits(v, f, s, dense).sum().item()
    return total


def latent_stats(grids, Ws, bs, dense):
    """Where the latent bits go: the share of latents coded with a FINE_SCALES table (s_all <
    S_BASE), the share of zero latents (q = 0) and their mean cost in bits."""
    n = n_fine = n_zero = zero_bits = 0.0
    for q in grids:
        mu, ls = arm_int(q, Ws, bs)
        v, f, s = symbols(q, mu, ls)
        b = symbol_bits(v, f, s, dense)
        n += q.numel()
        n_fine += (s < S_BASE).sum().item()
        n_zero += (q == 0).sum().item()
        zero_bits += b[q == 0].sum().item()
    return dict(share_fine=n_fine / n, share_zero=n_zero / n, bits_per_zero=zero_bits / max(n_zero, 1))


def tensor_bits(k, dense):
    """Fewest bits to code the integers k with one centred base table T[0][S_BASE + s]; returns
    (bits, s), s = 0..NS-1 (parameter tensors never use the FINE_SCALES tables)."""
    k = k.reshape(-1).long()
    best = (float('inf'), 0)
    for s in range(NS):
        ss = torch.full_like(k, S_BASE + s)
        b = symbol_bits(k, torch.zeros_like(k), ss, dense).sum().item()
        if b < best[0]:
            best = (b, s)
    return best


# ------------------------------------------------------------------------------------------
# parameter quantization

def arm_to_int(model, e_list):
    Ws, bs, ks = [], [], []
    for lin, e in zip(model.arm, e_list):
        step = 2 ** e
        kw = torch.round(lin.weight.detach().double() * 256 / step).clamp(-(1023 // step), 1023 // step)
        kb = torch.round(lin.bias.detach().double() * 256 / step).clamp(-(2 ** 20 // step), 2 ** 20 // step)
        Ws.append((kw * step).long())
        bs.append((kb * step).long())
        ks += [(kw.long(), e), (kb.long(), e)]
    return Ws, bs, ks


def float_to_int(t, e):
    k = torch.round(t.detach().double() * 2 ** e).clamp(-2 ** 20, 2 ** 20)
    return k.long(), (k / 2 ** e).float()


def rounded_grids(model):
    return [torch.round(y.detach().clamp(-Q_MAX, Q_MAX))[0, 0].long() for y in model.latents]
