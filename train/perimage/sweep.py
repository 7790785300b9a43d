"""One image, K lambdas trained together (batch.PerImageBatch), then each member quantized and
measured exactly as encode.py does (integer ARM bits, quantized parameters, 8-bit PSNR).

    python3 train/perimage/sweep.py --image kodim03.png --lambdas 4e-4,1e-3,2.5e-3,6e-3,1.5e-2,4e-2 \
        --steps 8000 [--recipe noise|softnoise] [--T 0.3,0.1] [--lr 0.01] [--noise-frac 0.75] \
        [--ste-lr-scale 0.1] [--ste-latent-scale 0] [--ste-reset none] [--keep-best 50] [--arch default] \
        [--out rows.jsonl] [--tag name] [--log-every 500] [--fine-scales [--phase1-log2b-min -3] [--file-floor-from 1]]
        [--net-opt adam|soap [--soap-on arm,syn] [--soap-lr-scale 1] [--soap-every 10] [--soap-beta 0.95]]

Recipes: 'noise' is the TypeScript encoder's (train.ts: uniform noise, then straight-through
rounding); 'softnoise' replaces phase 1's y + u by softround(softround(y, T) + u, T) with T
annealed linearly from the first to the second value of --T. Phase 2 by default as train.ts
since 2026-12-06: the latents stay fixed and the lowest-loss parameters are kept
(--ste-latent-scale -1 --keep-best 0: the recipe before). With --fine-scales, phase 1 keeps log2 b
at or above --phase1-log2b-min (-3, the base floor) and phase 2 trains with the file's (-5), as
train.ts (model.log2b_floor_at; --phase1-log2b-min -5: the fine floor from the first step).
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
from encode import ARCHES, apply_common_args, common_args, emit, load, psnr8, quantize_and_measure  # noqa: E402
from model import log2b_floor_at  # noqa: E402
from soap import SoapMatrices  # noqa: E402


def _copy_member(dst, src, k, K):
    """copy member k's slice of a stacked parameter: the members are stacked along dim 0 (grouped
    weights, K * n rows) or dim 1 (latents, 1 x K x h x w)"""
    if dst.dim() == 4 and dst.shape[0] == 1 and dst.shape[1] == K:
        dst[:, k:k + 1].copy_(src[:, k:k + 1])
    else:
        n = dst.shape[0] // K
        dst[k * n:(k + 1) * n].copy_(src[k * n:(k + 1) * n])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--image', required=True)
    common_args(ap, steps=8000, seed=1)
    ap.add_argument('--recipe', default='noise', choices=['noise', 'softnoise'])
    ap.add_argument('--T', default='0.3,0.1')
    ap.add_argument('--ste-lr-scale', type=float, default=0.1)
    ap.add_argument('--lr-latent', type=float, default=0.0, help='Adam step of the latents (default: --lr)')
    ap.add_argument('--ste-latent-scale', type=float, default=0.0,
                    help='the latents\' step in the straight-through phase, relative to their phase-1 step (default 0: they stay as phase 1 left them, '
                         'as train.ts; a negative value: --ste-lr-scale, the recipe before 2026-12-06)')
    ap.add_argument('--ste-reset', default='none', choices=['none', 'latents', 'all'],
                    help='clear Adam\'s moments at the switch to straight-through rounding (softnoise leaves the latents\' second moment tiny)')
    ap.add_argument('--keep-best', type=int, default=50,
                    help='in the straight-through phase, every N steps keep the parameters if their (hard-rounded) loss is the lowest yet; end with the kept ones '
                         '(train.ts bestEvery; 0: end with the last)')
    ap.add_argument('--net-opt', default='adam', choices=['adam', 'soap'],
                    help='the optimiser of the network weight matrices (soap.py); biases, taps and latents stay on Adam')
    ap.add_argument('--soap-every', type=int, default=10, help='steps between two eigenbases of a matrix\'s gradient statistics')
    ap.add_argument('--soap-beta', type=float, default=0.95, help='decay of those statistics')
    ap.add_argument('--soap-on', default='arm,syn', help='the networks whose matrices SOAP trains: arm, syn or both')
    ap.add_argument('--soap-lr-scale', type=float, default=1.0, help='SOAP\'s step relative to the networks\' Adam step')
    ap.add_argument('--tag', default='')
    a = ap.parse_args()
    apply_common_args(a)
    torch.manual_seed(a.seed)
    x = load(a.image, a.crop).to(a.device)
    H, W = x.shape[2], x.shape[3]
    lams = [float(v) for v in a.lambdas.split(',')]
    K = len(lams)
    lam_t = torch.tensor(lams, device=a.device)
    T0, T1 = [float(v) for v in a.T.split(',')]
    b = PerImageBatch(H, W, K, ARCHES[a.arch], seeds=[a.seed] * K).to(a.device)
    lr_lat = a.lr_latent or a.lr
    # the parameters outside the network's Adam group: the latents (their own group) and SOAP's matrices
    not_net_adam = {id(p) for p in b.latents}
    soap = None
    if a.net_opt == 'soap':
        on = a.soap_on.split(',')
        mats = [(w, (K, w.shape[1], w.shape[2])) for w in b.arm_w] if 'arm' in on else []
        mats += [(w, (K, w.shape[0] // K, w[0].numel())) for w in b.syn_w] if 'syn' in on else []
        soap = SoapMatrices(mats, every=a.soap_every, stat_beta=a.soap_beta)
        not_net_adam |= {id(w) for w, _ in mats}
    opt = torch.optim.Adam([{'params': [p for p in b.parameters() if id(p) not in not_net_adam], 'lr0': a.lr, 'latent': False},
                            {'params': list(b.latents), 'lr0': lr_lat, 'latent': True}])
    ste_lat = a.ste_lr_scale if a.ste_latent_scale < 0 else a.ste_latent_scale
    n1 = max(1, round(a.steps * a.noise_frac))
    n2 = a.steps - n1
    t0 = time.time()
    best, best_loss = None, None
    for t in range(a.steps):
        if t == n1 and a.ste_reset != 'none':
            for g in opt.param_groups:
                if a.ste_reset == 'all' or g['latent']:
                    for p in g['params']:
                        opt.state.pop(p, None)
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
        # the floor of log2 b: phase 2's (and so the best-of-phase-2 offers' losses) is the file's
        xh, bits = b(mode, T, log2b_floor_at(t, n1, a.phase1_log2b_min, a.file_floor_from))
        mse = ((xh - x) ** 2).mean(dim=(1, 2, 3))
        loss = (mse + lam_t * bits / (H * W)).sum()
        if a.keep_best and mode == 'ste' and (t == n1 or (t + 1) % a.keep_best == 0):  # as train.ts scheduleAt
            # the loss of the parameters before this step's update, with rounded latents
            lv = (mse + lam_t * bits / (H * W)).detach()
            if best_loss is None:
                best_loss, best = lv.clone(), [q.detach().clone() for q in b.parameters()]
            else:
                for k in range(K):  # per member: each lambda keeps its own best
                    if lv[k] < best_loss[k]:
                        best_loss[k] = lv[k]
                        for q, bq in zip(b.parameters(), best):
                            _copy_member(bq, q.detach(), k, K)
        opt.zero_grad(set_to_none=True)
        if soap:
            soap.zero_grad()
        loss.backward()
        opt.step()
        if soap:
            soap.step(a.lr * s * a.soap_lr_scale)
        if a.log_every and (t % a.log_every == 0 or t == a.steps - 1):
            print(json.dumps({'tag': a.tag, 'step': t, 'mode': mode, 'bpp': [round(v, 4) for v in (bits / (H * W)).tolist()],
                              'psnr': [round(10 * math.log10(1 / max(v, 1e-12)), 2) for v in mse.tolist()], 's': round(time.time() - t0, 1)}), flush=True)
    if best is not None:
        # the final update is not evaluated: compare it once more
        with torch.no_grad():
            xh, bits = b('ste', T1)
            lv = ((xh - x) ** 2).mean(dim=(1, 2, 3)) + lam_t * bits / (H * W)
            for k in range(K):
                if lv[k] >= best_loss[k]:
                    for q, bq in zip(b.parameters(), best):
                        _copy_member(q.data, bq, k, K)
        print(json.dumps({'tag': a.tag, 'kept_loss': [round(v, 7) for v in best_loss.tolist()], 'last_loss': [round(v, 7) for v in lv.tolist()]}), flush=True)
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
        emit(dict(tag=a.tag, kind='float', image=os.path.basename(a.image), lam=lam, steps=a.steps, recipe=a.recipe, arch=a.arch, fineScales=a.fine_scales,
                  phase1Log2bMin=a.phase1_log2b_min, fileFloorFrom=a.file_floor_from, lr=a.lr, lr_latent=lr_lat, float_psnr=floats[k][0], float_bpp_latent=floats[k][1]), a.out)
    for k, lam in enumerate(lams):
        m = b.member(k)
        meas = quantize_and_measure(m, x, lam)
        row = dict(tag=a.tag, image=os.path.basename(a.image), lam=lam, steps=a.steps, recipe=a.recipe, T=a.T, lr=a.lr,
                   lr_latent=lr_lat, noise_frac=a.noise_frac, ste_lr_scale=a.ste_lr_scale, ste_latent_scale=ste_lat, ste_reset=a.ste_reset, keep_best=a.keep_best, log2b_grad=a.log2b_grad, fineScales=a.fine_scales,
                   phase1Log2bMin=a.phase1_log2b_min, fileFloorFrom=a.file_floor_from, arch=a.arch, netOpt=a.net_opt,
                   **({'soapEvery': a.soap_every, 'soapBeta': a.soap_beta, 'soapOn': a.soap_on, 'soapLrScale': a.soap_lr_scale} if soap else {}), **({'synHiddenBias': a.syn_hidden_bias} if a.syn_hidden_bias else {}), K=K, secs=round(secs, 1),
                   ms_per_step=round(1000 * secs / a.steps, 2), float_psnr=floats[k][0], float_bpp_latent=floats[k][1],
                   # how far the latents travelled: max |round(y)| per grid, finest first (short
                   # schedules leave them within +-2, which caps the synthesis's input precision)
                   lat_max=[int(torch.round(y.detach()).abs().max().item()) for y in m.latents],
                   **{kk: (round(v, 4) if isinstance(v, float) else v) for kk, v in meas.items()})
        emit(row, a.out)


if __name__ == '__main__':
    main()
