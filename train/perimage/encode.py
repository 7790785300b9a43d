"""Encode images with profile 2 in PyTorch: the reference the TypeScript encoder is checked
against, and the tool for sweeps (steps, schedules, sizes, quantization).

    python3 train/perimage/encode.py --images a.png,b.png --lambdas 0.01,0.002 [--steps 10000]
        [--noise-frac 0.75] [--lr 0.01] [--arch default|small|...] [--out runs.jsonl]
        [--export dir] [--device cuda] [--crop N] [--fine-scales [--phase1-log2b-min -3] [--file-floor-from 1]]

For each image and lambda: train the per-image model (loss = MSE + lambda * latent bits per
pixel), quantize the parameters (exponents searched per tensor), round the latents, and
measure the exact rate with the integer context model (exact.py) and the PSNR of the 8-bit
decoded image. One JSON line per run.
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
from PIL import Image

sys.path.insert(0, os.path.dirname(__file__))
import exact  # noqa: E402
from model import LOG2B_GRAD, LOG2B_MIN_BASE, SYN_INIT, PerImage, default_arch, log2b_floor_at, set_fine_scales  # noqa: E402

ARCHES = {
    'default': default_arch(),
    'small': dict(L=7, N=8, D=1, Wh=8, synthesis=[('1x1', 12, 'relu', False), ('1x1', 3, 'none', False),
                                                  ('3x3', 3, 'relu', True), ('3x3', 3, 'none', True)]),
    'wide': dict(L=7, N=24, D=2, Wh=24, synthesis=[('1x1', 40, 'relu', False), ('1x1', 3, 'none', False),
                                                   ('3x3', 3, 'relu', True), ('3x3', 3, 'none', True)]),
    # the default's ARM, Cool-chic's one-hidden-layer synthesis (bench/perimage-arches.ts syn40)
    'syn40': dict(L=7, N=16, D=2, Wh=16, synthesis=[('1x1', 40, 'relu', False), ('1x1', 3, 'none', False),
                                                    ('3x3', 3, 'relu', True), ('3x3', 3, 'none', True)]),
    # the wide context model with the default's synthesis (bench/perimage-arches.ts arm24)
    'arm24': dict(default_arch(), N=24, Wh=24),
    'c5': dict(L=7, N=16, D=2, Wh=16, synthesis=[('1x1', 32, 'relu', False), ('1x1', 3, 'none', False),
                                                 ('3x3', 3, 'relu', True), ('3x3', 3, 'none', True)]),
}


def load(path, crop=0):
    x = np.asarray(Image.open(path).convert('RGB'), dtype=np.float32) / 255.0
    if crop:
        x = x[:crop, :crop]
    return torch.tensor(x).permute(2, 0, 1)[None]


def psnr8(xh, x):
    a = torch.clamp(torch.floor(xh * 255 + 0.5), 0, 255)
    mse = ((a - torch.round(x * 255)) ** 2).mean().item()
    return 10 * math.log10(255 ** 2 / max(mse, 1e-12))


def train(model, x, lam, steps, lr, noise_frac, log_every=0, tag='', phase1_log2b_min=LOG2B_MIN_BASE, file_floor_from=1.0):
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    HW = x.shape[2] * x.shape[3]
    n_noise = int(steps * noise_frac)
    t0 = time.time()
    for t in range(steps):
        phase_lr = lr if t < n_noise else lr * 0.3
        # cosine decay within each phase
        if t < n_noise:
            frac = t / max(1, n_noise)
        else:
            frac = (t - n_noise) / max(1, steps - n_noise)
        for g in opt.param_groups:
            g['lr'] = phase_lr * (0.5 * (1 + math.cos(math.pi * frac)) * 0.99 + 0.01)
        xh, bits = model('noise' if t < n_noise else 'ste', log2b_floor_at(t, n_noise, phase1_log2b_min, file_floor_from))
        loss = F.mse_loss(xh, x) + lam * bits / HW
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if log_every and (t % log_every == 0 or t == steps - 1):
            mse = F.mse_loss(xh.detach(), x).item()
            print(json.dumps({'tag': tag, 'step': t, 'loss': loss.item(), 'bpp': bits.item() / HW,
                              'psnr': 10 * math.log10(1 / max(mse, 1e-12)), 's': round(time.time() - t0, 1)}), flush=True)
    return time.time() - t0


@torch.no_grad()
def quantize_and_measure(model, x, lam):
    """Integer ARM (exponent per layer), float tensors (exponent per tensor), exact bits, 8-bit PSNR."""
    dev = x.device
    HW = x.shape[2] * x.shape[3]
    dense = exact.dense_bits_table(dev)
    grids = exact.rounded_grids(model)
    # ARM: one exponent per layer, chosen for the smallest latents + ARM parameters
    n_layers = len(model.arm)
    e_arm = [0] * n_layers
    def arm_cost(e_list):
        Ws, bs, ks = exact.arm_to_int(model, e_list)
        lat = exact.latent_bits(grids, Ws, bs, dense)
        par = sum(exact.tensor_bits(k, dense)[0] for k, _ in ks)
        return lat + par, lat, par
    best = arm_cost(e_arm)
    for l in range(n_layers):
        for e in range(1, 5):
            trial = list(e_arm)
            trial[l] = e
            c = arm_cost(trial)
            if c[0] < best[0]:
                best, e_arm = c, trial
    lat_bits, arm_bits = best[1], best[2]
    stats = exact.latent_stats(grids, *exact.arm_to_int(model, e_arm)[:2], dense)
    # float tensors: taps, then synthesis W, b; greedy exponent per tensor on D + lam * R
    grids_f = [g.double().float()[None, None] for g in grids]
    float_tensors = [model.taps] + [p for conv in model.syn for p in (conv.weight, conv.bias)]
    originals = [t.detach().clone() for t in float_tensors]

    def distortion():
        xh = model.synthesis(model.synth_input(grids_f))
        return F.mse_loss(xh.clamp(0, 1), x).item()

    float_bits = 0.0
    for t, orig in zip(float_tensors, originals):
        best_t = None
        for e in range(3, 17):
            k, val = exact.float_to_int(orig, e)
            t.data.copy_(val)
            bits = exact.tensor_bits(k, dense)[0]
            cost = distortion() + lam * bits / HW
            if best_t is None or cost < best_t[0]:
                best_t = (cost, e, bits, val)
        t.data.copy_(best_t[3])
        float_bits += best_t[2]
    xh = model.synthesis(model.synth_input(grids_f))
    header_bytes = 52 + 5 + 4 * len(model.arch['synthesis']) + 2 * (len(float_tensors) * 1 + 2 * n_layers) + 4 + 16
    total_bits = lat_bits + arm_bits + float_bits + 8 * header_bytes
    return dict(bpp=total_bits / HW, bpp_latent=lat_bits / HW, bpp_params=(arm_bits + float_bits) / HW,
                psnr=psnr8(xh, x), e_arm=e_arm, **stats)


def emit(row, out):
    """One result: a JSON line on stdout and, with `out`, appended to that file."""
    print(json.dumps(row), flush=True)
    if out:
        with open(out, 'a') as fh:
            fh.write(json.dumps(row) + '\n')


def common_args(ap, steps, seed):
    """The options encode.py and sweep.py share; fp32 without TF32, like the TypeScript encoder."""
    ap.add_argument('--lambdas', required=True)
    ap.add_argument('--steps', type=int, default=steps)
    ap.add_argument('--lr', type=float, default=0.01)
    ap.add_argument('--noise-frac', type=float, default=0.75)
    ap.add_argument('--arch', default='default')
    ap.add_argument('--crop', type=int, default=0)
    ap.add_argument('--device', default='cuda' if torch.cuda.is_available() else 'cpu')
    ap.add_argument('--out', default='')
    ap.add_argument('--log-every', type=int, default=0)
    ap.add_argument('--seed', type=int, default=seed)
    ap.add_argument('--log2b-grad', default='inward', choices=['inward', 'clamp'],
                    help="the log2 b clamp's gradient: 'inward' (as the TypeScript encoder) or 'clamp' (zero outside, the rule before)")
    ap.add_argument('--fine-scales', action='store_true',
                    help='the FINE_SCALES header flag: 16 more latent tables, log2 b down to -5 (training and exact rate)')
    # with --fine-scales, as train.ts phase1Log2bMin / fileFloorFrom (model.log2b_floor_at says why)
    ap.add_argument('--phase1-log2b-min', type=float, default=LOG2B_MIN_BASE,
                    help="the floor of log2 b in phase 1 when the file's is lower (default -3; -5: the fine floor from the first step)")
    ap.add_argument('--file-floor-from', type=float, default=1.0,
                    help="the share of phase 1 after which the file's floor applies already (default 1: from phase 2 on)")
    ap.add_argument('--syn-hidden-bias', type=float, default=0.0,
                    help="initial bias of the synthesis's hidden ReLU layers (study switch; 0 = this reference's init so far, the TypeScript encoder's is 0.01)")
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False


def apply_common_args(a):
    """The module-level switches that common_args' options set (model.py, exact.py)."""
    LOG2B_GRAD['rule'] = a.log2b_grad
    set_fine_scales(a.fine_scales)
    SYN_INIT['hidden_bias'] = a.syn_hidden_bias


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--images', required=True)
    common_args(ap, steps=10000, seed=0)
    a = ap.parse_args()
    apply_common_args(a)
    for path in a.images.split(','):
        x = load(path, a.crop).to(a.device)
        for lam in [float(v) for v in a.lambdas.split(',')]:
            torch.manual_seed(a.seed)
            model = PerImage(x.shape[2], x.shape[3], ARCHES[a.arch], seed=a.seed).to(a.device)
            secs = train(model, x, lam, a.steps, a.lr, a.noise_frac, a.log_every, os.path.basename(path), a.phase1_log2b_min, a.file_floor_from)
            with torch.no_grad():
                xh, bits = model('round')
                float_psnr = psnr8(xh, x)
                float_bpp = bits.item() / (x.shape[2] * x.shape[3])
            m = quantize_and_measure(model, x, lam)
            row = dict(image=os.path.basename(path), lam=lam, steps=a.steps, lr=a.lr, noise_frac=a.noise_frac,
                       fineScales=a.fine_scales, phase1Log2bMin=a.phase1_log2b_min, fileFloorFrom=a.file_floor_from, arch=a.arch, macs=round(model.macs_per_pixel()), secs=round(secs, 1),
                       ms_per_step=round(1000 * secs / a.steps, 2), float_psnr=round(float_psnr, 3),
                       float_bpp_latent=round(float_bpp, 4), **{k: (round(v, 4) if isinstance(v, float) else v) for k, v in m.items()})
            emit(row, a.out)


if __name__ == '__main__':
    main()
