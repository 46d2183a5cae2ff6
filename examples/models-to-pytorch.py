# A hypernoise model file as a torch.nn.Sequential: python3 examples/models-to-pytorch.py in the package's root.
import json, torch, torch.nn as nn
from hn_safetensors import read_safetensors

def load_sequential(path):
    tensors, metadata = read_safetensors(path)
    layers = json.loads(metadata["hypernoise"])["layers"]
    make = {"linear": lambda l: nn.Linear(l["in"], l["out"]), "relu": lambda l: nn.ReLU(),
            "silu": lambda l: nn.SiLU(), "gelu": lambda l: nn.GELU(), "tanh": lambda l: nn.Tanh(),
            "sigmoid": lambda l: nn.Sigmoid(), "softplus": lambda l: nn.Softplus(), "identity": lambda l: nn.Identity()}
    model = nn.Sequential(*[make[l["type"]](l) for l in layers])
    model.load_state_dict(tensors)
    return model

gen = load_sequential("models/mnist-vae-decoder.safetensors")
clf = load_sequential("models/mnist-eval-classifier.safetensors")
with torch.no_grad():
    x = gen(torch.randn(16, 32))                      # 16 images, 784 pixels in [0, 1]
    digits = clf(x).argmax(dim=1)
print(x.view(16, 1, 28, 28).shape, digits.tolist())
