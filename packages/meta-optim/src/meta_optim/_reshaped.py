"""Apply a module to a gradient seen in another shape: ``ReshapedTransform``."""

from __future__ import annotations

from collections.abc import Sequence

from torch import Tensor, nn


class ReshapedTransform(nn.Module):
    """View the gradient as ``shape``, apply ``transform``, view the result as the gradient.

    learn2learn's ``optim.transforms.ReshapedTransform``, for transforms whose module works on
    another layout than the parameter's (a flat row, a Kronecker factorisation).

    Args:
        transform: The module applied to the reshaped gradient.
        shape: The shape the gradient is viewed as (same number of elements).

    Attributes:
        transform: The module, as given.
        in_shape: ``shape``, as given.

    Examples:
        >>> import torch
        >>> flat = ReshapedTransform(torch.nn.Flatten(0), (1, 4))
        >>> flat(torch.ones(2, 2)).shape
        torch.Size([2, 2])
    """

    def __init__(self, transform: nn.Module, shape: Sequence[int]) -> None:
        super().__init__()
        self.transform = transform
        self.in_shape = tuple(shape)

    def forward(self, grad: Tensor) -> Tensor:
        """Map ``grad`` to an update of ``grad``'s shape.

        Args:
            grad: The gradient; it must have as many elements as ``shape``.

        Returns:
            ``transform(grad.view(shape))`` viewed in ``grad``'s shape.

        Raises:
            ValueError: If ``grad`` or the transform's output has another number of elements
                than ``shape``.
        """
        out_shape = grad.shape
        update = self.transform(grad.reshape(self.in_shape))
        if not isinstance(update, Tensor) or update.numel() != grad.numel():
            got = tuple(update.shape) if isinstance(update, Tensor) else type(update).__name__
            raise ValueError(
                f"ReshapedTransform: {type(self.transform).__name__} mapped a gradient viewed "
                f"as {self.in_shape} to {got}; expected {grad.numel()} elements to view as "
                f"{tuple(out_shape)}"
            )
        return update.reshape(out_shape)
