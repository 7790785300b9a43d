"""Train the nimg model (variable rate) on the GPU machine.

    python3 train/train.py --data /tmp/data --ckpt /tmp/ckpt --minutes 25 [--resume FILE]

Images are read from --data (any depth, .png/.jpg), decoded once into GPU memory, and
re-scanned every few minutes so that data carried over in later calls joins the pool.
Sampling is by source photo (crops of one photo share one photo's weight). A fixed
hold-out (every 29th photo, by name hash) is the validation set: Kodak is never seen.
The learning rate is 2e-4 until 80% of --minutes, then cosine-decays to 1e-5.
"""
import argparse
import glob
import hashlib
import json
import math
import os
import re
import sys
import time

import numpy as np
import torch
from PIL import Image

sys.path.insert(0, os.path.dirname(__file__))
from model import NimgModel, hs_hidden_of, load_parts, rd_loss, widen_hs  # noqa: E402


def photo_id(path):
    """Crops of one photograph share an id: strip _rXcY / _NN / _sK crop suffixes."""
    name = os.path.splitext(os.path.basename(path))[0]
    name = re.sub(r'(_s\d+)?_r\d+c\d+$', '', name)
    name = re.sub(r'_\d+$', '', name)
    return os.path.basename(os.path.dirname(path)) + '/' + name


def is_holdout(pid):
    return int(hashlib.sha1(pid.encode()).hexdigest(), 16) % 29 == 0


class Pool:
    def __init__(self, root, device, crop):
        self.root, self.device, self.crop = root, device, crop
        self.seen = set()
        self.train, self.train_pid, self.val = [], [], []
        self.weights = None

    def refresh(self):
        files = sorted(glob.glob(os.path.join(self.root, '**', '*.png'), recursive=True) +
                       glob.glob(os.path.join(self.root, '**', '*.jpg'), recursive=True))
        new = [f for f in files if f not in self.seen]
        for f in new:
            self.seen.add(f)
            if 'kodak' in f.lower() or 'kodim' in f.lower():
                continue
            try:
                im = np.asarray(Image.open(f).convert('RGB'))
            except Exception as e:  # a broken file must not stop training
                print('skip', f, e, flush=True)
                continue
            if im.shape[0] < self.crop or im.shape[1] < self.crop:
                continue
            t = torch.from_numpy(im.copy()).permute(2, 0, 1).contiguous().to(self.device)
            pid = photo_id(f)
            if is_holdout(pid):
                self.val.append(t)
            else:
                self.train.append(t)
                self.train_pid.append(pid)
        if new:
            counts = {}
            for p in self.train_pid:
                counts[p] = counts.get(p, 0) + 1
            w = torch.tensor([1.0 / counts[p] for p in self.train_pid])
            self.weights = w / w.sum()
        return len(new)

    def batch(self, B):
        idx = torch.multinomial(self.weights, B, replacement=True).tolist()
        c = self.crop
        out = []
        for i in idx:
            im = self.train[i]
            _, H, W = im.shape
            y = np.random.randint(0, H - c + 1)
            x = np.random.randint(0, W - c + 1)
            p = im[:, y:y + c, x:x + c]
            if np.random.rand() < 0.5:
                p = p.flip(2)
            if np.random.rand() < 0.5:
                p = p.flip(1)
            out.append(p)
        return torch.stack(out).float().div_(255.0)


def lr_at(frac, base=2e-4, final=1e-5, decay_from=0.8):
    if frac < decay_from:
        return base
    t = min(1.0, (frac - decay_from) / (1 - decay_from))
    return final + 0.5 * (base - final) * (1 + math.cos(math.pi * t))


@torch.no_grad()
def validate(model, pool, qs=(1.0, 4.0, 8.0)):
    model.eval()
    res = {}
    for q in qs:
        bpps, psnrs = [], []
        for im in pool.val[:40]:
            _, H, W = im.shape
            H, W = H // 64 * 64, W // 64 * 64
            if H == 0 or W == 0:
                continue
            x = im[:, :H, :W][None].float() / 255
            qq = torch.full((1,), q, device=x.device)
            xhat, y_lik, z_lik = model(x, qq)
            bits = -(torch.log2(y_lik.clamp(min=1e-9)).sum() + torch.log2(z_lik.clamp(min=1e-9)).sum())
            bpps.append((bits / (H * W)).item())
            mse = ((xhat.clamp(0, 1) * 255).round() / 255 - x).pow(2).mean().item()
            psnrs.append(10 * math.log10(1 / max(mse, 1e-12)))
        res[str(q)] = {'bpp': float(np.mean(bpps)), 'psnr': float(np.mean(psnrs))}
    model.train()
    return res


def save(model, step, elapsed, path):
    sd = {k: v.detach().float().cpu() for k, v in model.state_dict().items()}
    torch.save({'model': sd, 'step': step, 'elapsed_s': elapsed}, path + '.tmp')
    os.replace(path + '.tmp', path)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--data', required=True)
    ap.add_argument('--ckpt', required=True)
    ap.add_argument('--resume', default=None)
    ap.add_argument('--minutes', type=float, default=25)
    # 64: on the H100, batch 16 and 32 both ran at ~55-58 steps/s (bound by kernel launches,
    # not arithmetic) and batch 64 at ~49 steps/s: 3,150 crops/s against 1,860 at 32, which is
    # about what three batch-32 processes sharing the GPU reached together (~2,900)
    ap.add_argument('--batch', type=int, default=64)
    ap.add_argument('--crop', type=int, default=256)
    ap.add_argument('--lr', type=float, default=2e-4)
    ap.add_argument('--final-lr', type=float, default=1e-5)
    ap.add_argument('--decay-from', type=float, default=0.8)
    ap.add_argument('--compile', type=int, default=1)
    ap.add_argument('--log-every', type=int, default=200)
    ap.add_argument('--val-every', type=int, default=5000)
    ap.add_argument('--save-every-s', type=float, default=120)
    ap.add_argument('--max-steps', type=int, default=0)
    # one LR schedule can span several machines: --sched-minutes is its whole length,
    # --sched-done the minutes of it already trained by earlier runs (0 = this run is all of it)
    ap.add_argument('--sched-minutes', type=float, default=0)
    ap.add_argument('--sched-done', type=float, default=0)
    # a resumed run starts with a fresh Adam state: ramp the LR up instead of jumping to it
    ap.add_argument('--warmup-steps', type=int, default=500)
    # integer h_s widths "H0,H1"; empty = those of the resumed checkpoint (or the model's
    # default for a fresh start). Wider than the checkpoint's: grown by widen_hs (same function)
    ap.add_argument('--hs-hidden', default='')
    args = ap.parse_args()

    dev = 'cuda' if torch.cuda.is_available() else 'cpu'
    torch.backends.cudnn.benchmark = True
    torch.backends.cuda.matmul.allow_tf32 = True
    torch.backends.cudnn.allow_tf32 = True
    os.makedirs(args.ckpt, exist_ok=True)
    logf = open(os.path.join(args.ckpt, 'train_log.jsonl'), 'a')

    pool = Pool(args.data, dev, args.crop)
    n = pool.refresh()
    print(f'pool: {n} files, {len(pool.train)} train, {len(pool.val)} val', flush=True)

    hidden = tuple(int(v) for v in args.hs_hidden.split(',')) if args.hs_hidden else None
    step0, elapsed0 = 0, 0.0
    ck = None
    if args.resume:
        # one file, or several comma-separated parts whose 'model' dicts are merged
        sd, meta = load_parts(args.resume)
        ck = {'model': sd, 'step': meta['step'] or 0, 'elapsed_s': meta['elapsed_s'] or 0.0}
        hidden = hidden or hs_hidden_of(ck['model'])
        ck['model'] = widen_hs(ck['model'], hidden)
    model = (NimgModel(hs_hidden=hidden) if hidden else NimgModel()).to(dev)
    print('h_s hidden', model.hs_hidden, flush=True)
    if ck:
        model.load_state_dict(ck['model'])
        step0, elapsed0 = ck.get('step', 0), ck.get('elapsed_s', 0.0)
        print(f'resumed from {args.resume} at step {step0}', flush=True)
    model = model.to(memory_format=torch.channels_last)
    opt = torch.optim.Adam(model.parameters(), lr=args.lr)

    def step_fn(x, q):
        if dev != 'cuda':
            return rd_loss(model, x, q)
        with torch.autocast(device_type='cuda', dtype=torch.bfloat16):
            return rd_loss(model, x, q)

    fn = step_fn
    if args.compile and dev == 'cuda':
        try:
            fn = torch.compile(step_fn)
        except Exception as e:
            print('compile unavailable:', e, flush=True)

    t_start = time.time()
    budget = args.minutes * 60
    last_save = t_start
    last_refresh = t_start
    step = step0
    acc = {'loss': 0.0, 'bpp': 0.0, 'psnr': 0.0, 'n': 0}
    while True:
        el = time.time() - t_start
        if el > budget or (args.max_steps and step - step0 >= args.max_steps):
            break
        if args.sched_minutes:
            frac = (args.sched_done * 60 + el) / (args.sched_minutes * 60)
        else:
            frac = el / budget
        lr = lr_at(frac, args.lr, args.final_lr, args.decay_from)
        if args.resume and args.warmup_steps:
            lr *= min(1.0, (step - step0 + 1) / args.warmup_steps)
        for g in opt.param_groups:
            g['lr'] = lr
        x = pool.batch(args.batch).contiguous(memory_format=torch.channels_last)
        q = torch.rand(args.batch, device=dev) * 7 + 1
        try:
            loss, bpp, mse = fn(x, q)
        except Exception as e:
            if fn is step_fn:
                raise
            print('compiled step failed, falling back to eager:', repr(e)[:500], flush=True)
            fn = step_fn
            loss, bpp, mse = fn(x, q)
        opt.zero_grad(set_to_none=True)
        if not torch.isfinite(loss):
            print('non-finite loss at step', step, flush=True)
            continue
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        step += 1
        acc['loss'] += loss.item() if step % 50 == 0 else 0.0
        if step % 50 == 0:
            acc['bpp'] += bpp.mean().item()
            acc['psnr'] += (10 * torch.log10(1 / mse.clamp(min=1e-10))).mean().item()
            acc['n'] += 1
        if step % args.log_every == 0 and acc['n']:
            rec = {'step': step, 'time_s': round(elapsed0 + time.time() - t_start, 1), 'lr': lr,
                   'loss': acc['loss'] / acc['n'], 'bpp': acc['bpp'] / acc['n'], 'psnr': acc['psnr'] / acc['n'],
                   'steps_per_s': None}
            rec['steps_per_s'] = round((step - step0) / (time.time() - t_start), 2)
            print(json.dumps(rec), flush=True)
            logf.write(json.dumps(rec) + '\n')
            logf.flush()
            acc = {'loss': 0.0, 'bpp': 0.0, 'psnr': 0.0, 'n': 0}
        if step % args.val_every == 0 and pool.val:
            v = validate(model, pool)
            rec = {'step': step, 'time_s': round(elapsed0 + time.time() - t_start, 1), 'val': v}
            print(json.dumps(rec), flush=True)
            logf.write(json.dumps(rec) + '\n')
            logf.flush()
        now = time.time()
        if now - last_save > args.save_every_s:
            save(model, step, elapsed0 + now - t_start, os.path.join(args.ckpt, 'last.pt'))
            last_save = now
        if now - last_refresh > 60:
            k = pool.refresh()
            if k:
                print(f'pool grew by {k} files: {len(pool.train)} train, {len(pool.val)} val', flush=True)
            last_refresh = now
    save(model, step, elapsed0 + time.time() - t_start, os.path.join(args.ckpt, 'last.pt'))
    if pool.val:
        v = validate(model, pool)
        rec = {'step': step, 'time_s': round(elapsed0 + time.time() - t_start, 1), 'val': v, 'final': True}
        print(json.dumps(rec), flush=True)
        logf.write(json.dumps(rec) + '\n')
    print('done', step, flush=True)


if __name__ == '__main__':
    main()
