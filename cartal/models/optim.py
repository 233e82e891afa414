"""AdamW through torch's fused CPU/GPU kernel, without torch.optim's Optimizer machinery.

Why not ``torch.optim.AdamW``: constructing any torch.optim optimiser imports
torch._dynamo (2.6 s on a 2-core machine, measured in bench/results.md), a
cost paid by every train-seed and select process of every round. The update
itself is the one ``torch.optim.AdamW(fused=True)`` applies, bit for bit
(tests/test_models.py checks it), and the fused kernel is also faster than
the default per-parameter loop for this small MLP. The op is private and has
a CPU kernel from torch 2.4 on: pyproject.toml's floor.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch


class AdamW:
    """Decoupled weight decay Adam (Loshchilov and Hutter, 2019); ``zero_grad`` and ``step`` as torch.optim."""

    def __init__(self, params: Iterable[torch.nn.Parameter], lr: float, weight_decay: float = 0.01,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8):
        self.params = [p for p in params if p.requires_grad]
        if not self.params:
            raise ValueError("AdamW got no trainable parameters")
        self.lr, self.weight_decay, self.betas, self.eps = lr, weight_decay, betas, eps
        self.exp_avgs = [torch.zeros_like(p, memory_format=torch.preserve_format) for p in self.params]
        self.exp_avg_sqs = [torch.zeros_like(p, memory_format=torch.preserve_format) for p in self.params]
        self.steps = [torch.zeros((), dtype=torch.float32, device=p.device) for p in self.params]

    def state_tensors(self) -> dict[str, torch.Tensor]:
        """The moments and step counts by parameter position, for a warm start in a later process."""
        state = {}
        for i, (avg, sq, step) in enumerate(zip(self.exp_avgs, self.exp_avg_sqs, self.steps)):
            state.update({f"{i}.exp_avg": avg, f"{i}.exp_avg_sq": sq, f"{i}.step": step})
        return state

    def load_state_tensors(self, state: dict[str, torch.Tensor]) -> None:
        """Continue from what ``state_tensors`` returned for an optimiser over parameters of the same shapes."""
        for i, p in enumerate(self.params):
            for name, slots in (("exp_avg", self.exp_avgs), ("exp_avg_sq", self.exp_avg_sqs), ("step", self.steps)):
                value = state.get(f"{i}.{name}")
                expected = p.shape if name != "step" else torch.Size([])
                if value is None or value.shape != expected:
                    raise ValueError(f"optimiser state for parameter {i} ({name}) is missing or shaped "
                                     f"{None if value is None else tuple(value.shape)}, expected {tuple(expected)}")
                slots[i] = value.to(dtype=slots[i].dtype, device=p.device).clone()

    def zero_grad(self, set_to_none: bool = True) -> None:
        for p in self.params:
            if set_to_none:
                p.grad = None
            elif p.grad is not None:
                p.grad.zero_()

    @torch.no_grad()
    def step(self) -> None:
        live = [i for i, p in enumerate(self.params) if p.grad is not None]
        if not live:
            return
        steps = [self.steps[i] for i in live]
        torch._foreach_add_(steps, 1)
        torch._fused_adamw_(
            [self.params[i] for i in live], [self.params[i].grad for i in live],
            [self.exp_avgs[i] for i in live], [self.exp_avg_sqs[i] for i in live], [], steps,
            amsgrad=False, lr=self.lr, beta1=self.betas[0], beta2=self.betas[1],
            weight_decay=self.weight_decay, eps=self.eps, maximize=False, grad_scale=None, found_inf=None,
        )
