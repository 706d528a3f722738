"""Type aliases shared by the functional core."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Literal

from torch import Tensor

#: A parameter (or buffer) mapping: name -> tensor, as returned by ``named_params``.
Params = Mapping[str, Tensor]
#: An inner-loop step size: one float, one scalar tensor, or one tensor per parameter name.
LearningRate = float | Tensor | Mapping[str, Tensor]
#: A closure from a parameter mapping to a scalar loss.
BuildLoss = Callable[[dict[str, Tensor]], Tensor]
#: ``update(params, grads, step) -> new params``: an inner-loop step other than plain SGD.
UpdateRule = Callable[[dict[str, Tensor], dict[str, Tensor], int], dict[str, Tensor]]
#: How inner gradients are computed: ``torch.autograd`` (eager) or ``torch.func`` (vmap-able).
GradMode = Literal["autograd", "func"]
