"""A torch ``nn.Module`` as an audit target."""

import hashlib

import numpy as np
import torch
from torch import nn


class TorchTarget:
    """Wraps a torch classifier; queries it in eval mode, in batches, without gradients."""

    def __init__(self, module: nn.Module, *, batch_size: int = 1024) -> None:
        self.module = module
        self.batch_size = batch_size

    def logits(self, features: np.ndarray) -> np.ndarray:
        self.module.eval()
        x = torch.as_tensor(features, dtype=torch.float32)
        with torch.no_grad():
            chunks = [self.module(x[i : i + self.batch_size]) for i in range(0, len(x), self.batch_size)]
        return torch.cat(chunks).double().numpy()

    def fingerprint(self) -> str:
        digest = hashlib.sha256()
        for name, tensor in self.module.state_dict().items():
            digest.update(name.encode())
            digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
        return digest.hexdigest()
