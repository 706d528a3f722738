"""Type aliases shared by the meta-algos modules."""

from __future__ import annotations

from collections.abc import Callable

from torch import Tensor

#: A loss function ``loss_fn(prediction, target) -> scalar tensor``, e.g.
#: `torch.nn.functional.mse_loss` or `torch.nn.functional.cross_entropy`.
LossFn = Callable[[Tensor, Tensor], Tensor]
