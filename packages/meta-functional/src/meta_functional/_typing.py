"""Type aliases shared by the functional core."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from torch import Tensor

#: A parameter (or buffer) mapping: name -> tensor, as returned by :func:`named_params`.
Params = Mapping[str, Tensor]

#: An inner-loop step size: one float, one scalar tensor, or one tensor per parameter name.
LearningRate = float | Tensor | Mapping[str, Tensor]

#: A closure from a parameter mapping to a scalar loss.
BuildLoss = Callable[[dict[str, Tensor]], Tensor]
