"""Apply a module to a gradient seen in another shape: ``ReshapedTransform``."""

from __future__ import annotations

from collections.abc import Sequence

from torch import Tensor, nn


def reshaped_call(
    module: nn.Module,
    grad: Tensor,
    in_shape: tuple[int, ...],
    out_shape: Sequence[int],
    *,
    owner: str,
    target: str,
) -> Tensor:
    """``module(grad.reshape(in_shape)).reshape(out_shape)``, checking the output's size.

    The one reshape-apply-reshape step of the reshaping transforms (this module's and those
    that [`ModuleTransform`][meta_optim.ModuleTransform] builds).

    Args:
        module: The module applied to the reshaped gradient.
        grad: The gradient.
        in_shape: The shape ``module`` sees.
        out_shape: The shape of the returned update.
        owner: Who applies the module, for the error message.
        target: Whose shape ``out_shape`` is, for the error message.

    Returns:
        The update, of shape ``out_shape``.

    Raises:
        ValueError: If the module's output is not a tensor of ``grad``'s number of elements
            (the message names ``owner`` and ``target``, whose shape ``out_shape`` is).
    """
    out = module(grad.reshape(in_shape))
    if not isinstance(out, Tensor) or out.numel() != grad.numel():
        got = tuple(out.shape) if isinstance(out, Tensor) else type(out).__name__
        raise ValueError(
            f"{owner} maps gradients of shape {in_shape} to {got}; expected "
            f"{grad.numel()} elements to reshape to {target} shape {tuple(out_shape)}"
        )
    return out.reshape(out_shape)


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
            ValueError: If the transform's output has another number of elements than
                ``grad``.
        """
        owner = f"ReshapedTransform({type(self.transform).__name__})"
        return reshaped_call(
            self.transform, grad, self.in_shape, grad.shape, owner=owner, target="the gradient's"
        )
