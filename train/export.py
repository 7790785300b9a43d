"""Export a trained checkpoint to weights/ (format: weights/README.md).

    python3 train/export.py --ckpt A.pt[,B.pt] --out weights [--kodak ../shared/data/kodak]
                            [--golden test/fixtures/golden]

Steps: float layers to int8 (per-output-channel scale); h_s to pure integer arithmetic
(int8 weights, int32 biases, multiplier/shift requantisation); entropy tables to integer
CDFs (computed here once with floating point, shipped as integers). Then the exported
weights are evaluated on Kodak *as exported* (dequantised float layers, exact integer h_s,
real integer CDF code lengths) and the result is written into the manifest under `eval`,
which the TypeScript tests compare against.
"""
import argparse
import hashlib
import json
import math
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

sys.path.insert(0, os.path.dirname(__file__))
from model import (LAMBDAS, hs_hidden_of, load_parts, MEAN_FRAC_BITS, NUM_SCALES, Z_CLAMP, NimgModel,  # noqa: E402
                   scale_table)

PREC = 16
TOTAL = 1 << PREC
MODEL_ID = 'nimg-mshp-1'


# ---------------------------------------------------------------- integer CDF tables
def quantize_pmf(pmf, tail):
    """pmf over the in-range values + tail mass for the escape symbol -> int CDF summing
    to 2^16, every frequency >= 1."""
    p = np.concatenate([np.asarray(pmf, np.float64), [max(tail, 0.0)]])
    p = np.maximum(p, 0)
    p = p / p.sum()
    freq = np.maximum(1, np.round(p * TOTAL)).astype(np.int64)
    # fix the sum by adjusting the largest entries (never below 1)
    diff = TOTAL - int(freq.sum())
    order = np.argsort(-freq)
    i = 0
    while diff != 0:
        j = order[i % len(order)]
        if diff > 0:
            freq[j] += 1
            diff -= 1
        elif freq[j] > 1:
            freq[j] -= 1
            diff += 1
        i += 1
    cdf = np.concatenate([[0], np.cumsum(freq)]).astype(np.int64)
    assert cdf[-1] == TOTAL and np.all(np.diff(cdf) >= 1)
    return cdf


def gaussian_tables():
    from math import erfc, sqrt
    cdfs, offsets = [], []
    for s in scale_table():
        T = max(1, int(math.ceil(7 * s)))
        v = np.arange(-T, T + 1, dtype=np.float64)
        phi = lambda t: 0.5 * erfc(-t / sqrt(2))  # noqa: E731
        pmf = np.array([phi((x + 0.5) / s) - phi((x - 0.5) / s) for x in v])
        tail = 2 * phi(-(T + 0.5) / s)
        cdfs.append(quantize_pmf(pmf, tail))
        offsets.append(-T)
    return cdfs, offsets


@torch.no_grad()
def z_tables(model):
    eb = model.zprior
    C = eb.C
    v = torch.arange(-Z_CLAMP, Z_CLAMP + 1, dtype=torch.float32)
    lik = eb.likelihood(v[None, None, None, :].repeat(1, C, 1, 1))[0, :, 0, :].double().numpy()  # [C, 511]
    cdfs, offsets = [], []
    for c in range(C):
        p = lik[c] / max(lik[c].sum(), 1e-30)
        cum = np.cumsum(p)
        lo = int(np.searchsorted(cum, 2 ** -18))
        hi = int(np.searchsorted(cum, 1 - 2 ** -18))
        hi = max(hi, lo)
        pmf = p[lo:hi + 1]
        tail = max(0.0, 1 - pmf.sum())
        cdfs.append(quantize_pmf(pmf, tail))
        offsets.append(lo - Z_CLAMP)
    return cdfs, offsets


def code_bits(values, tables, offsets, table_idx):
    """Ideal code length (bits) of int values under integer tables, escape included."""
    values = np.asarray(values, np.int64).ravel()
    table_idx = np.asarray(table_idx, np.int64).ravel()
    bits = 0.0
    for t in np.unique(table_idx):
        sel = values[table_idx == t]
        cdf = tables[t]
        n = len(cdf) - 1
        lo, hi = offsets[t], offsets[t] + n - 2
        freq = np.diff(cdf)
        inr = (sel >= lo) & (sel <= hi)
        bits += -np.log2(freq[sel[inr] - lo] / TOTAL).sum()
        out = sel[~inr]
        if len(out):
            bits += len(out) * -math.log2(freq[n - 1] / TOTAL)
            e = np.where(out < lo, 2 * (lo - 1 - out), 2 * (out - hi - 1) + 1)
            bits += (2 * np.floor(np.log2(e + 1)) + 1).sum()
    return bits


# ---------------------------------------------------------------- integer h_s
def requant_params(ratio):
    """m / 2^sh ~= ratio with 2^15 <= m < 2^16."""
    ratio = np.asarray(ratio, np.float64)
    sh = (15 - np.floor(np.log2(ratio))).astype(np.int64)
    m = np.round(ratio * 2.0 ** sh).astype(np.int64)
    over = m >= (1 << 16)
    sh[over] -= 1
    m[over] = np.round(ratio[over] * 2.0 ** sh[over]).astype(np.int64)
    assert np.all((sh >= 1) & (sh <= 40)), sh
    assert np.all((m > 0) & (m < (1 << 16)))
    return m, sh


@torch.no_grad()
def export_hs(model):
    hs = model.hs
    layers = []
    s_in = 1.0
    steps_out = [hs.a0.step().item(), hs.a1.step().item(), None]
    for li, q in enumerate([hs.l0, hs.l1, hs.l2]):
        w = q.conv.weight.double()
        ws = w.abs().amax(dim=(1, 2, 3)).clamp(min=1e-8) / 127
        wi = torch.clamp(torch.round(w / ws[:, None, None, None]), -127, 127).to(torch.int64)
        bi = torch.round(q.conv.bias.double() / (ws * s_in)).to(torch.int64)
        if li < 2:
            ratio = ws * s_in / steps_out[li]
        else:
            M = model.M
            ratio = ws * s_in
            ratio[:M] = ratio[:M] * (1 << MEAN_FRAC_BITS)
        m, sh = requant_params(ratio.numpy())
        layers.append({'w': wi.numpy().astype(np.int8), 'b': bi.numpy().astype(np.int64),
                       'm': m, 'sh': sh, 'k': w.shape[-1]})
        if li < 2:
            s_in = steps_out[li]
    return layers


def conv_int(x, w, b):
    """x int64 [Cin,H,W], w int8 [Cout,Cin,k,k] -> int64 acc [Cout,H,W] (zero padding).
    Computed in float64, which is exact here: every partial sum is an integer below 2^53
    (|w| <= 127, |x| <= 255, at most 9*Cin terms); asserted below."""
    k = w.shape[-1]
    xt = torch.from_numpy(x.astype(np.float64))[None]
    wt = torch.from_numpy(w.astype(np.float64))
    acc = F.conv2d(xt, wt, torch.from_numpy(b.astype(np.float64)), padding=k // 2)[0].numpy()
    assert np.abs(acc).max() < 2 ** 52
    return np.rint(acc).astype(np.int64)


def requant(acc, m, sh):
    v = acc * m[:, None, None] + (np.int64(1) << (sh[:, None, None] - 1))
    return v >> sh[:, None, None]  # arithmetic shift = floor division


def pixel_shuffle_np(x):
    C4, H, W = x.shape
    C = C4 // 4
    return x.reshape(C, 2, 2, H, W).transpose(0, 3, 1, 4, 2).reshape(C, 2 * H, 2 * W)


def hs_int(zhat, layers, M):
    x = zhat.astype(np.int64)
    for li, L in enumerate(layers):
        acc = conv_int(x, L['w'], L['b'])
        assert np.abs(acc).max() < 2 ** 31, 'int32 accumulator overflow'
        v = requant(acc, L['m'], L['sh'])
        if li < 2:
            x = pixel_shuffle_np(np.clip(v, 0, 255))
        else:
            mu_q = np.clip(v[:M], -32768, 32767)
            idx = np.clip(v[M:], 0, NUM_SCALES - 1)
            return mu_q, idx


# ---------------------------------------------------------------- float layers
def q_int8(w):
    ws = w.abs().amax(dim=tuple(range(1, w.dim()))).clamp(min=1e-12) / 127
    wi = torch.clamp(torch.round(w / ws.view(-1, *([1] * (w.dim() - 1)))), -127, 127).to(torch.int8)
    return wi, ws.float()


class Writer:
    def __init__(self):
        self.buf = bytearray()
        self.tensors = {}

    def add(self, name, arr, dtype):
        arr = np.ascontiguousarray(arr)
        np_dtype = {'float32': '<f4', 'float16': '<f2', 'int8': 'i1', 'int32': '<i4'}[dtype]
        data = arr.astype(np_dtype).tobytes()
        while len(self.buf) % 8:
            self.buf.append(0)
        self.tensors[name] = {'dtype': dtype, 'shape': list(arr.shape), 'offset': len(self.buf), 'length': len(data)}
        self.buf += data


def float_layers(model):
    """(name, conv module or None, gdn module or None) in the order of weights/README.md."""
    out = []
    for i, j in enumerate([0, 2, 4, 6]):
        out.append((f'ga.{i}', model.ga[j]))
        if j < 6:
            out.append((f'ga.{i}.gdn', model.ga[j + 1]))
    for i, j in enumerate([0, 2, 4, 6]):
        out.append((f'gs.{i}', model.gs[j].conv))
        if j < 6:
            out.append((f'gs.{i}.igdn', model.gs[j + 1]))
    for i, j in enumerate([0, 2, 4]):
        out.append((f'ha.{i}', model.ha[j]))
    return out


@torch.no_grad()
def quantize_model_inplace(model, store):
    """Replace float conv weights by their exported (dequantised) values. store: name ->
    'int8' | 'float16'."""
    for name, mod in float_layers(model):
        if isinstance(mod, torch.nn.Conv2d):
            dt = store(name)
            if dt == 'int8':
                wi, ws = q_int8(mod.weight.float())
                mod.weight.copy_(wi.float() * ws.view(-1, 1, 1, 1))
            else:
                mod.weight.copy_(mod.weight.half().float())
        else:
            beta, gamma = mod.params()
            mod.beta_p.copy_(torch.sqrt(torch.clamp(beta.half().float() - 1e-6, min=0)))
            mod.gamma_p.copy_(torch.sqrt(gamma.half().float()))


# ---------------------------------------------------------------- evaluation
def pad_to(x, m=64):
    _, _, H, W = x.shape
    ph, pw = (-H) % m, (-W) % m
    if ph or pw:
        x = F.pad(x, (0, pw, 0, ph), mode='replicate')
    return x


@torch.no_grad()
def codec_run(model, hs_layers, ztab, gtab, x, q):
    """The codec as the TypeScript side runs it, in PyTorch. x: [1,3,H,W] in [0,1]."""
    H, W = x.shape[-2:]
    dev = next(model.parameters()).device
    x = x.to(dev)
    xp = pad_to(x)
    ge, gd = model.gains(torch.tensor([float(q)], device=dev))
    y = model.run(model.ga, xp)
    ys = y * ge
    z = model.run(model.ha, ys)
    zhat = torch.clamp(torch.round(z), -Z_CLAMP, Z_CLAMP)[0].cpu().numpy().astype(np.int64)
    mu_q, idx = hs_int(zhat, hs_layers, model.M)
    mu = torch.from_numpy(mu_q.astype(np.float32) / (1 << MEAN_FRAC_BITS))[None].to(dev)
    k = torch.clamp(torch.round(ys - mu), -2 ** 24, 2 ** 24)
    yhat = (k + mu) * gd
    xhat = model.run(model.gs, yhat)[..., :H, :W]
    x8 = torch.round(torch.clamp(xhat, 0, 1) * 255)
    Nz = zhat.shape[0]
    zbits = code_bits(zhat, ztab[0], ztab[1], np.repeat(np.arange(Nz), zhat[0].size))
    ybits = code_bits(k[0].cpu().numpy().astype(np.int64), gtab[0], gtab[1], idx)
    y, ys, z, k, yhat, xhat, x8 = (t.cpu() for t in (y, ys, z, k, yhat, xhat, x8))
    return {'y': y, 'ys': ys, 'z': z, 'zhat': zhat, 'mu_q': mu_q, 'idx': idx, 'k': k, 'yhat': yhat,
            'xhat': xhat, 'x8': x8, 'bits': zbits + ybits}


def psnr8(a8, b8):
    mse = ((a8.double() - b8.double()) ** 2).mean().item()
    return 10 * math.log10(255 ** 2 / max(mse, 1e-12))


def load_img(path):
    a = np.asarray(Image.open(path).convert('RGB'))
    return torch.from_numpy(a.copy()).permute(2, 0, 1)[None].float() / 255


# ---------------------------------------------------------------- loading
def load_model(ckpt):
    """A frozen float32 NimgModel from checkpoint file(s) 'A.pt[,B.pt]' (parts of one state
    dict, fp16 or fp32), and the last part's {step, elapsed_s}."""
    sd, meta = load_parts(ckpt)
    model = NimgModel(hs_hidden=hs_hidden_of(sd))
    model.load_state_dict(sd)
    model.eval()
    for p_ in model.parameters():
        p_.requires_grad_(False)
    return model, meta


def storage_rule(fp16_layers, gs_dtype='int8'):
    """name -> 'int8' | 'float16' for the float layers: the comma-separated fp16_layers
    (and their sub-layers) in float16, g_s in gs_dtype, the rest int8."""
    fp16 = [p for p in fp16_layers.split(',') if p]

    def store(name):
        if any(name == p or name.startswith(p + '.') for p in fp16):
            return 'float16'
        return gs_dtype if name.startswith('gs') else 'int8'
    return store


# ---------------------------------------------------------------- main
def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--ckpt', required=True)
    ap.add_argument('--out', default='weights')
    ap.add_argument('--kodak', default=None)
    ap.add_argument('--golden', default=None)
    ap.add_argument('--gs-dtype', default='int8', choices=['int8', 'float16'])
    # layers stored as float16 instead of int8, by name (comma-separated; '' = none). The
    # default two lose most to int8: 0.34 dB at q8 between them (weights/README.md)
    ap.add_argument('--fp16-layers', default='gs.0,gs.3')
    ap.add_argument('--train-log', default=None)
    ap.add_argument('--max-images', type=int, default=24)
    # evaluate these Kodak files only (comma-separated names), e.g. the two the CI test decodes
    ap.add_argument('--kodak-images', default=None)
    ap.add_argument('--device', default='cpu')
    args = ap.parse_args()
    torch.set_num_threads(os.cpu_count() or 2)

    model, meta = load_model(args.ckpt)
    store = storage_rule(args.fp16_layers, args.gs_dtype)
    quantize_model_inplace(model, store)
    hs_layers = export_hs(model)
    # float32 evaluation exactly as exported: no TF32 shortcuts on a GPU
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    gcdf, goff = gaussian_tables()
    zcdf, zoff = z_tables(model)

    w = Writer()
    for name, mod in float_layers(model):
        if isinstance(mod, torch.nn.Conv2d):
            if store(name) == 'int8':
                wi, ws = q_int8(mod.weight.float())
                w.add(name + '.w', wi.numpy(), 'int8')
                w.add(name + '.w.scale', ws.numpy(), 'float32')
            else:
                w.add(name + '.w', mod.weight.numpy(), 'float16')
            w.add(name + '.b', mod.bias.numpy(), 'float32')
        else:
            beta, gamma = mod.params()
            w.add(name + '.beta', beta.detach().numpy(), 'float32')
            w.add(name + '.gamma', gamma.detach().numpy(), 'float32')
    for i, L in enumerate(hs_layers):
        w.add(f'hs.{i}.w', L['w'], 'int8')
        w.add(f'hs.{i}.b', L['b'], 'int32')
        w.add(f'hs.{i}.m', L['m'], 'int32')
        w.add(f'hs.{i}.sh', L['sh'], 'int32')
    w.add('gain.enc', torch.exp(model.log_gain_enc).detach().numpy(), 'float32')
    w.add('gain.dec', torch.exp(model.log_gain_dec).detach().numpy(), 'float32')
    for prefix, cdfs, offs in (('ent.gauss', gcdf, goff), ('ent.z', zcdf, zoff)):
        ptr = np.concatenate([[0], np.cumsum([len(c) for c in cdfs])])
        w.add(prefix + '.cdf', np.concatenate(cdfs), 'int32')
        w.add(prefix + '.ptr', ptr, 'int32')
        w.add(prefix + '.offset', np.array(offs), 'int32')

    binary = bytes(w.buf)
    sha = hashlib.sha256(binary).hexdigest()
    manifest = {
        'format': 'nimg-weights', 'version': 1, 'model_id': MODEL_ID, 'sha256': sha,
        'arch': {'N': model.N, 'M': model.M, 'Nz': model.Nz, 'hs_hidden': list(model.hs_hidden), 'stride': 64},
        'quality': {'levels': 8, 'lambdas': LAMBDAS},
        'entropy': {'precision': PREC, 'mean_frac_bits': MEAN_FRAC_BITS, 'num_scales': NUM_SCALES,
                    'scales': scale_table()},
        'storage': {part: ', '.join(sorted({f'{store(n)} ({n})' if store(n) != base else base
                                            for n, m in float_layers(model)
                                            if n.startswith(prefix) and isinstance(m, torch.nn.Conv2d)}))
                    for part, prefix, base in (('g_a', 'ga', 'int8'), ('h_a', 'ha', 'int8'),
                                               ('g_s', 'gs', args.gs_dtype))}
        | {'h_s': 'int8 (integer network)'},
        'training': meta,
        'tensors': w.tensors,
    }

    model.to(args.device)
    if args.kodak:
        files = sorted(f for f in os.listdir(args.kodak) if f.endswith('.png'))[:args.max_images]
        if args.kodak_images:
            files = sorted(args.kodak_images.split(','))
        ev = {}
        for q in range(1, 9):
            bpps, psnrs = [], []
            for f in files:
                x = load_img(os.path.join(args.kodak, f))
                r = codec_run(model, hs_layers, (zcdf, zoff), (gcdf, goff), x, q)
                H, W = x.shape[-2:]
                bpps.append(r['bits'] / (H * W))
                psnrs.append(psnr8(r['x8'], torch.round(x * 255)))
            print(f'q{q} done', flush=True)
            ev[str(q)] = {'bpp_ideal': float(np.mean(bpps)), 'psnr': float(np.mean(psnrs)),
                          'per_image_psnr': [round(p, 4) for p in psnrs],
                          'per_image_bpp': [round(b, 6) for b in bpps]}
            print(f'q{q}: {ev[str(q)]["bpp_ideal"]:.4f} bpp (ideal code length), {ev[str(q)]["psnr"]:.3f} dB', flush=True)
        manifest['eval'] = {'kodak': ev, 'images': len(files), 'image_names': files,
                            'note': 'PyTorch run of the exported weights (float32 CPU); bpp from the integer '
                                    'tables\' ideal code lengths, psnr on 8-bit RGB per image then averaged'}

    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, 'nimg-v1.bin'), 'wb') as fh:
        fh.write(binary)
    with open(os.path.join(args.out, 'nimg-v1.json'), 'w') as fh:
        json.dump(manifest, fh, indent=1)
    print(f'wrote {len(binary)} bytes, sha256 {sha}')

    if args.golden:
        write_golden(model, hs_layers, (zcdf, zoff), (gcdf, goff), args.golden, args.kodak)


def write_golden(model, hs_layers, ztab, gtab, outdir, kodak):
    """Fixed input -> every intermediate, for the TypeScript test of the model."""
    os.makedirs(outdir, exist_ok=True)
    g = torch.Generator().manual_seed(1234)
    # a 64x80 crop of a smooth+textured synthetic image (no Kodak: deterministic, self-contained)
    yy, xx = torch.meshgrid(torch.arange(64.0), torch.arange(80.0), indexing='ij')
    base = torch.stack([0.5 + 0.4 * torch.sin(xx / 7), 0.5 + 0.4 * torch.cos(yy / 5), (xx + yy) / 144])
    x = torch.clamp(base + 0.05 * torch.rand(3, 64, 80, generator=g), 0, 1)
    x = torch.round(x * 255) / 255
    out = {'width': 80, 'height': 64, 'quality': 5.5}
    r = codec_run(model, hs_layers, ztab, gtab, x[None], out['quality'])
    x = x.cpu()
    out['rgb'] = (x * 255).round().to(torch.uint8).flatten().tolist()
    out['y'] = r['y'][0].flatten().tolist()
    out['y_shape'] = list(r['y'][0].shape)
    out['z'] = r['z'][0].flatten().tolist()
    out['zhat'] = r['zhat'].flatten().tolist()
    out['zhat_shape'] = list(r['zhat'].shape)
    out['mu_q'] = r['mu_q'].flatten().tolist()
    out['idx'] = r['idx'].flatten().tolist()
    out['k'] = r['k'][0].numpy().astype(np.int64).flatten().tolist()
    out['xhat'] = r['xhat'][0].flatten().tolist()
    out['x8'] = r['x8'][0].to(torch.uint8).flatten().tolist()
    with open(os.path.join(outdir, 'golden.json'), 'w') as fh:
        json.dump(out, fh)
    print('golden vectors written to', outdir)


if __name__ == '__main__':
    main()
