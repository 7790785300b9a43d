"""Profile 2 ("perimage") in PyTorch: the per-image model of src/profiles/perimage/SPEC.md.

One module per image: L latent grids, an autoregressive context model (ARM) over causal
neighbours, a 2x upsampler with 4 learnable taps, and a small synthesis. Trained per image
by encode.py; its integer twin (the rate the core will really code) is in exact.py.

Shapes follow the SPEC exactly so that a model trained here can be quantized and written
by the TypeScript core (export.py); the float ARM mimics the integer one's clamps.
"""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F

# SPEC §1: the causal context, in priority order; N is a prefix of this list.
CONTEXT = [(0, -1), (-1, 0), (-1, -1), (-1, 1), (0, -2), (-2, 0), (-1, -2), (-1, 2),
           (-2, -1), (-2, 1), (0, -3), (-3, 0), (-2, -2), (-2, 2), (-1, -3), (-1, 3),
           (-3, -1), (-3, 1), (-2, -3), (-2, 3), (-3, -2), (-3, 2), (0, -4), (-4, 0)]
# the masked first layer is a conv over rows -4..0 and columns -4..+4 of the padded grid
CTX_ROWS, CTX_COLS = 5, 9
# the range of log2 b the float ARM may output, that of the integer tables: log2 b = -5 + s_all/8,
# s_all = 0..95 (exact.py). The base set is s_all = 16..95 (log2 b >= -3); FINE_SCALES, a header
# flag, adds the 16 narrower tables, down to b = 1/32, where a near-certain zero costs the 16-bit
# frequencies' floor (0.00015 bits) instead of the 0.0266 bits of b = 1/8. set_fine_scales()
# switches both this file and exact.py.
LOG2B_MIN_BASE, LOG2B_MIN_FINE = -3.0, -5.0
LOG2B_MIN, LOG2B_MAX = LOG2B_MIN_BASE, -3.0 + 79 / 8
FINE_SCALES = {'on': False}
Q_MAX = 127
HIDDEN_MAX = 128.0  # 32767 / 256: the integer ARM clamps its Q8 activations there
BICUBIC = (-0.03515625, 0.26171875, 0.87890625, -0.10546875)  # a = -0.75 at offsets 1.75, .75, .25, 1.25
# the gradient of the log2 b clamp: 'inward' (the TypeScript encoder's, forward.ts clampLog2b) or
# 'clamp' (zero outside the range, before 2026-12-06 late); sweep.py --log2b-grad sets it
LOG2B_GRAD = {'rule': 'inward'}
# the initial bias of the synthesis's hidden ReLU layers (0: this reference's init so far; the
# TypeScript encoder's is 0.01, model.ts initTheta).
# A study switch (sweep.py --syn-hidden-bias): with latents starting at zero, a hidden ReLU
# layer whose bias is 0 passes no gradient where its input is 0, and the default synthesis
# (two ReLU layers) collapsed to the mean colour on a smooth crop (NOTES.md 2026-12-07 fifth)
SYN_INIT = {'hidden_bias': 0.0}


class _InwardClamp(torch.autograd.Function):
    """clamp(x, lo, hi); the backward pass lets the gradient through inside the range and, outside
    it, only where a descent step moves x back towards the range. The latents start at 0, so all
    positions share one context and one log2 b, which the rate drives below the floor within ~30
    steps; a plain clamp then starves the scale output for good."""
    @staticmethod
    def forward(ctx, x, lo, hi):
        ctx.save_for_backward(x)
        ctx.lo, ctx.hi = lo, hi
        return x.clamp(lo, hi)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        keep = ((x >= ctx.lo) & (x <= ctx.hi)) | ((x < ctx.lo) & (g < 0)) | ((x > ctx.hi) & (g > 0))
        return g * keep, None, None


def set_fine_scales(on):
    """FINE_SCALES on or off, for the float training (LOG2B_MIN) and the exact rate (exact.symbols)."""
    global LOG2B_MIN
    FINE_SCALES['on'] = bool(on)
    LOG2B_MIN = LOG2B_MIN_FINE if on else LOG2B_MIN_BASE


def clamp_log2b(ls, lo=None):
    # lo: the floor of this step (log2b_floor_at); None: the file's, LOG2B_MIN, read here at call
    # time so that set_fine_scales() reaches every caller
    lo = LOG2B_MIN if lo is None else lo
    if LOG2B_GRAD['rule'] == 'inward':
        return _InwardClamp.apply(ls, lo, LOG2B_MAX)
    return ls.clamp(lo, LOG2B_MAX)


def log2b_floor_at(t, n1, phase1_min=LOG2B_MIN_BASE, file_floor_from=1.0):
    """The floor of log2 b at step t of n1 phase-1 steps, as train.ts scheduleAt: phase 1 not below
    phase1_min (unless t >= file_floor_from * n1), phase 2 the file's (LOG2B_MIN). Why: with
    FINE_SCALES the rate's pull on a latent off its centre grows as 1/b (32 bits a unit at -5, 8 at
    -3) and beats the distortion's while the latents are still small (the fine floor from the first
    step lost 0.7 dB at the same lambda); phase 2's latents are fixed, so there the ARM can learn the
    narrow tables of the zeros it is sure of. Without FINE_SCALES both floors are the base's."""
    if t >= n1 or t >= file_floor_from * n1:
        return LOG2B_MIN
    return max(LOG2B_MIN, phase1_min)


def default_arch():
    return dict(L=7, N=16, D=2, Wh=16,
                synthesis=[('1x1', 24, 'relu', False), ('1x1', 24, 'relu', False), ('1x1', 3, 'none', False),
                           ('3x3', 3, 'relu', True), ('3x3', 3, 'none', True)])


def grid_sizes(H, W, L):
    return [(math.ceil(H / 2 ** k), math.ceil(W / 2 ** k)) for k in range(L)]


def context_scatter(N):
    """[N, 5*9] one-hot: where neighbour j sits in the 5x9 window (row 4 = current row, col 4 = current col)."""
    P = torch.zeros(N, CTX_ROWS * CTX_COLS)
    for j, (dy, dx) in enumerate(CONTEXT[:N]):
        P[j, (dy + 4) * CTX_COLS + (dx + 4)] = 1.0
    return P


def up2(x, taps, out_h, out_w):
    """SPEC up2 on [B, C, h, w]: rows then columns, edge replication, cropped to out_h x out_w."""
    t0, t1, t2, t3 = taps[0], taps[1], taps[2], taps[3]
    z = torch.zeros((), device=x.device, dtype=x.dtype)
    even = torch.stack([t0, t1, t2, t3, z])  # offsets -2..+2
    odd = torch.stack([z, t3, t2, t1, t0])
    k = torch.stack([even, odd])  # [2, 5]
    B, C, h, w = x.shape
    y = x.reshape(B * C, 1, h, w)
    # rows
    yp = F.pad(y, (0, 0, 2, 2), mode='replicate')
    r = F.conv2d(yp, k.view(2, 1, 5, 1))  # [BC, 2, h, w]
    r = r.permute(0, 2, 1, 3).reshape(B * C, 1, 2 * h, w)[:, :, :out_h]
    # columns
    rp = F.pad(r, (2, 2, 0, 0), mode='replicate')
    c = F.conv2d(rp, k.view(2, 1, 1, 5))  # [BC, 2, out_h, w]
    c = c.permute(0, 2, 3, 1).reshape(B * C, 1, out_h, 2 * w)[:, :, :, :out_w]
    return c.reshape(B, C, out_h, out_w)


def laplace_bits(q, mu, log2b):
    """-log2 of the Laplace(mu, b) mass of [q - 0.5, q + 0.5]; stable on both tails."""
    b = torch.exp2(log2b)
    u = (q - mu).abs()
    tail = 0.5 * torch.exp(-(u - 0.5).clamp_min(0) / b) * (-torch.expm1(-1.0 / b))
    centre = 1 - 0.5 * (torch.exp(-(0.5 + u) / b) + torch.exp(-(0.5 - u).clamp_min(0) / b))
    p = torch.where(u >= 0.5, tail, centre)
    return -torch.log2(p.clamp_min(2.0 ** -20))


class PerImage(nn.Module):
    def __init__(self, H, W, arch=None, seed=0):
        super().__init__()
        arch = arch or default_arch()
        self.arch, self.H, self.W = arch, H, W
        g = torch.Generator().manual_seed(seed)
        self.sizes = grid_sizes(H, W, arch['L'])
        self.latents = nn.ParameterList([nn.Parameter(torch.zeros(1, 1, h, w)) for h, w in self.sizes])
        # ARM
        N, D, Wh = arch['N'], arch['D'], arch['Wh']
        dims = [N] + [Wh] * D + [2]
        self.arm = nn.ModuleList()
        for i in range(len(dims) - 1):
            lin = nn.Linear(dims[i], dims[i + 1])
            bound = 1 / math.sqrt(dims[i])
            with torch.no_grad():
                lin.weight.uniform_(-bound, bound, generator=g)
                lin.bias.zero_()
                if i == len(dims) - 2:  # start from a broad, centred prior
                    lin.weight.mul_(0.1)
                    lin.bias[1] = 1.0
            self.arm.append(lin)
        self.register_buffer('scatter', context_scatter(N))
        self.taps = nn.Parameter(torch.tensor(BICUBIC))
        # synthesis
        self.syn = nn.ModuleList()
        c = arch['L']
        for li, (kind, out, act, res) in enumerate(arch['synthesis']):
            k = 3 if kind == '3x3' else 1
            conv = nn.Conv2d(c, out, k, padding=k // 2)
            with torch.no_grad():
                bound = 1 / math.sqrt(c * k * k)
                conv.weight.uniform_(-bound, bound, generator=g)
                conv.bias.zero_()
                if res:
                    conv.weight.zero_()
                if out == 3 and not res:  # the RGB layer starts at mid-grey
                    conv.bias.fill_(0.5)
                elif act == 'relu' and not res:
                    conv.bias.fill_(SYN_INIT['hidden_bias'])
            self.syn.append(conv)
            c = out

    # -- the three parts -------------------------------------------------------------
    def arm_params(self, q, log2b_min=None):
        """mu, log2b for every position of grid q [1,1,h,w] (float twin of the integer ARM); log2 b
        floored at log2b_min (None: the file's floor)."""
        W1 = self.arm[0].weight  # [out, N]
        kern = (W1 @ self.scatter).view(-1, 1, CTX_ROWS, CTX_COLS)
        qp = F.pad(q, (4, 4, 4, 0))
        h = F.conv2d(qp, kern, self.arm[0].bias)
        for lin in self.arm[1:]:
            h = h.clamp(0, HIDDEN_MAX)
            h = F.conv2d(h, lin.weight[:, :, None, None], lin.bias)
        mu, log2b = h[:, 0:1], h[:, 1:2]
        return mu.clamp(-128, 128), clamp_log2b(log2b, log2b_min)

    def synth_input(self, grids):
        L = len(grids)
        f = grids[L - 1]
        for k in range(L - 2, -1, -1):
            h, w = self.sizes[k]
            f = torch.cat([up2(f, self.taps, h, w), grids[k]], dim=1)
        return f

    def synthesis(self, f):
        for conv, (kind, out, act, res) in zip(self.syn, self.arch['synthesis']):
            y = conv(f)
            if act == 'relu':
                y = F.relu(y)
            f = f + y if res else y
        return f

    def forward(self, mode, log2b_min=None):
        """mode: 'noise' | 'ste' | 'round'; log2b_min: the step's floor of log2 b (log2b_floor_at; None:
        the file's). Returns (x_hat [1,3,H,W], bits)."""
        grids, bits = [], 0.0
        for y in self.latents:
            y = y.clamp(-Q_MAX, Q_MAX)
            if mode == 'noise':
                q = y + torch.empty_like(y).uniform_(-0.5, 0.5)
            elif mode == 'ste':
                q = y + (torch.round(y) - y).detach()
            else:
                q = torch.round(y)
            mu, log2b = self.arm_params(q, log2b_min)
            bits = bits + laplace_bits(q, mu, log2b).sum()
            grids.append(q)
        return self.synthesis(self.synth_input(grids)), bits

    def macs_per_pixel(self):
        a = self.arch
        arm = a['N'] * a['Wh'] + (a['D'] - 1) * a['Wh'] ** 2 + 2 * a['Wh'] if a['D'] else 2 * a['N']
        lat = sum(h * w for h, w in self.sizes) / (self.H * self.W)
        syn, c = 0, a['L']
        for kind, out, act, res in a['synthesis']:
            syn += c * out * (9 if kind == '3x3' else 1)
            c = out
        up = 2 * 4 * (a['L'] - 1) * 4 / 3  # rough: rows+cols, 4 taps, channels growing
        return arm * lat + syn + up
