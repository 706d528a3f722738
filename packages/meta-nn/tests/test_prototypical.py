"""PrototypicalClassifier: prototypes, distances, normalisation, gradients, errors."""

from __future__ import annotations

import pytest
import torch
from meta_nn import PrototypicalClassifier


def clusters(classes: int = 5, shots: int = 4, dim: int = 8, noise: float = 0.05):
    generator = torch.Generator().manual_seed(0)
    centres = 3 * torch.randn(classes, dim, generator=generator)
    labels = torch.arange(classes).repeat_interleave(shots)
    support = centres[labels] + noise * torch.randn(len(labels), dim, generator=generator)
    query = centres[labels] + noise * torch.randn(len(labels), dim, generator=generator)
    return support, query, labels


def test_prototypes_are_class_means_in_label_order() -> None:
    support = torch.tensor([[1.0, 0.0], [9.0, 9.0], [3.0, 2.0], [7.0, 7.0]])
    labels = torch.tensor([4, 2, 4, 2])
    classifier = PrototypicalClassifier()
    assert classifier.prototypes is None
    prototypes = classifier.fit_(support, labels)
    torch.testing.assert_close(prototypes, torch.tensor([[8.0, 8.0], [2.0, 1.0]]))
    assert classifier.classes is not None
    assert classifier.classes.tolist() == [2, 4]
    logits = classifier(torch.tensor([[2.0, 1.0], [0.0, 0.0]]))
    expected = -torch.tensor([[36.0 + 49.0, 0.0], [128.0, 5.0]])
    torch.testing.assert_close(logits, expected)


@pytest.mark.parametrize("distance", ["euclidean", "cosine"])
@pytest.mark.parametrize("normalize", [False, True])
def test_classifies_clustered_embeddings(distance: str, normalize: bool) -> None:
    support, query, labels = clusters()
    classifier = PrototypicalClassifier(support, labels, distance=distance, normalize=normalize)
    assert classifier.normalize == (normalize or distance == "cosine")
    predictions = classifier(query)
    assert predictions.shape == (20, 5)
    assert (predictions.argmax(dim=1) == labels).float().mean() >= 0.95


def test_cosine_logits_are_dot_products_of_unit_vectors() -> None:
    support, query, labels = clusters()
    classifier = PrototypicalClassifier(support, labels, distance="cosine")
    prototypes = classifier.prototypes
    assert prototypes is not None
    torch.testing.assert_close(prototypes.norm(dim=1), torch.ones(5))
    units = query / (query.norm(dim=1, keepdim=True) + 1e-8)
    torch.testing.assert_close(classifier(query), units @ prototypes.T)


def test_custom_distance_and_gradients_reach_the_embeddings() -> None:
    support, query, labels = clusters()
    support.requires_grad_(True)

    def manhattan(prototypes: torch.Tensor, queries: torch.Tensor) -> torch.Tensor:
        return torch.cdist(queries, prototypes, p=1)

    classifier = PrototypicalClassifier(support, labels, distance=manhattan)
    logits = classifier(query)
    torch.testing.assert_close(logits, -torch.cdist(query, classifier.prototypes, p=1))
    torch.nn.functional.cross_entropy(logits, labels).backward()
    assert support.grad is not None
    assert support.grad.abs().sum() > 0


def test_errors() -> None:
    with pytest.raises(RuntimeError, match=r"call fit_\(support, labels\) first"):
        PrototypicalClassifier()(torch.zeros(2, 3))
    with pytest.raises(ValueError, match="distance must be 'euclidean', 'cosine' or a callable"):
        PrototypicalClassifier(distance="manhattan")
    with pytest.raises(TypeError, match="or a callable, got int"):
        PrototypicalClassifier(distance=3)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="give both support and labels, or neither"):
        PrototypicalClassifier(torch.zeros(2, 3))
    with pytest.raises(ValueError, match=r"support \(n, d\) and labels \(n,\), got shapes"):
        PrototypicalClassifier(torch.zeros(2, 3, 1), torch.zeros(2))
    classifier = PrototypicalClassifier(torch.zeros(2, 3), torch.tensor([0, 1]))
    with pytest.raises(ValueError, match=r"expects queries \(n, 3\), got shape \(2, 4\)"):
        classifier(torch.zeros(2, 4))
