#!/usr/bin/env python3
"""The PyTorch peer for bench/: the same math as hypernoise's native ops, same shapes and thread count,
timed the same way (warm-up, then the median of repeated runs). Reads {threads, cases} as JSON on stdin,
writes {version, results} as JSON on stdout."""
import json
import statistics
import sys
import time

import torch
import torch.nn.functional as F

ACT = {"silu": F.silu, "gelu": F.gelu, "tanh": torch.tanh, "relu": torch.relu, "identity": lambda z: z}


def timed(fn, warmup=3, reps=50, budget=2.0):
    for _ in range(warmup):
        fn()
    samples = []
    t0 = time.perf_counter()
    while len(samples) < reps and (len(samples) < 5 or time.perf_counter() - t0 < budget):
        s = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - s) * 1000)
    return statistics.median(samples), min(samples), max(samples)


def hypernet_params(p, requires_grad=False):
    g = torch.Generator().manual_seed(0)
    D, r, C, L = p["D"], p["r"], p.get("C", 0), p.get("L", 1)
    t = lambda *shape, scale=1.0: (torch.randn(*shape, generator=g) * scale).requires_grad_(requires_grad)
    params = {"A": t(r, D, scale=D ** -0.5), "b1": t(r, scale=0.0), "B": t(D, r, scale=0.01), "bo": t(D, scale=0.0)}
    for k in range(2, L + 1):
        params[f"W{k}"] = t(r, r, scale=r ** -0.5)
        params[f"b{k}"] = t(r, scale=0.0)
    return params


def hypernet_forward(params, eps, act, s, L):
    h = act(eps @ params["A"].T + params["b1"])
    for k in range(2, L + 1):
        h = act(h @ params[f"W{k}"].T + params[f"b{k}"])
    f = s * (h @ params["B"].T + params["bo"])
    eps_hat = eps + f
    # the per-sample statistics hypernoise's forward also returns: 0.5||f||^2 and the chi term
    l2 = 0.5 * f.pow(2).sum(1)
    sq = eps_hat.pow(2).sum(1)
    chi = 0.5 * sq - 0.5 * (eps.shape[1] - 1) * torch.log(sq)
    return eps_hat, l2, chi


def case_hypernet_forward(p):
    params = hypernet_params(p)
    eps = torch.randn(p["n"], p["D"])
    act = ACT[p.get("act", "silu")]
    with torch.no_grad():
        return timed(lambda: hypernet_forward(params, eps, act, p.get("s", 1.0), p.get("L", 1)))


CASES = {"hypernet_forward": case_hypernet_forward}


def main():
    req = json.load(sys.stdin)
    torch.set_num_threads(int(req["threads"]))
    results = []
    for c in req["cases"]:
        fn = CASES.get(c["op"])
        if fn is None:
            continue
        med, lo, hi = fn(c["params"])
        results.append({"name": c["name"], "medianMs": med, "minMs": lo, "maxMs": hi})
    json.dump({"version": torch.__version__, "results": results}, sys.stdout)


if __name__ == "__main__":
    main()
