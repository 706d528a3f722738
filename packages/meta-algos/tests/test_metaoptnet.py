"""MetaOptNet: the meta-gradient against a hand-written loop over SVClassifier, loop vs batched,
a short training run, adapted predictions, the protocol and errors."""

from __future__ import annotations

import doctest
import importlib.util
import sys
from types import SimpleNamespace

import pytest
import torch
import torch.nn.functional as F
from meta_algos import MetaAlgorithm, MetaOptNet
from meta_nn import SVClassifier
from torch import Tensor, nn
from torch.func import functional_call

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("qpth") is None, reason='needs qpth: pip install "meta-nn[svm]"'
)


@pytest.fixture(autouse=True)
def one_thread():
    """Run on one thread: qpth's many tiny LU solves spend more time in thread hand-offs than
    in arithmetic (about 15x slower on two busy cores)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def embedding() -> nn.Sequential:
    """A small embedding with per-batch BatchNorm, as the conv backbones have."""
    return nn.Sequential(
        nn.Linear(3, 6),
        nn.BatchNorm1d(6, track_running_stats=False),
        nn.Tanh(),
        nn.Linear(6, 4),
    )


def make_task(ways: int = 3, shots: int = 2, queries: int = 2, seed: int = 0) -> SimpleNamespace:
    generator = torch.Generator().manual_seed(seed)
    support_y = torch.arange(ways).repeat(shots)[torch.randperm(ways * shots, generator=generator)]
    return SimpleNamespace(
        support_x=torch.randn(ways * shots, 3, generator=generator, dtype=torch.float64),
        support_y=support_y,
        query_x=torch.randn(ways * queries, 3, generator=generator, dtype=torch.float64),
        query_y=torch.arange(ways).repeat(queries),
    )


def reference_loss(net: nn.Module, task: SimpleNamespace, c_reg: float) -> Tensor:
    """One task's query loss written out: embed both sets, fit the SVM head, cross-entropy."""
    params = dict(net.named_parameters())
    support = functional_call(net, params, (task.support_x,))
    queries = functional_call(net, params, (task.query_x,))
    head = SVClassifier(C_reg=c_reg)
    head.fit_(support, task.support_y, ways=int(task.support_y.max()) + 1)
    return F.cross_entropy(head(queries), task.query_y)


@pytest.mark.parametrize("batched", [False, True])
@pytest.mark.parametrize("c_reg", [0.1, 1.0])
def test_meta_gradient_matches_a_hand_written_loop_over_the_head(batched, c_reg):
    torch.manual_seed(0)
    net = embedding().double()
    metaoptnet = MetaOptNet(net, C_reg=c_reg)
    tasks = [make_task(seed=seed) for seed in range(3)]
    result = metaoptnet.meta_gradient(tasks, F.cross_entropy, batched=batched)
    losses = torch.stack([reference_loss(net, task, c_reg) for task in tasks])
    expected = torch.autograd.grad(losses.mean(), list(net.parameters()))
    for param, want in zip(net.parameters(), expected, strict=True):
        torch.testing.assert_close(param.grad, want, rtol=1e-8, atol=1e-10)
    torch.testing.assert_close(result.losses, losses.detach(), rtol=1e-10, atol=0)
    assert [tuple(p.shape) for p in result.predictions] == [(6, 3)] * 3


def test_a_short_training_run_lowers_the_query_loss():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(3, 16), nn.ReLU(), nn.Linear(16, 8)).double()
    metaoptnet = MetaOptNet(net, C_reg=1.0)
    optimizer = torch.optim.Adam(metaoptnet.parameters(), lr=0.05)
    tasks = [make_task(ways=3, shots=3, queries=3, seed=seed) for seed in range(4)]
    losses = []
    for _ in range(20):
        optimizer.zero_grad()
        losses.append(metaoptnet.meta_gradient(tasks, F.cross_entropy).mean_loss)
        optimizer.step()
        metaoptnet.advance_iteration()
    assert losses[-1] < 0.85 * losses[0], losses
    assert int(metaoptnet.meta_iteration_count) == 20


def test_adapted_predictions_are_uniform_before_and_the_svm_logits_after():
    net = embedding().double()
    metaoptnet = MetaOptNet(net, C_reg=0.5)
    task = make_task()
    before = metaoptnet.adapted_predictions(task, F.cross_entropy, steps=0)
    assert torch.equal(before, torch.zeros(6, 3, dtype=torch.float64))
    after = metaoptnet.adapted_predictions(task, F.cross_entropy)
    assert not after.requires_grad
    head = SVClassifier(net(task.support_x), task.support_y, C_reg=0.5)
    torch.testing.assert_close(after, head(net(task.query_x)).detach())
    assert all(p.grad is None for p in metaoptnet.parameters())


def test_normalize_reaches_the_head():
    net = embedding().double()
    task = make_task()
    logits = MetaOptNet(net, normalize=True)(task.support_x, task.support_y, task.query_x)
    head = SVClassifier(net(task.support_x), task.support_y, normalize=True)
    torch.testing.assert_close(logits, head(net(task.query_x)))


def test_protocol_settings_and_errors():
    metaoptnet = MetaOptNet(embedding().double(), C_reg=2, max_iters=7)
    assert isinstance(metaoptnet, MetaAlgorithm)
    assert (metaoptnet.C_reg, metaoptnet.max_iters, metaoptnet.normalize) == (2.0, 7, False)
    with pytest.raises(TypeError, match=r"embedding must be a torch\.nn\.Module, got str"):
        MetaOptNet("net")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="C_reg must be a positive number, got -1"):
        MetaOptNet(embedding(), C_reg=-1)
    task = make_task()
    task.support_y = task.support_y + 1
    with pytest.raises(ValueError, match=r"labels in 0 \.\. 2 \(ways=3\), got \[1, 2, 3\]"):
        metaoptnet.meta_gradient([task], F.cross_entropy)


def test_without_qpth_construction_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "qpth", None)
    monkeypatch.setitem(sys.modules, "qpth.qp", None)
    with pytest.raises(ImportError, match=r'pip install "meta-nn\[svm\]"'):
        MetaOptNet(embedding())


def test_docstring_examples():
    import meta_algos._metaoptnet as module

    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0
    assert result.failed == 0
