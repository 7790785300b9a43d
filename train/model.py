"""nimg model: mean-scale hyperprior (Minnen et al. 2018, no context model) with
per-channel gain vectors for variable rate (Cui et al. 2021) and an integer h_s.

The layer names and layouts here are the contract of weights/README.md: export.py writes
them under the same names, and the TypeScript side rebuilds exactly these networks.
Runs on PyTorch >= 1.13 (local export) and 2.x (training on the GPU machine).
"""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F

# Eight named quality levels: lambda for MSE on [0,1] images scaled by 255^2, log-spaced.
# Sessions 1-2 used 0.0018..0.13 (CompressAI's mbt2018-mean range); it put q1 at 0.23 bpp on
# Kodak instead of ~0.1, so from session 3 the low end is 0.0006 (Kodak rate at q1-q2 went
# as lambda^0.6, which puts 0.0006 near 0.12 bpp); the top (q8 ~1.4 bpp) is unchanged.
LAMBDA_MIN, LAMBDA_MAX = 0.0006, 0.13
LAMBDAS = [LAMBDA_MIN * (LAMBDA_MAX / LAMBDA_MIN) ** (i / 7) for i in range(8)]
NUM_SCALES = 64
SCALE_MIN, SCALE_MAX = 0.11, 64.0
MEAN_FRAC_BITS = 4
MEAN_CLAMP = 32767
Z_CLAMP = 255


def scale_table():
    return [math.exp(math.log(SCALE_MIN) + i * (math.log(SCALE_MAX) - math.log(SCALE_MIN)) / (NUM_SCALES - 1))
            for i in range(NUM_SCALES)]


def ste_round(x):
    return x + (torch.round(x) - x).detach()


class GDN(nn.Module):
    """y_i = x_i / sqrt(beta_i + sum_j gamma_ij x_j^2) (inverse: multiply). Run in float32:
    the squared sums lose too much in bf16. beta and gamma are kept non-negative by squaring."""

    def __init__(self, c, inverse=False):
        super().__init__()
        self.inverse = inverse
        self.beta_p = nn.Parameter(torch.ones(c))
        self.gamma_p = nn.Parameter(math.sqrt(0.1) * torch.eye(c))

    def params(self):
        beta = self.beta_p * self.beta_p + 1e-6
        gamma = self.gamma_p * self.gamma_p
        return beta, gamma

    def forward(self, x):
        beta, gamma = self.params()
        with torch.autocast(device_type=x.device.type, enabled=False):
            x = x.float()
            norm = F.conv2d(x * x, gamma[:, :, None, None], beta)
            norm = torch.sqrt(norm) if self.inverse else torch.rsqrt(norm)
            return x * norm


def conv(cin, cout, k=5, stride=2):
    return nn.Conv2d(cin, cout, k, stride=stride, padding=k // 2)


class SubPixelConv(nn.Module):
    """Stride-1 conv3x3 to 4*cout channels + 2x PixelShuffle: the upsampling form the
    tfjs WASM backend runs ~5x faster than conv2dTranspose."""

    def __init__(self, cin, cout):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout * 4, 3, padding=1)

    def forward(self, x):
        return F.pixel_shuffle(self.conv(x), 2)


class QConv(nn.Module):
    """Conv with fake-quantised weights (int8, symmetric, per output channel) for the
    integer h_s. Input is a real tensor equal to int * s_in."""

    def __init__(self, cin, cout, k):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, k, padding=k // 2)

    def weight_scale(self):
        w = self.conv.weight
        return w.detach().abs().amax(dim=(1, 2, 3)).clamp(min=1e-8) / 127.0

    def forward(self, x):
        s = self.weight_scale()[:, None, None, None]
        wq = torch.clamp(ste_round(self.conv.weight / s), -127, 127) * s
        return F.conv2d(x, wq, self.conv.bias, padding=self.conv.padding)


class ActQuant(nn.Module):
    """ReLU + quantisation to u8 with a learned step (LSQ-style gradient)."""

    def __init__(self, init_step=0.05):
        super().__init__()
        self.log_step = nn.Parameter(torch.tensor(math.log(init_step)))

    def step(self):
        return torch.exp(self.log_step)

    def forward(self, x):
        s = self.step()
        v = x / s
        q = v + (torch.round(v) - v).detach()
        return torch.clamp(q, 0, 255) * s


class IntHyperSynthesis(nn.Module):
    """h_s: zhat (integers) -> (mean in 1/16 steps, scale index), trained with fake
    quantisation so that export.py can turn it into pure integer arithmetic."""

    def __init__(self, Nz, M, hidden=(96, 64)):
        super().__init__()
        h0, h1 = hidden
        self.M = M
        self.l0 = QConv(Nz, 4 * h0, 3)
        self.a0 = ActQuant()
        self.l1 = QConv(h0, 4 * h1, 3)
        self.a1 = ActQuant()
        self.l2 = QConv(h1, 2 * M, 1)
        log_smin, log_smax = math.log(SCALE_MIN), math.log(SCALE_MAX)
        self.log_smin = log_smin
        self.log_step = (log_smax - log_smin) / (NUM_SCALES - 1)
        with torch.no_grad():  # start scales in the middle of the table
            self.l2.conv.bias[M:].fill_(NUM_SCALES / 2)
            self.l2.conv.bias[:M].zero_()

    def forward(self, zhat):
        with torch.autocast(device_type=zhat.device.type, enabled=False):
            x = self.a0(F.pixel_shuffle(self.l0(zhat.float()), 2))
            x = self.a1(F.pixel_shuffle(self.l1(x), 2))
            out = self.l2(x)
            mean_raw, idx_raw = out[:, :self.M], out[:, self.M:]
            f = float(1 << MEAN_FRAC_BITS)
            mu = torch.clamp(ste_round(mean_raw * f), -MEAN_CLAMP - 1, MEAN_CLAMP) / f
            idx = torch.clamp(ste_round(idx_raw), 0, NUM_SCALES - 1)
            sigma = torch.exp(self.log_smin + idx * self.log_step)
        return mu, sigma, idx


class FactorizedPrior(nn.Module):
    """Ballé et al. 2018 univariate non-parametric density per channel (filters 3,3,3)."""

    def __init__(self, C, filters=(3, 3, 3), init_scale=10.0):
        super().__init__()
        self.C = C
        f = (1,) + tuple(filters) + (1,)
        scale = init_scale ** (1 / (len(filters) + 1))
        self.mats, self.biases, self.factors = nn.ParameterList(), nn.ParameterList(), nn.ParameterList()
        for i in range(len(filters) + 1):
            init = math.log(math.expm1(1 / scale / f[i + 1]))
            self.mats.append(nn.Parameter(torch.full((C, f[i + 1], f[i]), init)))
            self.biases.append(nn.Parameter(torch.rand(C, f[i + 1], 1) - 0.5))
            if i < len(filters):
                self.factors.append(nn.Parameter(torch.zeros(C, f[i + 1], 1)))

    def logits_cdf(self, x):
        # x: [C, 1, n]
        for i in range(len(self.mats)):
            x = torch.matmul(F.softplus(self.mats[i]), x) + self.biases[i]
            if i < len(self.factors):
                x = x + torch.tanh(self.factors[i]) * torch.tanh(x)
        return x

    def likelihood(self, z):
        # z: [B, C, H, W] (float32) -> likelihood of the unit bin around each value
        B, C, H, W = z.shape
        v = z.permute(1, 0, 2, 3).reshape(C, 1, -1)
        lower = self.logits_cdf(v - 0.5)
        upper = self.logits_cdf(v + 0.5)
        sign = -torch.sign(lower + upper).detach()
        lik = torch.abs(torch.sigmoid(sign * upper) - torch.sigmoid(sign * lower))
        return lik.reshape(C, B, H, W).permute(1, 0, 2, 3)


def gaussian_likelihood(r, sigma):
    """P(bin of width 1 around residual r) under N(0, sigma)."""
    r = torch.abs(r)
    c = -1 / math.sqrt(2)
    upper = 0.5 * torch.erfc(c * (0.5 - r) / sigma)
    lower = 0.5 * torch.erfc(c * (-0.5 - r) / sigma)
    return upper - lower


class NimgModel(nn.Module):
    def __init__(self, N=128, M=192, Nz=128, hs_hidden=(96, 64)):
        super().__init__()
        self.N, self.M, self.Nz, self.hs_hidden = N, M, Nz, tuple(hs_hidden)
        self.ga = nn.ModuleList([conv(3, N), GDN(N), conv(N, N), GDN(N), conv(N, N), GDN(N), conv(N, M)])
        self.gs = nn.ModuleList([SubPixelConv(M, N), GDN(N, True), SubPixelConv(N, N), GDN(N, True),
                                 SubPixelConv(N, N), GDN(N, True), SubPixelConv(N, 3)])
        self.ha = nn.ModuleList([conv(M, N, 3, 1), nn.ReLU(), conv(N, N), nn.ReLU(), conv(N, Nz)])
        self.hs = IntHyperSynthesis(Nz, M, hs_hidden)
        self.zprior = FactorizedPrior(Nz)
        # log gains, one vector per quality level; init ~ sqrt(lambda) (step ~ 1/sqrt(lambda))
        lg = torch.tensor([0.5 * math.log(l / LAMBDAS[5]) for l in LAMBDAS])
        self.log_gain_enc = nn.Parameter(lg[:, None].repeat(1, M).clone())
        self.log_gain_dec = nn.Parameter(-lg[:, None].repeat(1, M).clone())

    @staticmethod
    def run(layers, x):
        for l in layers:
            x = l(x)
        return x

    def gains(self, q):
        """q: [B] float quality in [1, 8] -> (gain_enc, gain_dec) [B, M, 1, 1], geometric
        interpolation between the two neighbouring levels."""
        i = torch.clamp(torch.floor(q), 1, 7).long()
        t = (q - i.float())[:, None]
        ge = self.log_gain_enc[i - 1] * (1 - t) + self.log_gain_enc[i] * t
        gd = self.log_gain_dec[i - 1] * (1 - t) + self.log_gain_dec[i] * t
        return torch.exp(ge)[:, :, None, None], torch.exp(gd)[:, :, None, None]

    @staticmethod
    def lambda_of(q):
        """log-linear interpolation of LAMBDAS at float quality q (tensor)."""
        ll = torch.log(torch.tensor(LAMBDAS, device=q.device))
        i = torch.clamp(torch.floor(q), 1, 7).long()
        t = q - i.float()
        return torch.exp(ll[i - 1] * (1 - t) + ll[i] * t)

    def forward(self, x, q):
        ge, gd = self.gains(q)
        y = self.run(self.ga, x).float()
        ys = y * ge
        z = self.run(self.ha, ys).float()
        # rate of z with additive noise, h_s on the rounded (integer) z
        z_noisy = z + torch.empty_like(z).uniform_(-0.5, 0.5)
        z_lik = self.zprior.likelihood(z_noisy)
        zhat = torch.clamp(ste_round(z), -Z_CLAMP, Z_CLAMP)
        mu, sigma, _ = self.hs(zhat)
        r = ys - mu
        r_noisy = r + torch.empty_like(r).uniform_(-0.5, 0.5)
        y_lik = gaussian_likelihood(r_noisy, sigma)
        yhat = (ste_round(r) + mu) * gd  # mixed quantisation: STE for the synthesis
        xhat = self.run(self.gs, yhat)
        return xhat.float(), y_lik, z_lik


def load_parts(spec):
    """Checkpoint file(s) 'A.pt[,B.pt]' whose 'model' dicts are parts of one state dict (fp16
    or fp32 tensors) -> (float32 state dict, {'step', 'elapsed_s'} of the last part)."""
    sd, meta = {}, {}
    for part in spec.split(','):
        c = torch.load(part, map_location='cpu')
        sd.update({k: v.float() for k, v in c['model'].items()})
        meta = {'step': c.get('step'), 'elapsed_s': c.get('elapsed_s')}
    return sd, meta


def hs_hidden_of(sd):
    """The h_s widths (H0, H1) of a state dict, read from its tensor shapes."""
    return (sd['hs.l0.conv.weight'].shape[0] // 4, sd['hs.l1.conv.weight'].shape[0] // 4)


def widen_hs(sd, hidden, seed=0):
    """Return a copy of state dict `sd` whose integer h_s has the wider hidden sizes `hidden`,
    computing exactly the same function: the old channels keep their weights, the new hidden
    channels of hs.0/hs.1 get a fresh default init, and every weight that reads a new channel
    (hs.1's and hs.2's new input columns) starts at zero, so nothing changes until training
    moves them. PixelShuffle takes conv channel c*4+k to hidden channel c, so the old hidden
    channels are a prefix of the conv outputs and new ones are appended after them.
    Used to grow a trained h_s (the sessions-1..3 model had (96, 64)) without retraining."""
    old = hs_hidden_of(sd)
    if tuple(hidden) == tuple(old):
        return dict(sd)
    if hidden[0] < old[0] or hidden[1] < old[1]:
        raise ValueError(f'h_s can only grow: {old} -> {tuple(hidden)}')
    torch.manual_seed(seed)
    M = sd['hs.l2.conv.weight'].shape[0] // 2
    Nz = sd['hs.l0.conv.weight'].shape[1]
    fresh = IntHyperSynthesis(Nz, M, hidden).state_dict()
    out = dict(sd)
    (h0o, h1o), (h0, h1) = old, hidden
    w0 = fresh['l0.conv.weight'].clone(); b0 = fresh['l0.conv.bias'].clone()
    w0[:4 * h0o] = sd['hs.l0.conv.weight']; b0[:4 * h0o] = sd['hs.l0.conv.bias']
    w1 = fresh['l1.conv.weight'].clone(); b1 = fresh['l1.conv.bias'].clone()
    w1[:, h0o:] = 0
    w1[:4 * h1o, :h0o] = sd['hs.l1.conv.weight']; b1[:4 * h1o] = sd['hs.l1.conv.bias']
    w2 = torch.zeros(2 * M, h1, 1, 1)
    w2[:, :h1o] = sd['hs.l2.conv.weight']
    out.update({'hs.l0.conv.weight': w0, 'hs.l0.conv.bias': b0, 'hs.l1.conv.weight': w1,
                'hs.l1.conv.bias': b1, 'hs.l2.conv.weight': w2, 'hs.l2.conv.bias': sd['hs.l2.conv.bias'].clone()})
    return out


def rd_loss(model, x, q):
    """Per-sample lambda * 255^2 * MSE + bpp, averaged over the batch."""
    xhat, y_lik, z_lik = model(x, q)
    B, _, H, W = x.shape
    npix = H * W
    bits_y = -torch.log2(y_lik.clamp(min=1e-9)).sum(dim=(1, 2, 3))
    bits_z = -torch.log2(z_lik.clamp(min=1e-9)).sum(dim=(1, 2, 3))
    bpp = (bits_y + bits_z) / npix
    mse = ((xhat - x) ** 2).mean(dim=(1, 2, 3))
    lam = NimgModel.lambda_of(q)
    loss = (lam * 255 ** 2 * mse + bpp).mean()
    return loss, bpp.detach(), mse.detach()
