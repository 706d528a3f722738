"""The memory options of the MAML family: ``task_chunk`` and ``checkpoint_inner``.

Chunked batched meta-gradients and checkpointed inner loops must equal the plain paths
(float64, rtol 1e-10), and every combination that cannot work must be refused with a
clear error.
"""

from __future__ import annotations

from collections.abc import Callable
from types import SimpleNamespace

import pytest
import torch
import torch.nn.functional as F
from meta_algos import ANIL, MAML, MAMLpp, MetaSGD
from torch import Tensor, nn

Factory = Callable[..., MAML]
LossFn = Callable[[Tensor, Tensor], Tensor]


def _mlp() -> nn.Sequential:
    return nn.Sequential(nn.Linear(1, 8), nn.Tanh(), nn.Linear(8, 8), nn.Tanh(), nn.Linear(8, 1))


def _conv_bn() -> nn.Sequential:
    """Two conv blocks with per-task BatchNorm, for tiny 1x4x4 images and 3 ways."""
    return nn.Sequential(
        nn.Conv2d(1, 3, 3, padding=1),
        nn.BatchNorm2d(3, track_running_stats=False),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(3, 3, 3, padding=1),
        nn.BatchNorm2d(3, track_running_stats=False),
        nn.ReLU(),
        nn.Flatten(),
        nn.Linear(12, 3),
    )


def _metasgd(net: nn.Module, **kwargs: object) -> MAML:
    algorithm = MetaSGD(net, **kwargs)  # type: ignore[arg-type]
    with torch.no_grad():  # rates that differ per element
        for rate in algorithm.rates.values():
            rate.uniform_(0.05, 0.3)
    return algorithm


def _anil(net: nn.Module, **kwargs: object) -> MAML:
    return ANIL(net, list(net.children())[-1], **kwargs)  # type: ignore[arg-type]


def _mamlpp(net: nn.Module, *, inner_lr: float, inner_steps: int, first_order: bool) -> MAML:
    return MAMLpp(
        net,
        inner_lr,
        inner_steps,
        msl_iterations=10,
        first_order_iterations=10 if first_order else 0,
    )


KINDS: dict[str, Factory] = {"maml": MAML, "metasgd": _metasgd, "anil": _anil, "mamlpp": _mamlpp}


def _algorithm(kind: str, net_kind: str, *, steps: int = 2, first_order: bool = False) -> MAML:
    torch.manual_seed(0)
    net = (_mlp() if net_kind == "mlp" else _conv_bn()).double()
    return KINDS[kind](net, inner_lr=0.1, inner_steps=steps, first_order=first_order)


def _tasks(net_kind: str, count: int) -> tuple[list[SimpleNamespace], LossFn]:
    generator = torch.Generator().manual_seed(1)

    def draw(*shape: int) -> Tensor:
        return torch.randn(*shape, generator=generator, dtype=torch.float64)

    if net_kind == "mlp":
        tasks = [
            SimpleNamespace(
                support_x=draw(4, 1), support_y=draw(4, 1), query_x=draw(5, 1), query_y=draw(5, 1)
            )
            for _ in range(count)
        ]
        return tasks, F.mse_loss
    labels = torch.arange(3).repeat(2)
    tasks = [
        SimpleNamespace(
            support_x=draw(6, 1, 4, 4), support_y=labels, query_x=draw(6, 1, 4, 4), query_y=labels
        )
        for _ in range(count)
    ]
    return tasks, F.cross_entropy


def _meta_gradient(
    algorithm: MAML, tasks: list[SimpleNamespace], loss_fn: LossFn, *, batched: bool
) -> tuple[Tensor, list[Tensor], dict[str, Tensor]]:
    algorithm.zero_grad(set_to_none=True)
    result = algorithm.meta_gradient(tasks, loss_fn, batched=batched)
    grads = {name: p.grad for name, p in algorithm.named_parameters() if p.grad is not None}
    return result.losses, result.predictions, grads


def _assert_same(
    ours: tuple[Tensor, list[Tensor], dict[str, Tensor]],
    reference: tuple[Tensor, list[Tensor], dict[str, Tensor]],
) -> None:
    losses, predictions, grads = ours
    ref_losses, ref_predictions, ref_grads = reference
    # relative to the largest meta-gradient: one that is zero in exact arithmetic (a bias
    # before a batch norm) is rounding noise on both paths
    scale = max(float(g.abs().max()) for g in ref_grads.values())
    tolerance = {"rtol": 1e-10, "atol": 1e-10 * scale}
    assert grads.keys() == ref_grads.keys()
    for name, gradient in ref_grads.items():
        torch.testing.assert_close(grads[name], gradient, **tolerance, msg=name)
    torch.testing.assert_close(losses, ref_losses, rtol=1e-10, atol=1e-12)
    assert len(predictions) == len(ref_predictions)
    for prediction, ref_prediction in zip(predictions, ref_predictions, strict=True):
        torch.testing.assert_close(prediction, ref_prediction, rtol=1e-10, atol=1e-12)


# --------------------------------------------------------------------------------------------
# task_chunk


@pytest.mark.parametrize("kind", list(KINDS))
@pytest.mark.parametrize("net_kind", ["mlp", "conv_bn"])
@pytest.mark.parametrize("first_order", [False, True])
def test_chunked_batched_meta_gradient_equals_loop(kind, net_kind, first_order) -> None:
    algorithm = _algorithm(kind, net_kind, first_order=first_order)
    tasks, loss_fn = _tasks(net_kind, 5)
    loop = _meta_gradient(algorithm, tasks, loss_fn, batched=False)
    _assert_same(_meta_gradient(algorithm, tasks, loss_fn, batched=True), loop)
    for chunk in (1, 2, 3, 5, 8):  # 2 and 3 leave a smaller last chunk; 8 exceeds the batch
        algorithm.task_chunk = chunk
        _assert_same(_meta_gradient(algorithm, tasks, loss_fn, batched=True), loop)


@pytest.mark.parametrize(("chunk", "passes"), [(None, 1), (1, 5), (2, 3), (4, 2), (5, 1)])
def test_each_chunk_is_back_propagated_before_the_next(chunk, passes) -> None:
    algorithm = _algorithm("maml", "mlp")
    algorithm.task_chunk = chunk
    tasks, loss_fn = _tasks("mlp", 5)
    backward_passes = []
    weight = algorithm.module[0].weight
    handle = weight.register_hook(lambda gradient: backward_passes.append(gradient))
    try:
        algorithm.meta_gradient(tasks, loss_fn, batched=True)
    finally:
        handle.remove()
    assert len(backward_passes) == passes


def test_task_chunk_leaves_the_loop_and_batched_query_loss_alone() -> None:
    algorithm = _algorithm("maml", "mlp")
    tasks, loss_fn = _tasks("mlp", 3)
    stacks = [torch.stack([getattr(t, field) for t in tasks]) for field in vars(tasks[0])]
    whole = algorithm.batched_query_loss(loss_fn, *stacks)
    loop = _meta_gradient(algorithm, tasks, loss_fn, batched=False)
    algorithm.task_chunk = 1
    torch.testing.assert_close(algorithm.batched_query_loss(loss_fn, *stacks), whole)
    _assert_same(_meta_gradient(algorithm, tasks, loss_fn, batched=False), loop)


@pytest.mark.parametrize("value", [0, -2, 1.5, True, "4"])
def test_task_chunk_must_be_a_positive_int_or_none(value) -> None:
    with pytest.raises(ValueError, match="task_chunk must be an int >= 1"):
        MAML(nn.Linear(1, 1), task_chunk=value)
    algorithm = MAML(nn.Linear(1, 1), task_chunk=3)
    with pytest.raises(ValueError, match="task_chunk must be an int >= 1"):
        algorithm.task_chunk = value
    assert algorithm.task_chunk == 3
    algorithm.task_chunk = None
    assert algorithm.task_chunk is None


def test_subclasses_take_the_options() -> None:
    net = _mlp()
    assert MetaSGD(net, task_chunk=2, checkpoint_inner=True).task_chunk == 2
    assert ANIL(net, net[4], task_chunk=2, checkpoint_inner=True).checkpoint_inner
    mamlpp = MAMLpp(net, 0.1, 2)
    mamlpp.task_chunk, mamlpp.checkpoint_inner = 4, True
    assert (mamlpp.task_chunk, mamlpp.checkpoint_inner) == (4, True)


# --------------------------------------------------------------------------------------------
# checkpoint_inner


@pytest.mark.parametrize("kind", list(KINDS))
@pytest.mark.parametrize("steps", [1, 3])
@pytest.mark.parametrize("first_order", [False, True])
def test_checkpointed_inner_loop_equals_the_plain_loop(kind, steps, first_order) -> None:
    algorithm = _algorithm(kind, "mlp", steps=steps, first_order=first_order)
    tasks, loss_fn = _tasks("mlp", 3)
    plain = _meta_gradient(algorithm, tasks, loss_fn, batched=False)
    algorithm.checkpoint_inner = True
    _assert_same(_meta_gradient(algorithm, tasks, loss_fn, batched=False), plain)


@pytest.mark.parametrize("kind", ["maml", "mamlpp"])
def test_checkpointed_inner_loop_equals_the_plain_loop_with_batchnorm(kind) -> None:
    algorithm = _algorithm(kind, "conv_bn", steps=2)
    tasks, loss_fn = _tasks("conv_bn", 2)
    plain = _meta_gradient(algorithm, tasks, loss_fn, batched=False)
    algorithm.checkpoint_inner = True
    _assert_same(_meta_gradient(algorithm, tasks, loss_fn, batched=False), plain)


def _saved_outside_checkpoints(algorithm: MAML, steps: int) -> int:
    """Elements the autograd graph of one query loss saves outside checkpointed regions."""
    tasks, loss_fn = _tasks("mlp", 1)
    task = tasks[0]
    saved = 0

    def pack(tensor: Tensor) -> Tensor:
        nonlocal saved
        saved += tensor.numel()
        return tensor

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda tensor: tensor):
        algorithm.query_loss(
            loss_fn, task.support_x, task.support_y, task.query_x, task.query_y, steps=steps
        )
    return saved


def test_checkpointed_inner_steps_keep_no_activations() -> None:
    algorithm = _algorithm("maml", "mlp")
    plain = [_saved_outside_checkpoints(algorithm, steps) for steps in (1, 5)]
    algorithm.checkpoint_inner = True
    checkpointed = [_saved_outside_checkpoints(algorithm, steps) for steps in (1, 5)]
    assert plain[1] > plain[0]  # the plain loop keeps every step's activations
    assert checkpointed[1] == checkpointed[0] < plain[0]  # only the query pass's


def test_checkpoint_inner_refuses_the_batched_path() -> None:
    algorithm = _algorithm("maml", "mlp")
    algorithm.checkpoint_inner = True
    tasks, loss_fn = _tasks("mlp", 2)
    with pytest.raises(ValueError, match="checkpoint_inner=True applies to the per-task loop"):
        algorithm.meta_gradient(tasks, loss_fn, batched=True)
    stacks = [torch.stack([getattr(t, field) for t in tasks]) for field in vars(tasks[0])]
    with pytest.raises(ValueError, match="checkpoint_inner=True applies to the per-task loop"):
        algorithm.batched_query_loss(loss_fn, *stacks)


def test_checkpoint_inner_refuses_compiling() -> None:
    with pytest.raises(ValueError, match="checkpoint_inner=True cannot be compiled"):
        MAML(nn.Linear(1, 1), compile=True, checkpoint_inner=True)
    algorithm = MAML(nn.Linear(1, 1), checkpoint_inner=True)
    with pytest.raises(ValueError, match="checkpoint_inner=True cannot be compiled"):
        algorithm.set_compile(True)
    assert algorithm.compile_options is None
    compiled = MAML(nn.Linear(1, 1), compile=True)
    with pytest.raises(ValueError, match="checkpoint_inner=True cannot be compiled"):
        compiled.checkpoint_inner = True
    assert not compiled.checkpoint_inner


def test_checkpoint_inner_refuses_batchnorm_running_statistics() -> None:
    net = nn.Sequential(nn.Linear(1, 4), nn.BatchNorm1d(4), nn.Linear(4, 1))
    algorithm = MAML(net, checkpoint_inner=True)
    x = torch.randn(6, 1)
    with pytest.raises(ValueError, match="update BatchNorm running statistics twice"):
        algorithm.query_loss(F.mse_loss, x, x, x, x)
    net.eval()  # stored statistics: nothing is updated, so recomputing is exact
    algorithm.query_loss(F.mse_loss, x, x, x, x).backward()


def test_checkpoint_inner_must_be_a_bool() -> None:
    with pytest.raises(TypeError, match="checkpoint_inner must be True or False"):
        MAML(nn.Linear(1, 1), checkpoint_inner=1)  # type: ignore[arg-type]


@pytest.mark.filterwarnings("ignore:`torch.jit.script_method` is deprecated:DeprecationWarning")
def test_compiled_chunks_equal_the_eager_loop() -> None:
    algorithm = _algorithm("maml", "mlp")
    tasks, loss_fn = _tasks("mlp", 3)
    loop = _meta_gradient(algorithm, tasks, loss_fn, batched=False)
    algorithm.task_chunk = 2  # a chunk of 2 and a last chunk of 1: two compiled layouts
    algorithm.set_compile(True)
    _assert_same(_meta_gradient(algorithm, tasks, loss_fn, batched=True), loop)
    _assert_same(_meta_gradient(algorithm, tasks, loss_fn, batched=True), loop)  # reused
    assert algorithm._compiled is not None
    assert algorithm._compiled.disabled is None
    assert len(algorithm._compiled) == 2
