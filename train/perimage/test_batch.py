"""PerImageBatch against K separate PerImage models: same outputs, bits and gradients.
    python3 train/perimage/test_batch.py      (CPU, a few seconds)"""
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(__file__))
from batch import PerImageBatch  # noqa: E402
from model import PerImage, default_arch  # noqa: E402


def main():
    torch.manual_seed(0)
    H, W, K = 29, 21, 3
    arch = default_arch()
    x = torch.rand(1, 3, H, W)
    lams = torch.tensor([1e-3, 4e-3, 2e-2])
    b = PerImageBatch(H, W, K, arch, seeds=[0, 1, 2])
    with torch.no_grad():  # non-trivial state: latents, taps away from bicubic
        for p in b.latents:
            p.copy_(torch.randn_like(p) * 3)
        b.taps.add_(torch.randn_like(b.taps) * 0.05)
        for w in b.syn_w:
            w.add_(torch.randn_like(w) * 0.1)
        for w in b.arm_w:
            w.add_(torch.randn_like(w) * 0.3)
    ms = [b.member(k) for k in range(K)]
    for mode in ('ste', 'round'):
        xh, bits = b(mode)
        loss = (((xh - x) ** 2).mean(dim=(1, 2, 3)) + lams * bits / (H * W)).sum()
        b.zero_grad()
        loss.backward()
        for k, m in enumerate(ms):
            xk, bk = m(mode)
            assert torch.allclose(xk[0], xh[k], atol=1e-5), (mode, k, (xk[0] - xh[k]).abs().max())
            assert torch.allclose(bk, bits[k], rtol=1e-5), (mode, k, bk, bits[k])
            if mode != 'ste':
                continue
            lk = ((xk - x) ** 2).mean() + lams[k] * bk / (H * W)
            m.zero_grad()
            lk.backward()
            pairs = [(m.taps.grad, b.taps.grad[k])]
            pairs += [(m.latents[l].grad[0, 0], b.latents[l].grad[0, k]) for l in range(len(m.latents))]
            pairs += [(m.arm[i].weight.grad, b.arm_w[i].grad[k]) for i in range(len(m.arm))]
            pairs += [(m.arm[i].bias.grad, b.arm_b[i].grad[k]) for i in range(len(m.arm))]
            for i, conv in enumerate(m.syn):
                n = conv.weight.shape[0]
                pairs += [(conv.weight.grad, b.syn_w[i].grad[k * n:(k + 1) * n]), (conv.bias.grad, b.syn_b[i].grad[k * n:(k + 1) * n])]
            for j, (g1, g2) in enumerate(pairs):
                assert torch.allclose(g1, g2, rtol=1e-4, atol=1e-7), (k, j, (g1 - g2).abs().max(), g1.abs().max())
    print('test_batch: outputs, bits and gradients of', K, 'members match PerImage')


if __name__ == '__main__':
    main()
