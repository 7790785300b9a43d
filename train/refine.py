"""Encoder-side latent refinement, measured in PyTorch on the exported weights.

    python3 train/refine.py --ckpt A.pt[,B.pt] --kodak ../shared/data/kodak
                            [--images kodim04.png,...] [--levels 1,4,8] [--iters 300]
                            [--method sga|ste|noise] [--lr 0.02] [--sched cos] [--anneal 3]
                            [--crop N] [--device cuda] [--out r.jsonl]

The decoder is fixed, but the encoder is free to send any integer latent. g_a's output is one
good choice, not the best one for this image: a few hundred gradient steps on
    bpp(y) + lambda * 255^2 * MSE(g_s(yhat), x)
with z (so mean and scale, from the integer h_s) held fixed find a latent that costs less at
the same distortion (Campos et al. 2019; Yang, Bamler, Mandt 2020 for the annealed
stochastic rounding, 'sga', used here). The result is rounded and scored exactly as
export.py's codec_run scores the plain encoder: integer tables' code lengths, 8-bit PSNR.
This file measures how much that is worth before the TypeScript encoder does it.
"""
import argparse
import json
import math
import os
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(__file__))
from model import MEAN_FRAC_BITS, Z_CLAMP, NimgModel, gaussian_likelihood, scale_table  # noqa: E402
from export import (TOTAL, code_bits, codec_run, export_hs, gaussian_tables, hs_int, load_img, load_model, psnr8,  # noqa: E402
                    quantize_model_inplace, storage_rule, z_tables)


def soft_round(r, t, iters, method, tau_max=0.5, anneal=6.0):
    """Relaxed rounding of residual r at step t of iters."""
    if method == 'ste':
        return r + (torch.round(r) - r).detach()
    if method == 'noise':
        return r + torch.empty_like(r).uniform_(-0.5, 0.5)
    # sga: Gumbel-softmax between floor and ceil; logits from the distance (atanh), with a
    # temperature annealed from tau_max toward 0 so the end point is a hard rounding
    tau = max(tau_max * math.exp(-anneal * t / iters), 1e-3)
    fl = torch.floor(r).detach()
    d = (r - fl).clamp(1e-6, 1 - 1e-6)
    logits = torch.stack([-torch.atanh(d) / tau, -torch.atanh(1 - d) / tau], 0)
    g = -torch.log(-torch.log(torch.rand_like(logits).clamp(1e-10, 1)))
    w = torch.softmax((logits + g) / 1.0, 0)
    return fl + w[1]


def refine(model, x, q, base, mu, sigma, iters, lr, method, sched='const', anneal=6.0):
    """x: [1,3,H,W]; base: codec_run result; returns refined scaled latent ys."""
    H, W = x.shape[-2:]
    dev = mu.device
    _, gd = model.gains(torch.tensor([float(q)], device=dev))
    lam = NimgModel.lambda_of(torch.tensor(float(q))).item()
    v = base['ys'].to(dev).clone().requires_grad_(True)
    opt = torch.optim.Adam([v], lr=lr)
    xd = x.to(dev)
    npix = H * W
    for t in range(iters):
        if sched == 'cos':
            for g in opt.param_groups:
                g['lr'] = lr * 0.5 * (1 + math.cos(math.pi * t / iters))
        r = v - mu
        rh = soft_round(r, t, iters, method, anneal=anneal)
        bits = -torch.log2(gaussian_likelihood(rh, sigma).clamp(min=1e-9)).sum()
        xh = model.run(model.gs, (rh + mu) * gd)[..., :H, :W]
        loss = bits / npix + lam * 255 ** 2 * F.mse_loss(xh, xd)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return v.detach()


def z_cost_table(ztab, dev):
    """[C, 2*Z_CLAMP+1] code length in bits of each integer z value per channel under the
    integer tables (escape included), as code_bits counts it."""
    tables, offsets = ztab
    vals = np.arange(-Z_CLAMP, Z_CLAMP + 1)
    out = np.zeros((len(tables), len(vals)))
    for c, cdf in enumerate(tables):
        n = len(cdf) - 1
        lo, hi = offsets[c], offsets[c] + n - 2
        freq = np.diff(np.asarray(cdf, np.float64))
        inr = (vals >= lo) & (vals <= hi)
        out[c, inr] = -np.log2(freq[vals[inr] - lo] / TOTAL)
        e = np.where(vals < lo, 2 * (lo - 1 - vals), 2 * (vals - hi - 1) + 1)
        out[c, ~inr] = -math.log2(freq[n - 1] / TOTAL) + 2 * np.floor(np.log2(e[~inr] + 1)) + 1
    return torch.tensor(out, dtype=torch.float32, device=dev)


def table_zbits(zh, cost):
    """Soft code length of relaxed z (floor + fraction): linear between the two integers'
    table costs, which is what the TypeScript encoder can compute (it has only the tables)."""
    fl = torch.floor(zh).detach()
    w = zh - fl
    C = cost.shape[0]
    i0 = (fl + Z_CLAMP).clamp(0, 2 * Z_CLAMP - 1).long()
    ch = torch.arange(C, device=zh.device)[None, :, None, None].expand_as(i0)
    c0 = cost[ch, i0]
    c1 = cost[ch, i0 + 1]
    return (c0 + w * (c1 - c0)).sum()


def refine_joint(model, x, q, base, iters, lr, sched='cos', anneal=6.0, zcost=None):
    """y and z together: z through the fake-quantised h_s (the integer h_s's training form,
    straight-through rounding) and the factorized prior. Returns (ys, zhat int64 numpy)."""
    H, W = x.shape[-2:]
    dev = next(model.parameters()).device
    _, gd = model.gains(torch.tensor([float(q)], device=dev))
    lam = NimgModel.lambda_of(torch.tensor(float(q))).item()
    v = base['ys'].to(dev).clone().requires_grad_(True)
    vz = base['z'].to(dev).clone().requires_grad_(True)
    opt = torch.optim.Adam([v, vz], lr=lr)
    xd = x.to(dev)
    for t in range(iters):
        if sched == 'cos':
            for g in opt.param_groups:
                g['lr'] = lr * 0.5 * (1 + math.cos(math.pi * t / iters))
        zh = torch.clamp(soft_round(vz, t, iters, 'sga', anneal=anneal), -Z_CLAMP, Z_CLAMP)
        if zcost is None:
            zbits = -torch.log2(model.zprior.likelihood(zh).clamp(min=1e-9)).sum()
        else:
            zbits = table_zbits(zh, zcost)
        mu, sigma, _ = model.hs(zh)
        r = v - mu
        rh = soft_round(r, t, iters, 'sga', anneal=anneal)
        bits = -torch.log2(gaussian_likelihood(rh, sigma).clamp(min=1e-9)).sum()
        xh = model.run(model.gs, (rh + mu) * gd)[..., :H, :W]
        loss = (bits + zbits) / (H * W) + lam * 255 ** 2 * F.mse_loss(xh, xd)
        opt.zero_grad()
        loss.backward()
        opt.step()
    zhat = torch.clamp(torch.round(vz.detach()), -Z_CLAMP, Z_CLAMP)[0].cpu().numpy().astype(np.int64)
    return v.detach(), zhat


def side_info(model, hs_layers, ztab, zhat, table, dev):
    """(mu, sigma, idx, zbits) for integer zhat [Nz,h,w], exactly as the codec derives them."""
    mu_q, idx = hs_int(zhat, hs_layers, model.M)
    mu = torch.from_numpy(mu_q.astype(np.float32) / (1 << MEAN_FRAC_BITS))[None].to(dev)
    sigma = table[torch.from_numpy(idx).to(dev)][None]
    Nz = zhat.shape[0]
    zbits = code_bits(zhat, ztab[0], ztab[1], np.repeat(np.arange(Nz), zhat[0].size))
    return mu, sigma, idx, zbits


def j_of(q, bpp, ps):
    """The objective in the units the encoder compares: bpp + lambda*255^2*MSE (MSE of 8-bit
    pixels scaled to [0,1])."""
    lam = NimgModel.lambda_of(torch.tensor(float(q))).item()
    return bpp + lam * 255 ** 2 * 10 ** (-ps / 10)


@torch.no_grad()
def score(model, x, q, ys, mu, idx, zbits, gtab):
    torch.backends.cudnn.allow_tf32 = False
    H, W = x.shape[-2:]
    dev = mu.device
    _, gd = model.gains(torch.tensor([float(q)], device=dev))
    k = torch.round(ys - mu)
    xh = model.run(model.gs, (k + mu) * gd)[..., :H, :W]
    x8 = torch.round(torch.clamp(xh, 0, 1) * 255).cpu()
    ybits = code_bits(k[0].cpu().numpy().astype(np.int64), gtab[0], gtab[1], idx)
    return (zbits + ybits) / (H * W), psnr8(x8, torch.round(x * 255))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--ckpt', required=True)
    ap.add_argument('--kodak', required=True)
    ap.add_argument('--images', default=None)
    ap.add_argument('--levels', default='1,4,8')
    ap.add_argument('--iters', default='300')
    ap.add_argument('--lr', type=float, default=0.02)
    ap.add_argument('--method', default='sga')
    # defaults = the TypeScript encoder's (src/model/refine.ts DEFAULT_REFINE)
    ap.add_argument('--sched', default='cos', help='learning rate: const | cos (cosine to 0)')
    ap.add_argument('--anneal', type=float, default=3.0, help='SGA temperature 0.5*exp(-anneal*t/iters)')
    ap.add_argument('--zmode', default='none', help='none | rederive (z from the refined y, then a '
                    'second pass) | joint (y and z together through the fake-quantised h_s)')
    ap.add_argument('--zrate', default='prior', help='joint: z code length from the float prior '
                    '(prior) or interpolated between the integer tables\' costs (table)')
    ap.add_argument('--yfrac', type=float, default=0.0, help='joint: share of the steps spent '
                    'on y alone after z is fixed')
    ap.add_argument('--crop', type=int, default=0, help='top-left crop size (quick local checks)')
    ap.add_argument('--fp16-layers', default='gs.0,gs.3')
    ap.add_argument('--device', default='cpu')
    ap.add_argument('--tf32', action='store_true', help='TF32 convolutions in the refinement '
                    'passes only (GPU sweeps); scoring stays float32')
    ap.add_argument('--out', default=None)
    args = ap.parse_args()
    torch.set_num_threads(os.cpu_count() or 2)
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False

    model, _ = load_model(args.ckpt)
    quantize_model_inplace(model, storage_rule(args.fp16_layers))
    hs_layers = export_hs(model)
    gtab, ztab = gaussian_tables(), z_tables(model)
    model.to(args.device)
    table = torch.tensor(scale_table(), device=args.device)
    zcost = z_cost_table(ztab, args.device) if args.zrate == 'table' else None

    files = sorted(args.images.split(',')) if args.images else sorted(f for f in os.listdir(args.kodak) if f.endswith('.png'))
    levels = [float(s) for s in args.levels.split(',')]
    iters_list = [int(s) for s in args.iters.split(',')]
    methods = args.method.split(',')
    rows = []
    for f in files:
        x = load_img(os.path.join(args.kodak, f))
        if args.crop:
            x = x[..., :args.crop, :args.crop]
        for q in levels:
            base = codec_run(model, hs_layers, ztab, gtab, x, q)
            H, W = x.shape[-2:]
            b_bpp, b_psnr = base['bits'] / (H * W), psnr8(base['x8'], torch.round(x * 255))
            mu, sigma, idx, zbits = side_info(model, hs_layers, ztab, base['zhat'], table, args.device)
            row = {'image': f, 'q': q, 'base': [b_bpp, b_psnr]}
            for m in methods:
                for it in iters_list:
                    t0 = time.time()
                    torch.backends.cudnn.allow_tf32 = args.tf32
                    if args.zmode == 'joint':
                        # joint y+z for (1 - yfrac) of the steps, then y alone under the exact
                        # side information of the new z for the rest (warm start)
                        nz = it - int(round(it * args.yfrac))
                        ys, zh = refine_joint(model, x, q, base, nz, args.lr, args.sched, args.anneal, zcost)
                        mu2, sig2, idx2, zb2 = side_info(model, hs_layers, ztab, zh, table, args.device)
                        if nz < it:
                            torch.backends.cudnn.allow_tf32 = args.tf32
                            ys = refine(model, x, q, {'ys': ys}, mu2, sig2, it - nz, args.lr, 'sga', args.sched, args.anneal)
                        bpp, ps = score(model, x, q, ys, mu2, idx2, zb2, gtab)
                        row[f'joint{it}'] = [bpp, ps, round(time.time() - t0, 2)]
                        continue
                    ys = refine(model, x, q, base, mu, sigma, it, args.lr, m, args.sched, args.anneal)
                    bpp, ps = score(model, x, q, ys, mu, idx, zbits, gtab)
                    row[f'{m}{it}'] = [bpp, ps, round(time.time() - t0, 2)]
                    if args.zmode == 'rederive':
                        # z again from the refined latent, then a second pass under its mean/scale
                        zh = torch.clamp(torch.round(model.run(model.ha, ys.to(args.device))), -Z_CLAMP, Z_CLAMP)
                        zh = zh[0].cpu().numpy().astype(np.int64)
                        mu2, sigma2, idx2, zb2 = side_info(model, hs_layers, ztab, zh, table, args.device)
                        b0 = {'ys': ys}
                        bpp_r, ps_r = score(model, x, q, ys, mu2, idx2, zb2, gtab)
                        ys2 = refine(model, x, q, b0, mu2, sigma2, it, args.lr, m, args.sched, args.anneal)
                        bpp2, ps2 = score(model, x, q, ys2, mu2, idx2, zb2, gtab)
                        row[f'rz{it}'] = [bpp_r, ps_r]
                        row[f'rr{it}'] = [bpp2, ps2, round(time.time() - t0, 2)]
            rows.append(row)
            print(json.dumps(row), flush=True)
    if args.out:
        with open(args.out, 'w') as fh:
            json.dump(rows, fh)


if __name__ == '__main__':
    main()
