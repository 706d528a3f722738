"""Gradient transforms: learnable modules that map a parameter's gradient to an update.

A *transform factory* is called once per parameter and returns an ``nn.Module`` whose forward
takes a gradient of that parameter's shape and returns a tensor of the same shape.
[`ModuleTransform`][meta_optim.ModuleTransform] and
[`KroneckerTransform`][meta_optim.KroneckerTransform] are such factories;
[`MetaCurvatureTransform`][meta_optim.MetaCurvatureTransform] is a module class whose constructor
takes the parameter, so the class itself is a factory.
"""

from __future__ import annotations

import abc
import math
import typing
from collections.abc import Callable

import torch
from meta_functional.checks import check_finite_rate
from torch import Tensor, nn

from ._reshaped import reshaped_call


def _check_factory(factory: object, owner: str, signature: str) -> None:
    if not callable(factory):
        raise TypeError(
            f"{owner} expects a callable {signature} -> nn.Module, got {type(factory).__name__}"
        )


def _check_parameter(param: object, owner: str) -> Tensor:
    if not isinstance(param, Tensor):
        raise TypeError(f"{owner} expects a parameter tensor, got {type(param).__name__}")
    return param


def _check_gradient(grad: object, shape: torch.Size, owner: str) -> Tensor:
    if not isinstance(grad, Tensor):
        raise TypeError(f"{owner} expects a gradient tensor, got {type(grad).__name__}")
    if grad.shape != shape:
        raise ValueError(
            f"{owner} was built for a parameter of shape {tuple(shape)}, "
            f"got a gradient of shape {tuple(grad.shape)}"
        )
    return grad


def _reshaped(
    module: object, built_by: str, param: Tensor, in_shape: tuple[int, ...]
) -> _ReshapedTransform:
    """Wrap the freshly built ``module`` for ``param``, on its device (and float dtype).

    ``built_by`` names the call that built ``module``, for the error if it is not a module.
    """
    if not isinstance(module, nn.Module):
        raise TypeError(f"{built_by} returned {type(module).__name__}; expected a torch.nn.Module")
    if param.is_floating_point():
        module = module.to(device=param.device, dtype=param.dtype)
    else:
        module = module.to(device=param.device)
    return _ReshapedTransform(module, in_shape, param.shape)


class _ReshapedTransform(nn.Module):
    """Apply ``module`` to the gradient reshaped to ``in_shape``; return the parameter's shape.

    Built by [`ModuleTransform`][meta_optim.ModuleTransform] and
    [`KroneckerTransform`][meta_optim.KroneckerTransform].

    Attributes:
        module: The wrapped (learnable) module.
        in_shape: The shape the gradient is reshaped to before ``module`` sees it.
        shape: The shape of the parameter (and of the gradients and outputs).
    """

    def __init__(self, module: nn.Module, in_shape: tuple[int, ...], shape: torch.Size) -> None:
        super().__init__()
        self.module = module
        self.in_shape = in_shape
        self.shape = shape

    def forward(self, grad: Tensor) -> Tensor:
        """Transform ``grad`` into an update of the same shape.

        Args:
            grad: Gradient with the parameter's shape.

        Returns:
            The update, with the parameter's shape.

        Raises:
            TypeError: If ``grad`` is not a tensor.
            ValueError: If ``grad`` or the module's output has the wrong number of elements.
        """
        owner = f"transform({type(self.module).__name__})"
        grad = _check_gradient(grad, self.shape, owner)
        return reshaped_call(
            self.module, grad, self.in_shape, self.shape, owner=owner, target="the parameter's"
        )

    def extra_repr(self) -> str:
        """Summarise the reshaping in ``repr``."""
        return f"in_shape={self.in_shape}, shape={tuple(self.shape)}"


class _ReshapingFactory(abc.ABC):
    """A transform factory whose transforms are a module applied to the reshaped gradient.

    Calling the factory checks the parameter, builds the module for it (`_build`) and wraps it in
    a `_ReshapedTransform` on the parameter's device.
    """

    def __call__(self, param: Tensor) -> nn.Module:
        """Instantiate the transform for ``param``.

        Args:
            param: The parameter whose gradients will be transformed.

        Returns:
            A module mapping gradients of ``param``'s shape to updates of the same shape.

        Raises:
            TypeError: If ``param`` is not a tensor or the factory's callable returns a
                non-module.

        Examples:
            >>> import torch
            >>> from meta_nn import KroneckerLinear
            >>> ModuleTransform(torch.nn.Linear)(torch.zeros(3)).module
            Linear(in_features=3, out_features=3, bias=True)
            >>> KroneckerTransform(KroneckerLinear)(torch.zeros(8, 3, 3, 3)).module
            KroneckerLinear(n=8, m=27, bias=False, psd=True)
        """
        owner = type(self).__name__
        param = _check_parameter(param, owner)
        module, call, in_shape = self._build(param)
        return _reshaped(module, f"{owner}: {call}", param, in_shape)

    @abc.abstractmethod
    def _build(self, param: Tensor) -> tuple[object, str, tuple[int, ...]]:
        """Build the module for ``param``.

        Returns:
            The callable's result (checked by the caller), the call spelled out for error
            messages, and the shape the gradient is reshaped to before the module sees it.
        """


class ModuleTransform(_ReshapingFactory):
    """Build a transform from any module class mapping ``(1, numel)`` to ``(1, numel)``.

    For a parameter with ``numel`` elements, ``module_cls(numel, numel)`` is instantiated (on the
    parameter's device and, for floating-point parameters, in its dtype). The returned transform
    flattens the gradient to ``(1, numel)``, applies the module and reshapes the result back to
    the parameter's shape. A dense ``nn.Linear`` costs ``numel**2`` weights, so this is meant for
    small parameters; see [`KroneckerTransform`][meta_optim.KroneckerTransform] for a scalable
    alternative.

    Args:
        module_cls: A callable ``(in_features, out_features) -> nn.Module``, e.g.
            ``torch.nn.Linear``.

    Raises:
        TypeError: If ``module_cls`` is not callable (at construction), or does not return an
            ``nn.Module`` (when called).

    Examples:
        >>> import torch
        >>> classifier = torch.nn.Linear(784, 10, bias=False)
        >>> linear_transform = ModuleTransform(torch.nn.Linear)
        >>> linear_update = linear_transform(classifier.weight)  # a Linear(7840, 7840) inside
        >>> linear_update(torch.randn(10, 784)).shape
        torch.Size([10, 784])
    """

    def __init__(self, module_cls: Callable[[int, int], nn.Module]) -> None:
        _check_factory(module_cls, "ModuleTransform", "(in_features, out_features)")
        self.module_cls = module_cls

    def _build(self, param: Tensor) -> tuple[object, str, tuple[int, ...]]:
        numel = param.numel()
        return self.module_cls(numel, numel), f"module_cls({numel}, {numel})", (1, numel)


def kronecker_dims(shape: torch.Size | tuple[int, ...]) -> tuple[int, int]:
    """Return the ``(n, m)`` Kronecker factor sizes that ``KroneckerTransform`` uses for a shape.

    * 0-d (a scalar): ``(1, 1)``;
    * 1-d ``(n,)`` (a bias): ``(n, 1)``, i.e. an ``(n, n)`` left factor and a scalar right one;
    * 2-d ``(n, m)`` (a linear weight): ``(n, m)``;
    * k-d ``(out, in, *kernel)`` with ``k > 2`` (a convolution weight):
      ``(out, in * prod(kernel))``, the usual matrix view of a convolution filter bank.

    Args:
        shape: The parameter's shape.

    Returns:
        ``(n, m)`` with ``n * m`` equal to the number of elements.

    Examples:
        >>> kronecker_dims((64, 32, 3, 3))
        (64, 288)
    """
    if len(shape) == 0:
        return 1, 1
    if len(shape) == 1:
        return int(shape[0]), 1
    return int(shape[0]), math.prod(int(size) for size in shape[1:])


class KroneckerTransform(_ReshapingFactory):
    """Build Kronecker-factored transforms (e.g. from [`KroneckerLinear`][meta_nn.KroneckerLinear]).

    For a parameter reshaped to ``(n, m)`` (see [`kronecker_dims`][meta_optim.kronecker_dims]:
    weights keep their shape, biases of size ``n`` use ``(n, 1)``, convolution weights
    ``(out, in, kh, kw)`` use ``(out, in * kh * kw)``), the transform is
    ``kronecker_cls(n, m, bias=bias, psd=psd)``, whose two factors have shapes ``(n, n)`` and
    ``(m, m)`` instead of one ``(nm, nm)`` matrix. The gradient is flattened row-major to
    ``(n * m,)``, transformed and reshaped back to the parameter's shape. With
    [`KroneckerLinear`][meta_nn.KroneckerLinear] the transform starts as
    the identity, so a learnable optimizer built on it starts as plain gradient descent.

    With ``per_filter``, a convolution weight ``(out, in, *kernel)`` is factored filter by
    filter instead, as learn2learn does: ``n = in``, ``m = prod(kernel)``, and the gradient is
    viewed as ``out`` matrices ``(in, prod(kernel))`` that share the two factors
    (``kronecker_cls`` must then accept matrix input ``(..., n, m)``, as
    [`KroneckerLinear`][meta_nn.KroneckerLinear] does). Far fewer parameters than the
    filter-bank view for wide layers: ``in^2 + prod(kernel)^2`` instead of
    ``out^2 + (in * prod(kernel))^2``.

    Args:
        kronecker_cls: A callable ``(n, m, bias=..., psd=...) -> nn.Module`` taking inputs of
            shape ``(n * m,)``, e.g. [`KroneckerLinear`][meta_nn.KroneckerLinear].
        bias: Passed to ``kronecker_cls``.
        psd: Passed to ``kronecker_cls`` (keep the factored matrix positive semi-definite).
        per_filter: Factor convolution weights per output filter (learn2learn's layout) instead
            of as one ``(out, in * prod(kernel))`` matrix. Parameters of at most two dimensions
            are unaffected.

    Raises:
        TypeError: If ``kronecker_cls`` is not callable (at construction), or does not return
            an ``nn.Module`` (when called).

    References:
        1. Arnold et al. 2019. "When MAML can adapt fast and how to assist when it cannot".

    Examples:
        >>> import torch
        >>> from meta_nn import KroneckerLinear
        >>> classifier = torch.nn.Linear(784, 10, bias=False)
        >>> kronecker_transform = KroneckerTransform(KroneckerLinear)
        >>> kronecker_update = kronecker_transform(classifier.weight)
        >>> [tuple(p.shape) for p in kronecker_update.parameters()]
        [(10, 10), (784, 784)]
        >>> grad = torch.randn(10, 784)
        >>> torch.equal(kronecker_update(grad), grad)  # identity at initialisation
        True
        >>> conv = torch.nn.Conv2d(16, 32, 3)
        >>> per_filter = KroneckerTransform(KroneckerLinear, per_filter=True)(conv.weight)
        >>> [tuple(p.shape) for p in per_filter.parameters()]
        [(16, 16), (9, 9)]
    """

    def __init__(
        self,
        kronecker_cls: Callable[..., nn.Module],
        bias: bool = False,
        psd: bool = True,
        *,
        per_filter: bool = False,
    ) -> None:
        _check_factory(kronecker_cls, "KroneckerTransform", "(n, m, bias=, psd=)")
        self.kronecker_cls = kronecker_cls
        self.bias = bias
        self.psd = psd
        self.per_filter = bool(per_filter)

    def _build(self, param: Tensor) -> tuple[object, str, tuple[int, ...]]:
        if self.per_filter and param.dim() > 2:
            n, m = int(param.shape[1]), math.prod(int(size) for size in param.shape[2:])
            in_shape: tuple[int, ...] = (int(param.shape[0]), n, m)
        else:
            n, m = kronecker_dims(param.shape)
            in_shape = (n * m,)
        module = self.kronecker_cls(n, m, bias=self.bias, psd=self.psd)
        return module, f"kronecker_cls({n}, {m}, bias={self.bias}, psd={self.psd})", in_shape


class MetaCurvatureTransform(nn.Module):
    """The meta-curvature transform of Park & Oliva (2019), built directly from a parameter.

    The update is a learnable, tensor-factored preconditioning of the gradient ``G``, scaled by
    the fixed ``lr``. All curvature matrices start as the identity (so the transform starts as
    ``lr * G``):

    * 2-d ``(n, m)`` parameter: ``update = lr * M_out @ G @ M_in`` with learnable
      ``out_curvature`` ``M_out`` ``(n, n)`` and ``in_curvature`` ``M_in`` ``(m, m)``.
    * k-d ``(out, in, *kernel)`` parameter with ``k > 2`` (a convolution weight): ``G`` is viewed
      as ``(out, in, f)`` with ``f = prod(kernel)`` and multiplied along each mode,
      ``update[o, i, k] = lr * sum_{a, b, c} M_out[o, a] G[a, b, c] M_in[b, i] M_f[c, k]``, with
      a third learnable matrix ``filter_curvature`` ``M_f`` ``(f, f)``.
    * 0-d and 1-d parameters (biases): a full matrix would be cheap but a bias has no row and
      column structure to factor, so the curvature is a learnable elementwise ``curvature`` of
      the parameter's shape, initialised to ones: ``update = lr * curvature * G``.

    The curvature is created on the parameter's device and, for floating-point parameters, in
    its dtype.

    Args:
        param: The parameter whose gradients will be transformed.
        lr: Fixed (non-learnable) scale of the update, ``>= 0``.

    Raises:
        TypeError: If ``param`` is not a tensor or ``lr`` is not a float.
        ValueError: If ``lr`` is negative or not finite.

    References:
        1. Park & Oliva. 2019. "Meta-Curvature". NeurIPS.

    Examples:
        >>> import torch
        >>> classifier = torch.nn.Linear(784, 10, bias=False)
        >>> metacurvature_update = MetaCurvatureTransform(classifier.weight)
        >>> grad = torch.randn(10, 784)
        >>> torch.allclose(metacurvature_update(grad), grad)  # identity at initialisation
        True
    """

    curvature: nn.Parameter | None
    out_curvature: nn.Parameter | None
    in_curvature: nn.Parameter | None
    filter_curvature: nn.Parameter | None

    def __init__(self, param: Tensor, lr: float = 1.0) -> None:
        super().__init__()
        param = _check_parameter(param, "MetaCurvatureTransform")
        self.lr = check_finite_rate(lr, "MetaCurvatureTransform: lr")
        self.shape = param.shape
        device = param.device
        dtype = param.dtype if param.is_floating_point() else None
        self.curvature = self.out_curvature = self.in_curvature = self.filter_curvature = None
        if param.dim() <= 1:
            self.curvature = nn.Parameter(torch.ones(param.shape, device=device, dtype=dtype))
            return
        self.out_curvature = nn.Parameter(torch.eye(param.shape[0], device=device, dtype=dtype))
        self.in_curvature = nn.Parameter(torch.eye(param.shape[1], device=device, dtype=dtype))
        if param.dim() > 2:
            size = math.prod(param.shape[2:])
            self.filter_curvature = nn.Parameter(torch.eye(size, device=device, dtype=dtype))

    def forward(self, grad: Tensor) -> Tensor:
        """Precondition ``grad`` with the learnable curvature.

        Args:
            grad: Gradient with the parameter's shape.

        Returns:
            The update, with the parameter's shape.

        Raises:
            TypeError: If ``grad`` is not a tensor.
            ValueError: If ``grad`` does not have the parameter's shape.

        Examples:
            >>> import torch
            >>> transform = MetaCurvatureTransform(torch.zeros(3), lr=0.5)
            >>> transform(torch.tensor([2.0, 4.0, 6.0]))
            tensor([1., 2., 3.], grad_fn=<MulBackward0>)
        """
        grad = _check_gradient(grad, self.shape, "MetaCurvatureTransform")
        if self.out_curvature is None or self.in_curvature is None:
            # 0-d / 1-d parameter: __init__ set only the elementwise curvature.
            return self.lr * typing.cast(Tensor, self.curvature) * grad
        if self.filter_curvature is None:
            return self.lr * (self.out_curvature @ grad @ self.in_curvature)
        modes = grad.reshape(self.shape[0], self.shape[1], -1)
        update = torch.einsum(
            "oa,abc,bi,ck->oik", self.out_curvature, modes, self.in_curvature, self.filter_curvature
        )
        return self.lr * update.reshape(self.shape)

    def extra_repr(self) -> str:
        """Summarise the configuration in ``repr``."""
        return f"shape={tuple(self.shape)}, lr={self.lr}"
