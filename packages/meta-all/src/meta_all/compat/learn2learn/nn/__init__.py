"""learn2learn's ``l2l.nn``: layers frequently used for meta-learning, from meta-nn.

``Lambda``, ``Flatten``, ``Scale``, ``KroneckerLinear``, ``KroneckerRNN`` and ``KroneckerLSTM``
are [`meta_nn`][meta_nn]'s classes, which keep learn2learn's constructor signatures (the
Kronecker layers take learn2learn's matrix input ``(..., n, m)`` as well as flat input;
``Scale()`` without a shape is one scalar factor). ``kronecker_addmm``, ``freeze``,
``unfreeze``, ``MetaModule`` and ``ParameterTransform`` are meta-nn's too; the last two are also
under ``nn.metalayers``, as in learn2learn (``import ...learn2learn.nn.metalayers as ml``).
``PrototypicalClassifier`` is [`meta_nn.PrototypicalClassifier`][meta_nn.PrototypicalClassifier]
with learn2learn's positional arguments. ``SVClassifier`` (MetaOptNet's SVM head) is
[`meta_nn.SVClassifier`][meta_nn.SVClassifier]; it needs ``pip install "meta-nn[svm]"``.
"""

from __future__ import annotations

from collections.abc import Callable

import meta_nn
from meta_nn import Flatten as Flatten
from meta_nn import KroneckerLinear as KroneckerLinear
from meta_nn import KroneckerLSTM as KroneckerLSTM
from meta_nn import KroneckerRNN as KroneckerRNN
from meta_nn import Lambda as Lambda
from meta_nn import MetaModule as MetaModule
from meta_nn import ParameterTransform as ParameterTransform
from meta_nn import Scale as Scale
from meta_nn import SVClassifier as SVClassifier
from meta_nn import freeze as freeze
from meta_nn import kronecker_addmm as kronecker_addmm
from meta_nn import unfreeze as unfreeze
from torch import Tensor

from . import metalayers as metalayers

__all__ = [
    "Flatten",
    "KroneckerLSTM",
    "KroneckerLinear",
    "KroneckerRNN",
    "Lambda",
    "MetaModule",
    "ParameterTransform",
    "PrototypicalClassifier",
    "SVClassifier",
    "Scale",
    "freeze",
    "kronecker_addmm",
    "metalayers",
    "unfreeze",
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
