"""Small utility modules: ``Lambda``, ``Flatten`` and ``Scale``."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import Tensor, nn


def check_tensor(value: object, *, owner: str, name: str = "input") -> Tensor:
    """Raise a ``TypeError`` naming ``owner`` unless ``value`` is a tensor."""
    if not isinstance(value, Tensor):
        raise TypeError(f"{owner} expects {name} to be a torch.Tensor, got {type(value).__name__}")
    return value


def check_positive_int(value: object, *, owner: str, name: str) -> int:
    """Return ``value`` if it is a positive ``int`` (not a bool), else raise naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{owner}: {name} must be an int, got {type(value).__name__} ({value!r})")
    if value < 1:
        raise ValueError(f"{owner}: {name} must be a positive int, got {value}")
    return value


class Lambda(nn.Module):
    """Wrap a callable as a ``torch.nn.Module``.

    The callable holds no parameters of its own, so it is invisible to
    ``torch.func.functional_call`` and is transparent under ``torch.func.vmap``
    whenever the callable itself is.

    Args:
        lmb: The function to call in the forward pass; it receives the forward's positional
            and keyword arguments unchanged.

    Raises:
        TypeError: If ``lmb`` is not callable.

    Examples:
        >>> import torch
        >>> mean23 = Lambda(lambda x: x.mean(dim=[2, 3]))
        >>> mean23(torch.ones(5, 3, 4, 4)).shape
        torch.Size([5, 3])
    """

    def __init__(self, lmb: Callable[..., Tensor]) -> None:
        super().__init__()
        if not callable(lmb):
            raise TypeError(f"Lambda expects a callable lmb, got {type(lmb).__name__} ({lmb!r})")
        self.lmb = lmb

    def forward(self, *args: object, **kwargs: object) -> Tensor:
        """Call the wrapped function.

        Args:
            *args: Positional arguments forwarded to ``lmb``.
            **kwargs: Keyword arguments forwarded to ``lmb``.

        Returns:
            Whatever ``lmb`` returns.

        Examples:
            >>> import torch
            >>> Lambda(torch.relu)(torch.tensor([-1.0, 2.0]))
            tensor([0., 2.])
        """
        return self.lmb(*args, **kwargs)

    def extra_repr(self) -> str:
        """Name the wrapped callable in ``repr``."""
        return getattr(self.lmb, "__name__", repr(self.lmb))


class Flatten(nn.Module):
    """Flatten every dimension but the first: ``(batch, *rest) -> (batch, prod(rest))``.

    Uses ``torch.Tensor.reshape``, so non-contiguous inputs and inputs under
    ``torch.func.vmap`` work. A 1-d input of shape ``(batch,)`` becomes ``(batch, 1)``.

    Raises:
        TypeError: In ``forward``, if the input is not a tensor.
        ValueError: In ``forward``, if the input is a 0-d tensor (there is no batch dimension).

    Examples:
        >>> import torch
        >>> Flatten()(torch.randn(5, 3, 32, 32)).shape
        torch.Size([5, 3072])
    """

    def forward(self, x: Tensor) -> Tensor:
        """Flatten ``x`` to ``(batch_size, -1)``.

        Args:
            x: A tensor with at least one dimension; the first is the batch dimension.

        Returns:
            ``x`` reshaped to ``(x.shape[0], -1)``.

        Raises:
            TypeError: If ``x`` is not a tensor.
            ValueError: If ``x`` is 0-d.

        Examples:
            >>> import torch
            >>> Flatten()(torch.zeros(2, 3, 4)).shape
            torch.Size([2, 12])
        """
        check_tensor(x, owner="Flatten")
        if x.dim() == 0:
            raise ValueError(
                "Flatten expects an input with a batch dimension (shape (batch, ...)), "
                "got a 0-d tensor"
            )
        return x.reshape(x.shape[0], -1)


class Scale(nn.Module):
    """Elementwise learnable scaling ``y = alpha * x``.

    ``alpha`` is a parameter of shape ``shape`` initialised to the constant ``alpha``; the
    product broadcasts, so e.g. ``Scale(1)`` is a single learnable scalar factor and
    ``Scale(x.shape)`` is a per-element factor (as in Meta-SGD's per-parameter learning
    rates).

    Args:
        shape: The shape of the scaling parameter (an int or a sequence of ints); ``None``
            (the default, as in learn2learn) gives shape ``(1,)``, one scalar factor.
        alpha: Initial value of every entry of the scaling parameter.

    Raises:
        TypeError: If ``shape`` is not an int or a sequence of ints, or ``alpha`` is not a
            real number.
        ValueError: If an entry of ``shape`` is negative.

    Examples:
        >>> import torch
        >>> x = torch.ones(3)
        >>> scale = Scale(x.shape, alpha=0.5)
        >>> scale(x)
        tensor([0.5000, 0.5000, 0.5000], grad_fn=<MulBackward0>)
        >>> Scale().alpha.shape  # no shape: one scalar factor
        torch.Size([1])
    """

    def __init__(self, shape: int | Sequence[int] | None = None, alpha: float = 1.0) -> None:
        super().__init__()
        shape = 1 if shape is None else shape
        dims = (shape,) if isinstance(shape, int) and not isinstance(shape, bool) else shape
        if not isinstance(dims, Sequence) or not all(
            isinstance(d, int) and not isinstance(d, bool) for d in dims
        ):
            raise TypeError(
                f"Scale expects shape to be an int or a sequence of ints, got {shape!r}"
            )
        if any(d < 0 for d in dims):
            raise ValueError(f"Scale expects non-negative sizes in shape, got {tuple(dims)}")
        if isinstance(alpha, bool) or not isinstance(alpha, int | float):
            raise TypeError(f"Scale expects alpha to be a real number, got {alpha!r}")
        self.alpha = nn.Parameter(torch.full(tuple(dims), float(alpha)))

    def forward(self, x: Tensor) -> Tensor:
        """Return ``alpha * x`` (broadcasting).

        Args:
            x: A tensor whose shape broadcasts with the scaling parameter.

        Returns:
            The scaled tensor.

        Raises:
            TypeError: If ``x`` is not a tensor.

        Examples:
            >>> import torch
            >>> Scale(2, alpha=3.0)(torch.ones(2)).tolist()
            [3.0, 3.0]
        """
        check_tensor(x, owner="Scale")
        return self.alpha * x
