"""The nearest-prototype classifier head of Prototypical Networks."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor, nn

from ._layers import check_tensor

Distance = Callable[[Tensor, Tensor], Tensor]

EPSILON = 1e-8


def unit_rows(x: Tensor, epsilon: float = EPSILON) -> Tensor:
    """Divide each row of ``x`` by its L2 norm plus ``epsilon``."""
    norms: Tensor = x.norm(p=2, dim=1, keepdim=True)
    return x / (norms + epsilon)


def check_queries(x: object, width: int, owner: str) -> Tensor:
    """Return ``x`` if it is a ``(queries, width)`` tensor; otherwise raise naming ``owner``."""
    queries = check_tensor(x, owner=owner)
    if queries.dim() != 2 or queries.shape[1] != width:
        raise ValueError(f"{owner} expects queries (n, {width}), got shape {tuple(queries.shape)}")
    return queries


class PrototypicalClassifier(nn.Module):
    """Classify embeddings by their distance to the mean embedding (prototype) of each class.

    ``fit_(support, labels)`` stores one prototype per distinct label (in increasing label
    order, so row ``c`` of the logits is the ``c``-th smallest label); calling the classifier
    on query embeddings returns logits ``-distance(prototypes, queries)`` of shape
    ``(queries, classes)``. Everything is differentiable, so the loss on the logits trains the
    embedding network (and, in Proto-MAML, flows back through the prototypes).

    Distances: ``"euclidean"`` is the squared Euclidean distance; ``"cosine"`` is the negative
    dot product of L2-normalised embeddings (it turns ``normalize`` on); a callable
    ``distance(prototypes, queries) -> (queries, classes)`` is used as given. With
    ``normalize``, support and query embeddings are divided by their L2 norm (plus 1e-8).

    Args:
        support: Support embeddings ``(n, d)``; with ``labels``, fits the prototypes at once.
        labels: Their labels ``(n,)``.
        distance: ``"euclidean"``, ``"cosine"`` or a callable.
        normalize: L2-normalise embeddings before measuring distances.

    Attributes:
        prototypes: ``(classes, d)`` after ``fit_``, else ``None``.
        classes: The distinct labels, increasing, after ``fit_``, else ``None``.
        normalize: Whether embeddings are normalised.

    Raises:
        ValueError: If ``distance`` is an unknown name, or only one of ``support`` and
            ``labels`` is given.
        TypeError: If ``distance`` is neither a name nor callable.

    References:
        1. Snell et al. 2017. "Prototypical Networks for Few-shot Learning".

    Examples:
        >>> import torch
        >>> support = torch.tensor([[0.0, 0.0], [0.0, 2.0], [5.0, 5.0]])
        >>> classifier = PrototypicalClassifier(support, torch.tensor([0, 0, 1]))
        >>> classifier.prototypes
        tensor([[0., 1.],
                [5., 5.]])
        >>> classifier(torch.tensor([[1.0, 1.0], [4.0, 6.0]])).argmax(dim=1)
        tensor([0, 1])
    """

    def __init__(
        self,
        support: Tensor | None = None,
        labels: Tensor | None = None,
        *,
        distance: str | Distance = "euclidean",
        normalize: bool = False,
    ) -> None:
        super().__init__()
        self.normalize = bool(normalize)
        self.distance: Distance
        if distance == "euclidean":
            self.distance = PrototypicalClassifier.euclidean_distance
        elif distance == "cosine":
            self.distance = PrototypicalClassifier.cosine_distance
            self.normalize = True
        elif isinstance(distance, str):
            raise ValueError(
                f"PrototypicalClassifier: distance must be 'euclidean', 'cosine' or a callable, "
                f"got {distance!r}"
            )
        elif callable(distance):
            self.distance = distance
        else:
            raise TypeError(
                f"PrototypicalClassifier: distance must be 'euclidean', 'cosine' or a callable, "
                f"got {type(distance).__name__}"
            )
        self.prototypes: Tensor | None = None
        self.classes: Tensor | None = None
        if (support is None) != (labels is None):
            raise ValueError("PrototypicalClassifier: give both support and labels, or neither")
        if support is not None and labels is not None:
            self.fit_(support, labels)

    def fit_(self, support: Tensor, labels: Tensor) -> Tensor:
        """Compute (and store) the prototypes: the mean support embedding of each label.

        Args:
            support: Support embeddings ``(n, d)``.
            labels: Their labels ``(n,)``.

        Returns:
            The prototypes ``(classes, d)``, one per distinct label in increasing order
            (normalised if ``normalize``).

        Raises:
            TypeError: If an argument is not a tensor.
            ValueError: If ``support`` is not 2-D or ``labels`` is not ``(n,)``.
        """
        owner = "PrototypicalClassifier.fit_"
        check_tensor(support, owner=owner, name="support")
        check_tensor(labels, owner=owner, name="labels")
        if support.dim() != 2 or labels.shape != support.shape[:1]:
            raise ValueError(
                f"{owner} expects support (n, d) and labels (n,), got shapes "
                f"{tuple(support.shape)} and {tuple(labels.shape)}"
            )
        classes, positions = torch.unique(labels, return_inverse=True)
        sums = support.new_zeros(classes.numel(), support.shape[1]).index_add(0, positions, support)
        counts = torch.bincount(positions, minlength=classes.numel()).to(support.dtype)
        prototypes = sums / counts.unsqueeze(1)
        self.prototypes = unit_rows(prototypes) if self.normalize else prototypes
        self.classes = classes
        return self.prototypes

    @staticmethod
    def euclidean_distance(prototypes: Tensor, queries: Tensor) -> Tensor:
        """Squared Euclidean distances ``(queries, classes)``."""
        return (queries.unsqueeze(1) - prototypes.unsqueeze(0)).pow(2).sum(dim=2)

    @staticmethod
    def cosine_distance(prototypes: Tensor, queries: Tensor) -> Tensor:
        """Negative dot products ``(queries, classes)`` (cosine distance for unit vectors)."""
        return -(queries @ prototypes.mT)

    def forward(self, x: Tensor) -> Tensor:
        """Return the logits ``-distance(prototypes, x)``, shape ``(queries, classes)``.

        Args:
            x: Query embeddings ``(queries, d)``.

        Returns:
            The logits.

        Raises:
            RuntimeError: If the prototypes have not been fitted.
            TypeError: If ``x`` is not a tensor.
            ValueError: If ``x`` is not ``(queries, d)`` with the prototypes' ``d``.
        """
        if self.prototypes is None:
            raise RuntimeError(
                "PrototypicalClassifier has no prototypes yet: call fit_(support, labels) first"
            )
        check_queries(x, self.prototypes.shape[1], "PrototypicalClassifier")
        logits: Tensor = -self.distance(self.prototypes, unit_rows(x) if self.normalize else x)
        return logits
