"""learn2learn's ``l2l.nn``: layers frequently used for meta-learning, from meta-nn.

``Lambda``, ``Flatten``, ``Scale``, ``KroneckerLinear``, ``KroneckerRNN`` and ``KroneckerLSTM``
are [`meta_nn`][meta_nn]'s classes, which keep learn2learn's constructor signatures (the
Kronecker layers take learn2learn's matrix input ``(..., n, m)`` as well as flat input).
``PrototypicalClassifier`` is [`meta_nn.PrototypicalClassifier`][meta_nn.PrototypicalClassifier]
with learn2learn's positional arguments.
"""

from __future__ import annotations

from collections.abc import Callable

import meta_nn
from meta_nn import Flatten as Flatten
from meta_nn import KroneckerLinear as KroneckerLinear
from meta_nn import KroneckerLSTM as KroneckerLSTM
from meta_nn import KroneckerRNN as KroneckerRNN
from meta_nn import Lambda as Lambda
from meta_nn import Scale as Scale
from torch import Tensor

__all__ = [
    "Flatten",
    "KroneckerLSTM",
    "KroneckerLinear",
    "KroneckerRNN",
    "Lambda",
    "PrototypicalClassifier",
    "Scale",
]


class PrototypicalClassifier(meta_nn.PrototypicalClassifier):
    """learn2learn's ``PrototypicalClassifier(support=None, labels=None, distance, normalize)``.

    See [`meta_nn.PrototypicalClassifier`][meta_nn.PrototypicalClassifier].

    Examples:
        >>> import torch
        >>> head = PrototypicalClassifier(torch.eye(2), torch.tensor([0, 1]), "cosine")
        >>> head(torch.tensor([[0.0, 3.0]])).argmax(dim=1).tolist()
        [1]
    """

    def __init__(
        self,
        support: Tensor | None = None,
        labels: Tensor | None = None,
        distance: str | Callable[[Tensor, Tensor], Tensor] = "euclidean",
        normalize: bool = False,
    ) -> None:
        super().__init__(support, labels, distance=distance, normalize=normalize)
