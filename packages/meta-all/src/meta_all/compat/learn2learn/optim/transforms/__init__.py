"""learn2learn's ``l2l.optim.transforms``: modules that map gradients to updates.

``ModuleTransform`` and ``MetaCurvatureTransform`` are [`meta_optim`][meta_optim]'s classes:
factories (or, for ``MetaCurvatureTransform``, a module built directly from a parameter) giving
one learnable transform per parameter; ``KroneckerTransform`` is meta-optim's with
learn2learn's factors for convolution weights (``per_filter=True``);
``ReshapedTransform`` (a module applied to the gradient viewed in another shape) and
``TransformDictionary`` (a factory per module or parameter) are meta-optim's too.
"""

from __future__ import annotations

from collections.abc import Callable

import meta_optim
from meta_optim import MetaCurvatureTransform as MetaCurvatureTransform
from meta_optim import ModuleTransform as ModuleTransform
from meta_optim import ReshapedTransform as ReshapedTransform
from meta_optim import TransformDictionary as TransformDictionary
from torch import nn

__all__ = [
    "KroneckerTransform",
    "MetaCurvatureTransform",
    "ModuleTransform",
    "ReshapedTransform",
    "TransformDictionary",
]


class KroneckerTransform(meta_optim.KroneckerTransform):
    """learn2learn's ``KroneckerTransform(kronecker_cls, bias=False, psd=True)``.

    [`meta_optim.KroneckerTransform`][meta_optim.KroneckerTransform] with ``per_filter=True``:
    a convolution weight ``(out, in, kh, kw)`` gets factors ``(in, in)`` and
    ``(kh*kw, kh*kw)`` shared by its ``out`` filters, as in learn2learn.

    Args:
        kronecker_cls: A callable ``(n, m, bias=..., psd=...) -> nn.Module`` accepting matrix
            input ``(..., n, m)``, e.g. ``l2l.nn.KroneckerLinear``.
        bias: Passed to ``kronecker_cls``.
        psd: Passed to ``kronecker_cls``.

    Examples:
        >>> import torch
        >>> from meta_nn import KroneckerLinear
        >>> transform = KroneckerTransform(KroneckerLinear)(torch.nn.Conv2d(16, 32, 3).weight)
        >>> [tuple(p.shape) for p in transform.parameters()]
        [(16, 16), (9, 9)]
    """

    def __init__(
        self, kronecker_cls: Callable[..., nn.Module], bias: bool = False, psd: bool = True
    ) -> None:
        super().__init__(kronecker_cls, bias, psd, per_filter=True)
