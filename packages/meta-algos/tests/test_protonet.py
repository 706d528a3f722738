"""ProtoNet: the loss against a hand-written reference and finite differences, loop vs batched,
adapted predictions, the trainer protocol and errors."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch
import torch.nn.functional as F
from meta_algos import MetaAlgorithm, ProtoNet
from torch import Tensor, nn
from torch.func import functional_call


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
    query_y = torch.arange(ways).repeat(queries)
    return SimpleNamespace(
        support_x=torch.randn(ways * shots, 3, generator=generator, dtype=torch.float64),
        support_y=support_y,
        query_x=torch.randn(ways * queries, 3, generator=generator, dtype=torch.float64),
        query_y=query_y,
    )


def reference_logits(
    net: nn.Module, task: SimpleNamespace, distance: str, params: dict[str, Tensor] | None = None
) -> Tensor:
    """Prototype logits written out: class means, then -squared distance or cosine."""
    params = dict(net.named_parameters()) if params is None else params
    support = functional_call(net, params, (task.support_x,))
    queries = functional_call(net, params, (task.query_x,))
    ways = int(task.support_y.max()) + 1
    prototypes = torch.stack([support[task.support_y == c].mean(0) for c in range(ways)])
    if distance == "euclidean":
        return -((queries[:, None, :] - prototypes[None, :, :]) ** 2).sum(-1)
    unit_queries = queries / (queries.norm(dim=1, keepdim=True) + 1e-8)
    unit_prototypes = prototypes / (prototypes.norm(dim=1, keepdim=True) + 1e-8)
    return unit_queries @ unit_prototypes.T


@pytest.mark.parametrize("distance", ["euclidean", "cosine"])
def test_meta_gradient_matches_the_hand_written_reference(distance):
    torch.manual_seed(0)
    net = embedding().double()
    protonet = ProtoNet(net, distance=distance)
    tasks = [make_task(seed=seed) for seed in range(3)]
    result = protonet.meta_gradient(tasks, F.cross_entropy)
    losses = [
        F.cross_entropy(reference_logits(net, task, distance), task.query_y) for task in tasks
    ]
    expected = torch.autograd.grad(torch.stack(losses).mean(), list(net.parameters()))
    for param, want in zip(net.parameters(), expected, strict=True):
        torch.testing.assert_close(param.grad, want, rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(result.losses, torch.stack(losses).detach(), rtol=1e-12, atol=0)
    for prediction, task in zip(result.predictions, tasks, strict=True):
        torch.testing.assert_close(
            prediction, reference_logits(net, task, distance).detach(), rtol=1e-12, atol=1e-12
        )


@pytest.mark.parametrize("distance", ["euclidean", "cosine"])
def test_query_loss_passes_gradcheck(distance):
    torch.manual_seed(1)
    net = embedding().double()
    protonet = ProtoNet(net, distance=distance)
    task = make_task(seed=4)
    names = [name for name, _ in protonet.named_parameters()]

    def loss_of(*values: Tensor) -> Tensor:
        params = dict(zip(names, values, strict=True))
        logits = functional_call(protonet, params, (task.support_x, task.support_y, task.query_x))
        return F.cross_entropy(logits, task.query_y)

    inputs = tuple(p.detach().clone().requires_grad_(True) for p in protonet.parameters())
    assert torch.autograd.gradcheck(loss_of, inputs, eps=1e-6, atol=1e-7, rtol=1e-6)


@pytest.mark.parametrize("distance", ["euclidean", "cosine"])
def test_batched_equals_the_loop(distance):
    torch.manual_seed(2)
    net = embedding().double()
    protonet = ProtoNet(net, distance=distance)
    tasks = [make_task(seed=seed) for seed in range(4)]
    looped = protonet.meta_gradient(tasks, F.cross_entropy)
    loop_grads = [p.grad.clone() for p in protonet.parameters()]
    protonet.zero_grad(set_to_none=True)
    batched = protonet.meta_gradient(tasks, F.cross_entropy, batched=True)
    for param, want in zip(protonet.parameters(), loop_grads, strict=True):
        torch.testing.assert_close(param.grad, want, rtol=1e-10, atol=1e-13)
    torch.testing.assert_close(batched.losses, looped.losses, rtol=1e-10, atol=0)
    for got, want in zip(batched.predictions, looped.predictions, strict=True):
        torch.testing.assert_close(got, want, rtol=1e-10, atol=1e-12)


def test_batched_falls_back_to_the_loop_for_tasks_that_do_not_stack():
    torch.manual_seed(3)
    protonet = ProtoNet(embedding().double())
    tasks = [make_task(ways=3, seed=0), make_task(ways=4, seed=1)]
    result = protonet.meta_gradient(tasks, F.cross_entropy, batched=True)
    assert [tuple(p.shape) for p in result.predictions] == [(6, 3), (8, 4)]


def test_meta_gradient_adds_to_existing_gradients():
    protonet = ProtoNet(embedding().double())
    task = make_task()
    protonet.meta_gradient([task], F.cross_entropy)
    once = [p.grad.clone() for p in protonet.parameters()]
    protonet.meta_gradient([task], F.cross_entropy)
    for param, first in zip(protonet.parameters(), once, strict=True):
        torch.testing.assert_close(param.grad, 2 * first)


def test_adapted_predictions_are_uniform_before_and_prototypes_after():
    net = embedding().double()
    protonet = ProtoNet(net)
    task = make_task(ways=3, queries=2)
    before = protonet.adapted_predictions(task, F.cross_entropy, steps=0)
    assert torch.equal(before, torch.zeros(6, 3, dtype=torch.float64))
    after = protonet.adapted_predictions(task, F.cross_entropy)
    assert not after.requires_grad
    torch.testing.assert_close(after, reference_logits(net, task, "euclidean").detach())
    assert all(p.grad is None for p in protonet.parameters())
    with pytest.raises(ValueError, match="steps must be a non-negative int, got -1"):
        protonet.adapted_predictions(task, F.cross_entropy, steps=-1)


def test_protocol_and_iteration_count():
    protonet = ProtoNet(embedding())
    assert isinstance(protonet, MetaAlgorithm)
    assert protonet.advance_iteration() == 1
    assert protonet.advance_iteration() == 2
    assert int(protonet.state_dict()["meta_iteration_count"]) == 2


def test_errors():
    with pytest.raises(TypeError, match=r"embedding must be a torch\.nn\.Module, got str"):
        ProtoNet("net")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="distance must be 'euclidean' or 'cosine', got 'l1'"):
        ProtoNet(embedding(), distance="l1")  # type: ignore[arg-type]
    protonet = ProtoNet(embedding().double())
    task = make_task()
    task.support_y = task.support_y + 1
    with pytest.raises(
        ValueError, match=r"support labels 0 \.\. classes - 1.*got labels \[1, 2, 3\]"
    ):
        protonet.meta_gradient([task], F.cross_entropy)
    with pytest.raises(ValueError, match="at least one task"):
        protonet.meta_gradient([], F.cross_entropy)


def test_docstring_examples():
    import doctest

    import meta_algos._protonet as module

    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0
    assert result.failed == 0
