"""Adam run in the eigenbasis of each weight matrix's gradient statistics (the SOAP optimiser of
Vyas et al., 2024, "SOAP: Improving and Stabilizing Shampoo using Adam"), for the per-image
decoder's small matrices: a study lever for issue 16 (Cool-chic 5 trains its networks with SOAP
and reports ~10x fewer steps than Cool-chic 4.2 for the same quality).

For a matrix W (m x n) with gradient G, two running second moments L = E[G G^T] (m x m) and
R = E[G^T G] (n x n) are kept; every `every` steps their eigenvectors QL, QR are recomputed
(torch.linalg.eigh: the matrices here are at most ~50 x 50). Adam's second moment lives in the
rotated coordinates QL^T G QR, its first moment in the plain ones (rotated when used), so a
new basis needs no moment transfer; the normalised step is rotated back. A member axis B
(PerImageBatch's K lambdas) is a batch of independent matrices.
"""
import torch


class SoapMatrices:
    def __init__(self, mats, betas=(0.9, 0.999), stat_beta=0.95, eps=1e-8, every=10):
        """mats: list of (parameter, (B, m, n)): the parameter viewed as B matrices of m x n"""
        self.mats = mats
        self.b1, self.b2 = betas
        self.sb, self.eps, self.every = stat_beta, eps, every
        self.t = 0
        self.state = []
        for p, (B, m, n) in mats:
            z = dict(device=p.device, dtype=p.dtype)
            self.state.append(dict(L=torch.zeros(B, m, m, **z), R=torch.zeros(B, n, n, **z), QL=None, QR=None,
                                   m1=torch.zeros(B, m, n, **z), m2=torch.zeros(B, m, n, **z)))

    @staticmethod
    def _basis(S):
        # eigenvectors of a symmetric PSD matrix; a tiny ridge keeps eigh away from exact ties
        ridge = 1e-30 + 1e-12 * S.diagonal(dim1=-2, dim2=-1).abs().amax(-1)[..., None, None]
        return torch.linalg.eigh(S + ridge * torch.eye(S.shape[-1], device=S.device, dtype=S.dtype))[1]

    @torch.no_grad()
    def step(self, lr):
        self.t += 1
        c1 = 1 - self.b1 ** self.t
        c2 = 1 - self.b2 ** self.t
        for (p, shape), s in zip(self.mats, self.state):
            if p.grad is None:
                continue
            G = p.grad.reshape(shape)
            s['L'].mul_(self.sb).add_(G @ G.transpose(1, 2), alpha=1 - self.sb)
            s['R'].mul_(self.sb).add_(G.transpose(1, 2) @ G, alpha=1 - self.sb)
            if s['QL'] is None or (self.t - 1) % self.every == 0:
                s['QL'], s['QR'] = self._basis(s['L']), self._basis(s['R'])
            QL, QR = s['QL'], s['QR']
            Gr = QL.transpose(1, 2) @ G @ QR
            s['m1'].mul_(self.b1).add_(G, alpha=1 - self.b1)
            s['m2'].mul_(self.b2).addcmul_(Gr, Gr, value=1 - self.b2)
            Mr = QL.transpose(1, 2) @ s['m1'] @ QR / c1
            U = QL @ (Mr / ((s['m2'] / c2).sqrt() + self.eps)) @ QR.transpose(1, 2)
            p.add_(U.reshape(p.shape), alpha=-lr)

    def zero_grad(self):
        for p, _ in self.mats:
            p.grad = None
