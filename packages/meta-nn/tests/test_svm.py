"""SVClassifier: a closed form, the KKT conditions of its QP, float64 gradcheck, the docstring
example, errors and the message without the ``svm`` extra."""

from __future__ import annotations

import doctest
import importlib.util
import sys

import pytest
import torch
from meta_nn import SVClassifier
from torch import Tensor

needs_qpth = pytest.mark.skipif(
    importlib.util.find_spec("qpth") is None, reason='needs qpth: pip install "meta-nn[svm]"'
)


def random_problem(ways: int = 3, shots: int = 2, dim: int = 4) -> tuple[Tensor, Tensor]:
    generator = torch.Generator().manual_seed(0)
    support = torch.randn(ways * shots, dim, generator=generator, dtype=torch.float64)
    return support, torch.arange(ways).repeat(shots)


@needs_qpth
@pytest.mark.parametrize(("c_reg", "alpha"), [(1.0, 0.25), (0.1, 0.1)])
def test_two_orthonormal_supports_have_the_closed_form_solution(c_reg, alpha):
    # alpha_0 = (t, -t), alpha_1 = (-t, t): the objective is 2 t^2 - t, so t = 1/4, clipped to C
    support = torch.eye(2, dtype=torch.float64)
    classifier = SVClassifier(support, torch.tensor([0, 1]), C_reg=c_reg)
    expected = torch.tensor([[alpha, -alpha], [-alpha, alpha]], dtype=torch.float64)
    torch.testing.assert_close(classifier.qp_solution, expected, rtol=0, atol=1e-6)
    query = torch.tensor([[3.0, 1.0]], dtype=torch.float64)
    torch.testing.assert_close(
        classifier(query), torch.tensor([[2 * alpha, -2 * alpha]], dtype=torch.float64)
    )


@needs_qpth
@pytest.mark.parametrize("c_reg", [0.05, 0.1, 10.0])
def test_the_solution_satisfies_the_kkt_conditions(c_reg):
    support, labels = random_problem()
    ways = 3
    alpha = SVClassifier(support, labels, C_reg=c_reg, max_iters=30).qp_solution
    assert alpha is not None
    upper = c_reg * torch.nn.functional.one_hot(labels, ways).double()
    # primal feasibility: alpha <= C onehot, each row sums to zero
    assert bool((alpha <= upper + 1e-7).all())
    torch.testing.assert_close(alpha.sum(dim=1), torch.zeros(len(labels), dtype=torch.float64))
    # stationarity with lambda >= 0 and complementary slackness: per row, the gradient of the
    # objective is the same (-nu_i) on every inactive coordinate and no larger on active ones
    gradient = (support @ support.T) @ alpha + alpha - upper / c_reg
    active = alpha > upper - 1e-6
    for row in range(len(labels)):
        inactive = gradient[row][~active[row]]
        assert inactive.numel() > 0
        torch.testing.assert_close(inactive, inactive[:1].expand_as(inactive), rtol=0, atol=1e-6)
        assert bool((gradient[row][active[row]] <= inactive[0] + 1e-6).all())


@needs_qpth
@pytest.mark.parametrize("normalize", [False, True])
def test_gradients_flow_to_support_and_query_embeddings(normalize):
    support, labels = random_problem(ways=2, shots=2, dim=3)
    query = torch.randn(3, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(1))

    def logits(support: Tensor, query: Tensor) -> Tensor:
        classifier = SVClassifier(normalize=normalize, C_reg=1.0, max_iters=50)
        classifier.fit_(support, labels)
        return classifier(query)

    inputs = (support.requires_grad_(), query.requires_grad_())
    assert torch.autograd.gradcheck(logits, inputs, eps=1e-6, atol=1e-5, rtol=1e-3)


@needs_qpth
def test_normalize_fits_and_scores_unit_embeddings():
    support, labels = random_problem()
    query = torch.randn(4, 4, dtype=torch.float64)
    normalized = SVClassifier(support, labels, normalize=True)
    unit = SVClassifier(SVClassifier.normalize(support), labels)
    torch.testing.assert_close(normalized(query), unit(SVClassifier.normalize(query)))


@needs_qpth
def test_fit_arguments_override_the_constructor_defaults():
    support, labels = random_problem()
    classifier = SVClassifier(C_reg=5.0)
    loose = classifier.fit_(support, labels, C_reg=0.01)
    assert bool((loose.abs() <= 0.01 + 1e-7).all())
    assert classifier.C_reg == 5.0
    assert (classifier.num_support, classifier.ways) == (6, 3)
    assert classifier.fit_(support, labels, ways=5).shape == (6, 5)


@needs_qpth
def test_docstring_example_runs():
    module = sys.modules[SVClassifier.__module__]
    result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0
    assert result.attempted >= 3


@needs_qpth
def test_errors_name_what_was_given():
    support, labels = random_problem()
    with pytest.raises(RuntimeError, match="not fitted yet"):
        SVClassifier()(support)
    with pytest.raises(ValueError, match=r"support \(n, d\) and labels \(n,\)"):
        SVClassifier().fit_(support, labels[:-1])
    with pytest.raises(ValueError, match=r"labels in 0 \.\. 1 \(ways=2\), got \[0, 1, 2\]"):
        SVClassifier().fit_(support, labels, ways=2)
    with pytest.raises(TypeError, match=r"support to be a torch\.Tensor, got list"):
        SVClassifier().fit_([[1.0]], labels)  # type: ignore[arg-type]  # the check under test
    with pytest.raises(ValueError, match="C_reg must be a positive number, got 0"):
        SVClassifier(C_reg=0)
    with pytest.raises(ValueError, match="max_iters must be a positive int, got 0"):
        SVClassifier().fit_(support, labels, max_iters=0)
    fitted = SVClassifier(support, labels)
    with pytest.raises(ValueError, match=r"queries \(n, 4\), got shape \(2, 3\)"):
        fitted(torch.zeros(2, 3, dtype=torch.float64))


def test_without_qpth_construction_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "qpth", None)
    monkeypatch.setitem(sys.modules, "qpth.qp", None)
    with pytest.raises(ImportError, match=r'pip install "meta-nn\[svm\]"'):
        SVClassifier()
