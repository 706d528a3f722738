"""Type aliases and the gradient-transformation protocol shared by meta-optim."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

from torch import Tensor, nn

#: A parameter, gradient or update mapping: name -> tensor.
TensorMap = Mapping[str, Tensor]

#: A step size: a Python float or a scalar tensor (which may require grad).
ScalarLike = float | Tensor

#: A factory that builds the transform module for one parameter (see ``ModuleTransform``).
TransformFactory = Callable[[Tensor], nn.Module]

StateT = TypeVar("StateT")
StateT_co = TypeVar("StateT_co", covariant=True)


class InitFn(Protocol[StateT_co]):
    """Signature of ``GradientTransformation.init``."""

    def __call__(self, params: TensorMap, /) -> StateT_co:
        """Build the initial optimizer state for ``params``."""
        ...


class UpdateFn(Protocol[StateT]):
    """Signature of ``GradientTransformation.update``."""

    def __call__(
        self, grads: TensorMap, state: StateT, params: TensorMap | None = None, /
    ) -> tuple[dict[str, Tensor], StateT]:
        """Turn ``grads`` into updates (to be added to the parameters) and a new state."""
        ...


@dataclass(frozen=True)
class GradientTransformation(Generic[StateT]):
    """A pure optimizer: an ``(init, update)`` pair of functions over name -> tensor mappings.

    ``init(params)`` returns the initial state; ``update(grads, state, params)`` returns
    ``(updates, new_state)`` where ``updates`` are meant to be *added* to the parameters (see
    [`apply_updates`][meta_optim.apply_updates]). Neither function mutates its inputs, so the whole
    inner loop is differentiable and can run under ``torch.func.vmap`` and ``torch.func.grad``.

    Attributes:
        init: Builds the state from a parameter mapping.
        update: Maps gradients (and the state and, where needed, the parameters) to updates
            and a new state.

    Examples:
        >>> import torch
        >>> from meta_optim import apply_updates, sgd
        >>> optimizer = sgd(lr=0.5)
        >>> params = {"w": torch.tensor([1.0, 2.0])}
        >>> state = optimizer.init(params)
        >>> updates, state = optimizer.update({"w": torch.tensor([1.0, 1.0])}, state, params)
        >>> apply_updates(params, updates)
        {'w': tensor([0.5000, 1.5000])}
    """

    init: InitFn[StateT]
    update: UpdateFn[StateT]
