#!/usr/bin/env python3
"""The PyTorch peer for bench/: the same math as hypernoise's native ops, same shapes and thread count,
timed the same way (warm-up, then the median of repeated runs). Reads {threads, cases} as JSON on stdin,
writes {version, results} as JSON on stdout. Models are read from hypernoise's .safetensors files."""
import json
import math
import statistics
import struct
import sys
import time

import torch
import torch.nn.functional as F

ACT = {"silu": F.silu, "gelu": F.gelu, "tanh": torch.tanh, "relu": torch.relu, "identity": lambda z: z,
       "sigmoid": torch.sigmoid, "softplus": F.softplus}


def act_d1(name, z):
    """act'(z) as a differentiable expression (the exact KL differentiates it)."""
    if name == "silu":
        s = torch.sigmoid(z)
        return s * (1 + z * (1 - s))
    if name == "tanh":
        return 1 - torch.tanh(z) ** 2
    if name == "identity":
        return torch.ones_like(z)
    if name == "gelu":
        return 0.5 * (1 + torch.erf(z / math.sqrt(2))) + z * torch.exp(-0.5 * z * z) / math.sqrt(2 * math.pi)
    raise ValueError(name)


BUDGET = 2.0  # seconds per case, set from the request


def timed(fn, warmup=3, reps=50, budget=None):
    budget = BUDGET if budget is None else budget
    for _ in range(warmup):
        fn()
    samples = []
    t0 = time.perf_counter()
    while len(samples) < reps and (len(samples) < 5 or time.perf_counter() - t0 < budget):
        s = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - s) * 1000)
    return statistics.median(samples), min(samples), max(samples)


def load_sequential(path):
    """A hypernoise SequentialModel file as an nn.Sequential (safetensors read by hand: no extra package)."""
    with open(path, "rb") as f:
        raw = f.read()
    (hlen,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + hlen])
    meta = json.loads(header["__metadata__"]["hypernoise"])
    data = raw[8 + hlen:]
    mods = []
    for i, layer in enumerate(meta["layers"]):
        t = layer["type"]
        if t == "linear":
            lin = torch.nn.Linear(layer["in"], layer["out"])
            for name in ("weight", "bias"):
                e = header[f"{i}.{name}"]
                b, end = e["data_offsets"]
                tensor = torch.frombuffer(bytearray(data[b:end]), dtype=torch.float32).reshape(e["shape"])
                getattr(lin, name).data.copy_(tensor)
            mods.append(lin)
        else:
            mods.append({"relu": torch.nn.ReLU(), "silu": torch.nn.SiLU(), "gelu": torch.nn.GELU(),
                         "tanh": torch.nn.Tanh(), "sigmoid": torch.nn.Sigmoid(), "softplus": torch.nn.Softplus(),
                         "identity": torch.nn.Identity()}[t])
    model = torch.nn.Sequential(*mods)
    for p in model.parameters():
        p.requires_grad_(False)
    return model


def mlp(widths, act="silu", out_act=None, seed=0):
    torch.manual_seed(seed)
    mods = []
    for i in range(len(widths) - 1):
        mods.append(torch.nn.Linear(widths[i], widths[i + 1]))
        if i < len(widths) - 2:
            mods.append({"silu": torch.nn.SiLU(), "gelu": torch.nn.GELU(), "relu": torch.nn.ReLU()}[act])
    if out_act == "sigmoid":
        mods.append(torch.nn.Sigmoid())
    m = torch.nn.Sequential(*mods)
    for p in m.parameters():
        p.requires_grad_(False)
    return m


def generator(p):
    if p.get("generator"):
        return load_sequential(p["generator"])
    D, H = p["D"], p.get("hidden", 256)
    return mlp([D, H, p.get("P", 256)], act="silu")


class Hypernet:
    def __init__(self, p, requires_grad=False):
        g = torch.Generator().manual_seed(0)
        D, r, L = p["D"], p["r"], p.get("L", 1)
        self.C = p.get("C", 0)
        self.act = p.get("act", "silu")
        self.s = float(p.get("s", 1.0))
        self.L = L

        def t(*shape, scale=1.0):
            return (torch.randn(*shape, generator=g) * scale).requires_grad_(requires_grad)
        self.params = {"A": t(r, D, scale=D ** -0.5), "b1": t(r, scale=0.0), "B": t(D, r, scale=0.01),
                       "bo": t(D, scale=0.0)}
        if self.C:
            self.params["U"] = t(r, self.C, scale=self.C ** -0.5)
        for k in range(2, L + 1):
            self.params[f"W{k}"] = t(r, r, scale=r ** -0.5)
            self.params[f"b{k}"] = t(r, scale=0.0)

    def forward(self, eps, cond=None):
        P = self.params
        a = ACT[self.act]
        z = eps @ P["A"].T + P["b1"]
        if self.C:
            z = z + cond @ P["U"].T
        zs = [z]
        h = a(z)
        for k in range(2, self.L + 1):
            z = h @ P[f"W{k}"].T + P[f"b{k}"]
            zs.append(z)
            h = a(z)
        f = self.s * (h @ P["B"].T + P["bo"])
        eps_hat = eps + f
        return eps_hat, f, zs

    def kl(self, kind, eps_hat, f, zs):
        l2 = 0.5 * f.pow(2).sum(1)
        if kind == "l2":
            return l2
        if kind == "chi":
            sq = eps_hat.pow(2).sum(1)
            return 0.5 * sq - 0.5 * (eps_hat.shape[1] - 1) * torch.log(sq)
        # exact, depth 1: Tr(MK) - log det(I + MK), M = diag(act'(z1)), K = s A B (batched r x r slogdet)
        P = self.params
        K = self.s * P["A"] @ P["B"]
        m = act_d1(self.act, zs[0])
        G = torch.eye(K.shape[0]) + m.unsqueeze(2) * K.unsqueeze(0)
        trace = (m * torch.diagonal(K)).sum(1)
        return l2 + trace - torch.linalg.slogdet(G)[1]


def stats(eps_hat, f):
    """The per-sample statistics hypernoise's forward also returns: 0.5||f||^2 and the chi term."""
    sq = eps_hat.pow(2).sum(1)
    return 0.5 * f.pow(2).sum(1), 0.5 * sq - 0.5 * (eps_hat.shape[1] - 1) * torch.log(sq)


def conditions(p):
    n, C = p["n"], p.get("C", 0)
    return F.one_hot(torch.randint(0, C, (n,)), C).float() if C else None


def case_hypernet_forward(p):
    hn = Hypernet(p)
    eps = torch.randn(p["n"], p["D"])
    cond = conditions(p)
    with torch.no_grad():
        def run():
            eps_hat, f, _ = hn.forward(eps, cond)
            stats(eps_hat, f)
        return timed(run)


def case_hypernet_fwd_bwd(p):
    hn = Hypernet(p, requires_grad=True)
    eps = torch.randn(p["n"], p["D"])
    g = torch.randn(p["n"], p["D"])
    kind = p.get("kl", "l2")
    cond = conditions(p)

    def run():
        for t in hn.params.values():
            t.grad = None
        eps_hat, f, zs = hn.forward(eps, cond)
        loss = hn.kl(kind, eps_hat, f, zs).mean() + (eps_hat * g).sum()
        loss.backward()
    return timed(run)


def case_seq_forward(p):
    gen = generator(p)
    x = torch.randn(p["n"], p["D"])
    with torch.no_grad():
        return timed(lambda: gen(x))


def case_seq_vjp(p):
    gen = generator(p)
    x = torch.randn(p["n"], p["D"])
    dy = torch.randn(p["n"], p.get("P", 784))

    def run():
        xx = x.clone().requires_grad_(True)
        y = gen(xx)
        (g,) = torch.autograd.grad(y, xx, dy[:, :y.shape[1]])
        return g
    return timed(run)


def case_adam_step(p):
    w = torch.zeros(p["count"], requires_grad=True)
    w.grad = torch.randn(p["count"])
    opt = torch.optim.Adam([w], lr=1e-3)

    def run():
        torch.nn.utils.clip_grad_norm_([w], 1.0)
        opt.step()
    return timed(run)


def reward_fn(p):
    kind = p.get("reward", "brightness")
    if kind == "brightness":
        return lambda x, c: x.mean(1)
    clf = load_sequential(p["classifier"])
    return lambda x, c: torch.log_softmax(clf(x), 1).gather(1, c.argmax(1, keepdim=True)).squeeze(1)


def case_train_step(p):
    hn = Hypernet(p, requires_grad=True)
    gen = generator(p)
    r = reward_fn(p)
    opt = torch.optim.Adam(list(hn.params.values()), lr=1e-3)
    n, D, C = p["n"], p["D"], p.get("C", 0)
    kind = p.get("kl", "exact")
    lam, alpha = 1.0, 1.0

    def run():
        eps = torch.randn(n, D)
        cond = conditions(p)
        opt.zero_grad(set_to_none=True)
        eps_hat, f, zs = hn.forward(eps, cond)
        x = gen(eps_hat)
        loss = (lam * hn.kl(kind, eps_hat, f, zs) - r(x, cond) / alpha).mean()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(list(hn.params.values()), 1.0)
        opt.step()
    return timed(run, reps=p.get("reps", 30))


def case_sample(p):
    hn = Hypernet(p)
    gen = generator(p)
    n, D, C = p["n"], p["D"], p.get("C", 0)
    use_hn = p.get("hypernet", 1)
    with torch.no_grad():
        def run():
            eps = torch.randn(n, D)
            if use_hn:
                cond = conditions(p)
                eps = hn.forward(eps, cond)[0]
            return gen(eps)
        return timed(run)


def case_reno(p):
    """ReNO on a batch, per-sample clipping, 50 passes (49 updates), chi prior, best iterate."""
    gen = generator(p)
    r = reward_fn(p)
    n, D, C = p["n"], p["D"], p.get("C", 0)
    iters, lr, clip, lam = p.get("iterations", 50), 5.0, 0.1, 0.01

    def run():
        eps = torch.randn(n, D).requires_grad_(True)
        cond = conditions(p)
        opt = torch.optim.SGD([eps], lr=lr, momentum=0.9, nesterov=True)
        best = torch.full((n,), -float("inf"))
        best_eps = eps.detach().clone()
        for it in range(iters):
            opt.zero_grad()
            x = gen(eps)
            rew = r(x, cond)
            with torch.no_grad():
                better = rew > best
                best = torch.where(better, rew, best)
                best_eps[better] = eps[better]
            if it == iters - 1:
                break
            sq = eps.pow(2).sum(1)
            reg = 0.5 * sq - 0.5 * (D - 1) * torch.log(sq)
            (-rew + lam * reg).sum().backward()
            with torch.no_grad():
                norm = eps.grad.norm(dim=1, keepdim=True)
                eps.grad.mul_(torch.clamp(clip / (norm + 1e-6), max=1.0))
            opt.step()
        return best_eps
    return timed(run, warmup=1, reps=p.get("reps", 5), budget=max(BUDGET, 1.0))


def case_gemm(p):
    a = torch.randn(p["m"], p["k"])
    b = torch.randn(p["k"], p["n"])
    return timed(lambda: a @ b)


CASES = {
    "hypernet_forward": case_hypernet_forward,
    "hypernet_fwd_bwd": case_hypernet_fwd_bwd,
    "seq_forward": case_seq_forward,
    "seq_vjp": case_seq_vjp,
    "adam_step": case_adam_step,
    "train_step": case_train_step,
    "sample": case_sample,
    "reno": case_reno,
    "gemm": case_gemm,
}


def main():
    req = json.load(sys.stdin)
    global BUDGET
    BUDGET = float(req.get("budgetMs", 2000)) / 1000
    torch.set_num_threads(int(req["threads"]))
    torch.manual_seed(0)
    results = []
    for c in req["cases"]:
        fn = CASES.get(c["op"])
        if fn is None:
            print(f"unknown op {c['op']}", file=sys.stderr)
            continue
        med, lo, hi = fn(dict(c["params"]))
        results.append({"name": c["name"], "medianMs": med, "minMs": lo, "maxMs": hi})
    json.dump({"version": torch.__version__, "results": results}, sys.stdout)


if __name__ == "__main__":
    main()
