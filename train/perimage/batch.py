"""K per-image models of ONE image trained side by side in one process (for sweeps).

Why: a model this small leaves an H100 idle; its step time is the launch cost of a few hundred
small kernels, and separate processes time-slice the GPU rather than share it. Here the K
members (typically K lambdas, or K recipes) live in the same tensors — a leading member axis
on the latents, grouped convolutions for the ARM, the upsampler and the synthesis — so one
step launches the kernels of one model and trains all K. The members do not interact: the
loss is the sum of the members' losses, so each gets exactly its own gradient (checked by
test_batch.py against PerImage). `member(k)` returns member k as a plain PerImage, for
quantization and measurement with encode.py / exact.py.
"""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from model import CTX_COLS, CTX_ROWS, HIDDEN_MAX, Q_MAX, PerImage, clamp_log2b, laplace_bits


def softround(y, T):
    """Differentiable rounding: floor(y) + 1/2 + tanh((r)/T) / (2 tanh(1/(2T))), r = y - floor(y) - 1/2.
    T -> 0 is rounding, large T the identity (up to a slope)."""
    f = torch.floor(y)
    r = y - f - 0.5
    return f + 0.5 + torch.tanh(r / T) / (2 * math.tanh(0.5 / T))


class PerImageBatch(nn.Module):
    def __init__(self, H, W, K, arch, seeds):
        super().__init__()
        self.K, self.H, self.W, self.arch = K, H, W, arch
        ms = [PerImage(H, W, arch, seed=s) for s in seeds]
        self.sizes = ms[0].sizes
        self.latents = nn.ParameterList([nn.Parameter(torch.cat([m.latents[l].data for m in ms], 1)) for l in range(arch['L'])])
        # ARM layer i: W [K, out, in], b [K, out]
        self.arm_w = nn.ParameterList([nn.Parameter(torch.stack([m.arm[i].weight.data for m in ms])) for i in range(len(ms[0].arm))])
        self.arm_b = nn.ParameterList([nn.Parameter(torch.stack([m.arm[i].bias.data for m in ms])) for i in range(len(ms[0].arm))])
        self.taps = nn.Parameter(torch.stack([m.taps.data for m in ms]))  # [K, 4]
        self.syn_w = nn.ParameterList([nn.Parameter(torch.cat([m.syn[i].weight.data for m in ms])) for i in range(len(ms[0].syn))])
        self.syn_b = nn.ParameterList([nn.Parameter(torch.cat([m.syn[i].bias.data for m in ms])) for i in range(len(ms[0].syn))])
        self.register_buffer('scatter', ms[0].scatter.clone())

    def arm_params(self, q, log2b_min=None):
        """q [1, K, h, w] -> mu, log2b [1, K, h, w] (log2 b floored at log2b_min; None: the file's)"""
        K = self.K
        W1 = self.arm_w[0]  # [K, Wh, N]
        kern = torch.matmul(W1, self.scatter).reshape(-1, 1, CTX_ROWS, CTX_COLS)  # [K*Wh, 1, 5, 9]
        h = F.conv2d(F.pad(q, (4, 4, 4, 0)), kern, self.arm_b[0].reshape(-1), groups=K)
        for w, b in zip(self.arm_w[1:], self.arm_b[1:]):
            h = h.clamp(0, HIDDEN_MAX)
            h = F.conv2d(h, w.reshape(-1, w.shape[2], 1, 1), b.reshape(-1), groups=K)
        h = h.reshape(1, K, 2, *q.shape[2:])
        return h[:, :, 0].clamp(-128, 128), clamp_log2b(h[:, :, 1], log2b_min)

    def up2(self, x, out_h, out_w):
        """x [1, K*C, h, w] (member-major channels) -> [1, K*C, out_h, out_w], each member with its taps."""
        K = self.K
        _, KC, h, w = x.shape
        C = KC // K
        t = self.taps
        z = torch.zeros(K, 1, device=x.device, dtype=x.dtype)
        even = torch.cat([t, z], 1)  # offsets -2..+2
        odd = torch.cat([z, t.flip(1)], 1)
        k = torch.stack([even, odd], 1)  # [K, 2, 5]
        k = k[:, None].expand(K, C, 2, 5).reshape(K * C * 2, 1, 5)
        r = F.conv2d(F.pad(x, (0, 0, 2, 2), mode='replicate'), k[..., None], groups=KC)  # [1, KC*2, h, w]
        r = r.reshape(1, KC, 2, h, w).permute(0, 1, 3, 2, 4).reshape(1, KC, 2 * h, w)[:, :, :out_h]
        c = F.conv2d(F.pad(r, (2, 2, 0, 0), mode='replicate'), k[:, :, None, :], groups=KC)  # [1, KC*2, out_h, w]
        c = c.reshape(1, KC, 2, out_h, w).permute(0, 1, 3, 4, 2).reshape(1, KC, out_h, 2 * w)[:, :, :, :out_w]
        return c

    def synth_input(self, grids):
        """grids: list of [1, K, h, w] -> [1, K*L, H, W] (member-major: member k's L channels together)."""
        K, L = self.K, len(grids)
        f = grids[L - 1]  # [1, K*1, ...]
        for lvl in range(L - 2, -1, -1):
            h, w = self.sizes[lvl]
            up = self.up2(f, h, w)  # [1, K*C, h, w]
            C = up.shape[1] // K
            f = torch.cat([up.reshape(1, K, C, h, w), grids[lvl].reshape(1, K, 1, h, w)], 2).reshape(1, K * (C + 1), h, w)
        return f

    def synthesis(self, f):
        K = self.K
        for w, b, (kind, out, act, res) in zip(self.syn_w, self.syn_b, self.arch['synthesis']):
            k = 3 if kind == '3x3' else 1
            y = F.conv2d(f, w, b, padding=k // 2, groups=K)
            if act == 'relu':
                y = F.relu(y)
            f = f + y if res else y
        return f.reshape(K, 3, self.H, self.W)

    def forward(self, mode, T=0.3, log2b_min=None):
        """mode: 'noise' | 'softnoise' | 'ste' | 'round'; log2b_min: the step's floor of log2 b
        (model.log2b_floor_at; None: the file's). Returns (x_hat [K,3,H,W], bits [K])."""
        grids, bits = [], 0.0
        for y in self.latents:
            y = y.clamp(-Q_MAX, Q_MAX)
            if mode == 'noise':
                q = y + torch.rand_like(y) - 0.5
            elif mode == 'softnoise':  # soft rounding, uniform noise, soft rounding again
                q = softround(softround(y, T) + torch.rand_like(y) - 0.5, T)
            elif mode == 'ste':
                q = y + (torch.round(y) - y).detach()
            else:
                q = torch.round(y)
            mu, log2b = self.arm_params(q, log2b_min)
            bits = bits + laplace_bits(q, mu, log2b).sum(dim=(0, 2, 3))
            grids.append(q)
        return self.synthesis(self.synth_input(grids)), bits

    @torch.no_grad()
    def member(self, k):
        """Member k as a plain PerImage (same device)."""
        m = PerImage(self.H, self.W, self.arch).to(self.taps.device)
        for l, p in enumerate(self.latents):
            m.latents[l].copy_(p[:, k:k + 1])
        for i, lin in enumerate(m.arm):
            lin.weight.copy_(self.arm_w[i][k])
            lin.bias.copy_(self.arm_b[i][k])
        m.taps.copy_(self.taps[k])
        for i, conv in enumerate(m.syn):
            n = conv.weight.shape[0]
            conv.weight.copy_(self.syn_w[i][k * n:(k + 1) * n])
            conv.bias.copy_(self.syn_b[i][k * n:(k + 1) * n])
        return m
