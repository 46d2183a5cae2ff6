# A torch.nn.Sequential of Linear layers and activations saved as a hypernoise SequentialModel file.
import json, torch, torch.nn as nn
from hn_safetensors import write_safetensors

ACTIVATIONS = {nn.ReLU: "relu", nn.SiLU: "silu", nn.GELU: "gelu", nn.Tanh: "tanh", nn.Sigmoid: "sigmoid",
               nn.Softplus: "softplus", nn.Identity: "identity"}   # GELU: the exact (erf) form; Softplus: beta 1

def save_sequential(model, path):
    layers = [{"type": "linear", "in": m.in_features, "out": m.out_features} if isinstance(m, nn.Linear)
              else {"type": ACTIVATIONS[type(m)]} for m in model]
    # "format" is required: it says what the file is ("sequential", "hypernetwork" or "checkpoint")
    meta = {"hypernoise": json.dumps({"format": "sequential", "layers": layers})}
    write_safetensors(path, {k: v.float() for k, v in model.state_dict().items()}, meta)

torch.manual_seed(0)
gen = nn.Sequential(nn.Linear(16, 128), nn.SiLU(), nn.Linear(128, 784), nn.Sigmoid())   # your generator
save_sequential(gen, "my-generator.safetensors")   # then: await SequentialModel.load('my-generator.safetensors')
