"""One image, K lambdas trained together (batch.PerImageBatch), then each member quantized and
measured exactly as encode.py does (integer ARM bits, quantized parameters, 8-bit PSNR).

    python3 train/perimage/sweep.py --image kodim03.png --lambdas 4e-4,1e-3,2.5e-3,6e-3,1.5e-2,4e-2 \
        --steps 8000 [--recipe noise|softnoise] [--T 0.3,0.1] [--lr 0.01] [--noise-frac 0.75] \
        [--ste-lr-scale 0.1] [--ste-latent-scale S] [--arch default] [--out rows.jsonl] [--tag name] [--log-every 500]

Recipes: 'noise' is the TypeScript encoder's (train.ts: uniform noise, then straight-through
rounding); 'softnoise' replaces phase 1's y + u by softround(softround(y, T) + u, T) with T
annealed linearly from the first to the second value of --T.
"""
import argparse
import json
import math
import os
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(__file__))
from batch import PerImageBatch  # noqa: E402
from encode import ARCHES, common_args, emit, load, psnr8, quantize_and_measure  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--image', required=True)
    common_args(ap, steps=8000, seed=1)
    ap.add_argument('--recipe', default='noise', choices=['noise', 'softnoise'])
    ap.add_argument('--T', default='0.3,0.1')
    ap.add_argument('--ste-lr-scale', type=float, default=0.1)
    ap.add_argument('--lr-latent', type=float, default=0.0, help='Adam step of the latents (default: --lr)')
    ap.add_argument('--ste-latent-scale', type=float, default=-1.0,
                    help='the latents\' step in the straight-through phase, relative to their phase-1 step (default: --ste-lr-scale; 0 freezes them)')
    ap.add_argument('--tag', default='')
    a = ap.parse_args()
    torch.manual_seed(a.seed)
    x = load(a.image, a.crop).to(a.device)
    H, W = x.shape[2], x.shape[3]
    lams = [float(v) for v in a.lambdas.split(',')]
    K = len(lams)
    lam_t = torch.tensor(lams, device=a.device)
    T0, T1 = [float(v) for v in a.T.split(',')]
    b = PerImageBatch(H, W, K, ARCHES[a.arch], seeds=[a.seed] * K).to(a.device)
    lr_lat = a.lr_latent or a.lr
    lat_ids = {id(p) for p in b.latents}
    opt = torch.optim.Adam([{'params': [p for p in b.parameters() if id(p) not in lat_ids], 'lr0': a.lr, 'latent': False},
                            {'params': list(b.latents), 'lr0': lr_lat, 'latent': True}])
    ste_lat = a.ste_lr_scale if a.ste_latent_scale < 0 else a.ste_latent_scale
    n1 = max(1, round(a.steps * a.noise_frac))
    n2 = a.steps - n1
    t0 = time.time()
    for t in range(a.steps):
        if t < n1:
            s = s_lat = 0.5 * (1 + math.cos(math.pi * t / n1))
            mode = 'noise' if a.recipe == 'noise' else 'softnoise'
        else:
            c = 0.5 * (1 + math.cos(math.pi * (t - n1) / max(1, n2)))
            s, s_lat = a.ste_lr_scale * c, ste_lat * c
            mode = 'ste'
        for g in opt.param_groups:
            g['lr'] = g['lr0'] * (s_lat if g['latent'] else s)
        T = T0 + (T1 - T0) * min(1.0, t / n1)
        xh, bits = b(mode, T)
        mse = ((xh - x) ** 2).mean(dim=(1, 2, 3))
        loss = (mse + lam_t * bits / (H * W)).sum()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if a.log_every and (t % a.log_every == 0 or t == a.steps - 1):
            print(json.dumps({'tag': a.tag, 'step': t, 'mode': mode, 'bpp': [round(v, 4) for v in (bits / (H * W)).tolist()],
                              'psnr': [round(10 * math.log10(1 / max(v, 1e-12)), 2) for v in mse.tolist()], 's': round(time.time() - t0, 1)}), flush=True)
    if a.device == 'cuda':
        torch.cuda.synchronize()
    secs = time.time() - t0
    # first the float results of every member (rounded latents, float parameters): cheap, so
    # that a run cut short before the slow per-member quantization still leaves its curve
    floats = []
    for k, lam in enumerate(lams):
        with torch.no_grad():
            xr, br = b.member(k)('round')
        floats.append((round(psnr8(xr, x), 3), round(br.item() / (H * W), 4)))
        emit(dict(tag=a.tag, kind='float', image=os.path.basename(a.image), lam=lam, steps=a.steps, recipe=a.recipe, arch=a.arch,
                  lr=a.lr, lr_latent=lr_lat, float_psnr=floats[k][0], float_bpp_latent=floats[k][1]), a.out)
    for k, lam in enumerate(lams):
        m = b.member(k)
        meas = quantize_and_measure(m, x, lam)
        row = dict(tag=a.tag, image=os.path.basename(a.image), lam=lam, steps=a.steps, recipe=a.recipe, T=a.T, lr=a.lr,
                   lr_latent=lr_lat, noise_frac=a.noise_frac, ste_lr_scale=a.ste_lr_scale, ste_latent_scale=ste_lat, arch=a.arch, K=K, secs=round(secs, 1),
                   ms_per_step=round(1000 * secs / a.steps, 2), float_psnr=floats[k][0], float_bpp_latent=floats[k][1],
                   # how far the latents travelled: max |round(y)| per grid, finest first (short
                   # schedules leave them within +-2, which caps the synthesis's input precision)
                   lat_max=[int(torch.round(y.detach()).abs().max().item()) for y in m.latents],
                   **{kk: (round(v, 4) if isinstance(v, float) else v) for kk, v in meas.items()})
        emit(row, a.out)


if __name__ == '__main__':
    main()
