"""``adapt_trajectory(checkpoint_steps=True)``: the same trajectory and derivatives, less memory."""

from __future__ import annotations

import pytest
import torch
from meta_functional import adapt_trajectory
from torch import Tensor


def _problem() -> tuple[dict[str, Tensor], torch.nn.Module, Tensor, Tensor]:
    generator = torch.Generator().manual_seed(0)
    weight = torch.randn(3, 5, generator=generator, dtype=torch.float64, requires_grad=True)
    bias = torch.randn(3, generator=generator, dtype=torch.float64, requires_grad=True)
    x = torch.randn(4, 5, generator=generator, dtype=torch.float64)
    y = torch.randn(4, 3, generator=generator, dtype=torch.float64)
    return {"weight": weight, "bias": bias}, torch.nn.Tanh(), x, y


def _rates() -> list[float | dict[str, Tensor | float]]:
    """Per-step rates of every kind: a float, per-element tensors and a float per name."""
    return [0.3, {"weight": torch.full((3, 5), 0.1, dtype=torch.float64), "bias": 0.2}, 0.1]


def _meta_gradient(
    steps: int, *, first_order: bool, checkpoint_steps: bool, custom_update: bool = False
) -> list[Tensor]:
    params, activation, x, y = _problem()

    def support_loss(p: dict[str, Tensor]) -> Tensor:
        return ((activation(x @ p["weight"].T + p["bias"]) - y) ** 2).mean()

    def update(p: dict[str, Tensor], g: dict[str, Tensor], step: int) -> dict[str, Tensor]:
        return {name: p[name] - 0.2 / (step + 1) * g[name] for name in p}

    trajectory = adapt_trajectory(
        params,
        support_loss,
        lr=_rates()[:steps],
        inner_steps=steps,
        first_order=first_order,
        update=update if custom_update else None,
        checkpoint_steps=checkpoint_steps,
    )
    # a loss of every step, so the test also covers the intermediate parameters
    total = sum(support_loss(p) * (i + 1) for i, p in enumerate(trajectory))
    assert isinstance(total, Tensor)
    return list(torch.autograd.grad(total, list(params.values())))


@pytest.mark.parametrize("steps", [1, 3])
@pytest.mark.parametrize("first_order", [False, True])
@pytest.mark.parametrize("custom_update", [False, True])
def test_checkpointed_steps_give_the_same_meta_gradient(steps, first_order, custom_update) -> None:
    plain = _meta_gradient(
        steps, first_order=first_order, checkpoint_steps=False, custom_update=custom_update
    )
    checked = _meta_gradient(
        steps, first_order=first_order, checkpoint_steps=True, custom_update=custom_update
    )
    for ours, theirs in zip(checked, plain, strict=True):
        torch.testing.assert_close(ours, theirs, rtol=1e-10, atol=1e-12)


def test_checkpointed_steps_save_only_their_inputs() -> None:
    params, activation, x, y = _problem()
    saved: dict[bool, int] = {}
    for checkpoint_steps in (False, True):
        count = 0

        def pack(tensor: Tensor) -> Tensor:
            nonlocal count
            count += 1
            return tensor

        with torch.autograd.graph.saved_tensors_hooks(pack, lambda tensor: tensor):
            adapt_trajectory(
                params,
                lambda p: ((activation(x @ p["weight"].T + p["bias"]) - y) ** 2).mean(),
                lr=0.1,
                inner_steps=4,
                checkpoint_steps=checkpoint_steps,
            )
        saved[checkpoint_steps] = count
    assert saved[False] > 0
    assert saved[True] == 0  # everything a step saves is held by its checkpoint


def test_checkpoint_steps_needs_autograd_gradients() -> None:
    params = _problem()[0]
    with pytest.raises(ValueError, match="checkpoint_steps=True needs grad_mode='autograd'"):
        adapt_trajectory(
            params, lambda p: (p["bias"] ** 2).sum(), grad_mode="func", checkpoint_steps=True
        )
    with pytest.raises(TypeError, match="checkpoint_steps must be True or False"):
        adapt_trajectory(params, lambda p: (p["bias"] ** 2).sum(), checkpoint_steps="yes")  # type: ignore[arg-type]
