"""learn2learn's ``l2l.nn.protonet``: ``PrototypicalClassifier`` and ``compute_prototypes``.

``PrototypicalClassifier`` is [`nn`][meta_all.compat.learn2learn.nn]'s (meta-nn's head with
learn2learn's positional arguments); ``compute_prototypes`` is that head's ``fit_``.
"""

from __future__ import annotations

from torch import Tensor

from . import PrototypicalClassifier as PrototypicalClassifier

__all__ = ["PrototypicalClassifier", "compute_prototypes"]


def compute_prototypes(support: Tensor, labels: Tensor) -> Tensor:
    """learn2learn's ``compute_prototypes``: the mean support embedding of each label.

    [`meta_nn.PrototypicalClassifier.fit_`][meta_nn.PrototypicalClassifier.fit_] without
    normalisation; the prototypes keep their graph to ``support``.

    Args:
        support: Support embeddings ``(n, d)``.
        labels: Their labels ``(n,)``.

    Returns:
        The prototypes ``(classes, d)``, one per distinct label in increasing label order.

    Raises:
        TypeError: If an argument is not a tensor.
        ValueError: If the shapes do not match (``support`` must be ``(n, d)``; learn2learn
            also accepts further feature dimensions).

    Examples:
        >>> import torch
        >>> support = torch.tensor([[0.0, 2.0], [4.0, 0.0], [2.0, 0.0]])
        >>> compute_prototypes(support, torch.tensor([1, 0, 1])).tolist()
        [[4.0, 0.0], [1.0, 1.0]]
    """
    return PrototypicalClassifier().fit_(support, labels)
