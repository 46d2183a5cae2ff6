# A hypernetwork file (Hypernetwork.save, `hypernoise train --out`) as PyTorch code: T(eps, c) = eps + f(eps, c).
import json, torch, torch.nn.functional as F
from hn_safetensors import read_safetensors

ACT = {"identity": lambda z: z, "relu": F.relu, "silu": F.silu, "gelu": F.gelu, "tanh": torch.tanh,
       "sigmoid": torch.sigmoid, "softplus": F.softplus}

def load_hypernetwork(path):
    p, metadata = read_safetensors(path)
    cfg = json.loads(metadata["hypernoise"])   # noiseDim, condDim, rank, depth, activation, scale
    assert cfg["format"] == "hypernetwork", f"{path} is a {cfg['format']} file"
    act = ACT[cfg["activation"]]
    def T(eps, cond=None):                     # eps [n, D], cond [n, C] (None when condDim is 0)
        z = eps @ p["A"].T + p["b1"]
        if cfg["condDim"] > 0:
            z = z + cond @ p["U"].T
        h = act(z)
        for k in range(2, cfg["depth"] + 1):
            h = act(h @ p[f"W{k}"].T + p[f"b{k}"])
        return eps + cfg["scale"] * (h @ p["B"].T + p["bo"])
    return T, cfg

T, cfg = load_hypernetwork("hn.safetensors")
eps = torch.randn(8, cfg["noiseDim"])
cond = F.one_hot(torch.full((8,), 3), cfg["condDim"]).float() if cfg["condDim"] else None
print(f"mean shift of the noise: {(T(eps, cond) - eps).norm(dim=1).mean():.3f}")
