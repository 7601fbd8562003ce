"""Adam (Kingma & Ba, 2015) with torch's default settings, for the small optimisations inside a defense.

The steps are those ``torch.optim.Adam(params, lr)`` takes on the CPU (its single-tensor update, the same
operations in the same order, so the same bits), without the optimizer machinery: the first
``torch.optim`` optimizer a process creates imports ``torch._dynamo``, about 1.5 s of start-up that an
audit with MemGuard would pay for nothing.
"""

from collections.abc import Iterable

import torch

BETAS = (0.9, 0.999)  # torch.optim.Adam's defaults
EPS = 1e-8


class Adam:
    """``zero_grad()``, then the caller's ``backward()``, then ``step()``, as with ``torch.optim.Adam``."""

    def __init__(self, params: Iterable[torch.Tensor], lr: float) -> None:
        self.params = list(params)
        self.lr = lr
        self.steps = 0
        self.first_moments = [torch.zeros_like(p) for p in self.params]
        self.second_moments = [torch.zeros_like(p) for p in self.params]

    def zero_grad(self) -> None:
        """Forget the gradients (the next ``backward()`` sets them afresh)."""
        for param in self.params:
            param.grad = None

    @torch.no_grad()
    def step(self) -> None:
        """One Adam step on every parameter from its ``.grad``."""
        self.steps += 1
        beta1, beta2 = BETAS
        bias_correction1 = 1 - beta1 ** float(self.steps)
        bias_correction2 = 1 - beta2 ** float(self.steps)
        for param, first, second in zip(self.params, self.first_moments, self.second_moments, strict=True):
            grad = param.grad
            first.lerp_(grad, 1 - beta1)
            second.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
            denominator = (second.sqrt() / bias_correction2**0.5).add_(EPS)
            param.addcdiv_(first, denominator, value=-(self.lr / bias_correction1))
