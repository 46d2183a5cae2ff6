#!/usr/bin/env python3
"""The PyTorch-eager peer of hypernoise's CUDA backend, on the GPU, at the shapes of native/tests/cuda_parity.cc
(D = 16384, r = 128, n = 64 and 32, depth 1, silu): the hypernetwork forward (with the per-sample l2 / chi
statistics hypernoise's forward also returns), forward + backward with the l2 KL, and a full training step with
the 16384 -> 256 -> 256 MLP generator stand-in, a brightness reward and Adam. Also the projection GEMMs through
torch.matmul (cuBLAS, TF32 off) as ceilings. Timed with torch.cuda.Event after warm-up, median of repetitions.
Prints JSON on stdout: {"torch", "device", "results": [{"name", "n", "median_us", "min_us"}]}.

Usage: python3 bench/peers/torch_cuda.py [--quick]"""
import json
import statistics
import sys

import torch
import torch.nn.functional as F

D, R = 16384, 128
QUICK = "--quick" in sys.argv
WARM, REPS = (3, 15) if QUICK else (10, 100)


def timed_us(fn, warm=WARM, reps=REPS):
    for _ in range(warm):
        fn()
    torch.cuda.synchronize()
    start = torch.cuda.Event(enable_timing=True)
    stop = torch.cuda.Event(enable_timing=True)
    samples = []
    for _ in range(reps):
        start.record()
        fn()
        stop.record()
        stop.synchronize()
        samples.append(start.elapsed_time(stop) * 1000.0)
    return statistics.median(samples), min(samples)


def hypernet_params(dev, requires_grad):
    g = torch.Generator(device="cpu").manual_seed(0)

    def t(*shape, scale):
        return (torch.randn(*shape, generator=g) * scale).to(dev).requires_grad_(requires_grad)

    return {"A": t(R, D, scale=D ** -0.5), "b1": t(R, scale=0.3), "B": t(D, R, scale=0.3 / R ** 0.5),
            "bo": t(D, scale=0.1)}


def forward(p, eps, s=1.0):
    h = F.silu(eps @ p["A"].T + p["b1"])
    f = s * (h @ p["B"].T + p["bo"])
    eps_hat = eps + f
    l2 = 0.5 * f.pow(2).sum(1)
    sq = eps_hat.pow(2).sum(1)
    chi = 0.5 * sq - 0.5 * (eps.shape[1] - 1) * torch.log(sq)
    return eps_hat, f, l2, chi


def main():
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    dev = torch.device("cuda")
    results = []

    def add(name, n, fn, reps=REPS):
        med, lo = timed_us(fn, reps=reps)
        results.append({"name": name, "n": n, "median_us": med, "min_us": lo})
        print(f"  {name:<44} n={n:<3} {med:9.1f} us (min {lo:.1f})", file=sys.stderr)

    for n in (64, 32):
        eps = torch.randn(n, D, device=dev)
        d_eps_hat = torch.randn(n, D, device=dev) * 0.01

        p = hypernet_params(dev, False)
        with torch.no_grad():
            add("hypernet forward (inference)", n, lambda: forward(p, eps))

        pg = hypernet_params(dev, True)

        def fwd_bwd():
            for t in pg.values():
                t.grad = None
            eps_hat, f, l2, _ = forward(pg, eps)
            loss = 0.01 * l2.sum() + (d_eps_hat * eps_hat).sum()
            loss.backward()

        add("hypernet fwd+bwd, kl=l2", n, fwd_bwd)

        # Training step: fresh noise, hypernetwork, frozen generator 16384 -> 256 -> silu -> 256, brightness
        # reward (mean output), loss = lambda mean l2 - mean reward, Adam.
        gen = torch.nn.Sequential(torch.nn.Linear(D, 256), torch.nn.SiLU(), torch.nn.Linear(256, 256)).to(dev)
        for t in gen.parameters():
            t.requires_grad_(False)
        opt = torch.optim.Adam(list(pg.values()), lr=1e-3)

        def train_step():
            e = torch.randn(n, D, device=dev)
            opt.zero_grad(set_to_none=True)
            eps_hat, f, l2, _ = forward(pg, e)
            x = gen(eps_hat)
            reward = x.mean(1)
            loss = l2.mean() - reward.mean()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(list(pg.values()), 1.0)
            opt.step()

        add("train step (gen 16384-256-256, Adam, clip)", n, train_step, reps=max(10, REPS // 2))

        # cuBLAS ceilings of the projection shapes (fp32, TF32 off).
        A, B = p["A"], p["B"]
        h = torch.randn(n, R, device=dev)
        add("matmul eps A^T (n x D x r)", n, lambda: eps @ A.T)
        add("matmul h B^T (n x r x D)", n, lambda: h @ B.T)
        add("matmul df^T h (D x n x r)", n, lambda: d_eps_hat.T @ h)

    print(json.dumps({"torch": torch.__version__, "device": torch.cuda.get_device_name(0), "results": results}))


if __name__ == "__main__":
    main()
