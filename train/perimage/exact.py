"""The integer side of profile 2, as the core will run it (src/profiles/perimage/SPEC.md).

- tables(): the 8 x 80 Laplace frequency tables T[f][s] (binary64, numpy's exp);
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

from model import CONTEXT, Q_MAX

NF, NS = 8, 80
PREC = 1 << 16


def table_range(s):
    b = 2.0 ** (-3 + s / 8)
    return min(math.ceil(8 * b) + 2, 254)


def laplace_cdf(x, b):
    return np.where(x < 0, 0.5 * np.exp(np.minimum(x, 0) / b), 1 - 0.5 * np.exp(-np.maximum(x, 0) / b))


def build_table(f, s):
    b = 2.0 ** (-3 + s / 8)
    R = table_range(s)
    d = f / 8
    v = np.arange(-R, R + 1, dtype=np.float64)
    p = laplace_cdf(v + 0.5 - d, b) - laplace_cdf(v - 0.5 - d, b)
    p = np.append(p, max(0.0, 1 - p.sum()))
    n = len(p)
    freq = 1 + np.floor(p * (PREC - n)).astype(np.int64)
    freq[np.argmax(freq)] += PREC - freq.sum()
    return freq  # n = 2R + 2, last = escape


_TABLES = None


def tables():
    """bits[f][s]: code length in bits of each symbol (last = escape, without its EG bits)."""
    global _TABLES
    if _TABLES is None:
        _TABLES = [[-np.log2(build_table(f, s) / PREC) for s in range(NS)] for f in range(NF)]
    return _TABLES


def dense_bits_table(device):
    """[NF, NS, 2*254+2] code lengths, padded with the escape length, as a torch tensor."""
    T = tables()
    W = 2 * 254 + 1
    out = np.zeros((NF, NS, W + 1))
    for f in range(NF):
        for s in range(NS):
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
    m = mu + 16
    c = m >> 8
    f = (m & 255) >> 5
    s = ((ls + 768 + 16) >> 5).clamp(0, NS - 1)
    return q - c, f, s


def symbol_bits(v, f, s, dense):
    """Exact code length of each symbol v under T[f][s] (escape + Exp-Golomb beyond the range)."""
    R = torch.tensor([table_range(i) for i in range(NS)], device=v.device)[s]
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


def tensor_bits(k, dense):
    """Fewest bits to code the integers k with one centred table T[0][s]; returns (bits, s)."""
    k = k.reshape(-1).long()
    best = (float('inf'), 0)
    for s in range(NS):
        ss = torch.full_like(k, s)
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
