from __future__ import annotations

import math

import pytest
import torch
from meta_tasks import SinusoidParams, SinusoidTaskSampler, Task, TaskBatch, TaskSampler


def test_shapes_and_protocol(device: torch.device) -> None:
    sampler = SinusoidTaskSampler(k_support=5, k_query=7, seed=0, device=device)
    assert isinstance(sampler, TaskSampler)
    tasks = sampler.sample(3)
    assert len(tasks) == 3
    for task in tasks:
        assert isinstance(task, Task)
        assert task.support_x.shape == (5, 1)
        assert task.support_y.shape == (5, 1)
        assert task.query_x.shape == (7, 1)
        assert task.query_y.shape == (7, 1)
        assert task.support_x.device.type == device.type
        assert task.support_x.dtype == torch.get_default_dtype()


def test_targets_follow_the_true_curve(device: torch.device) -> None:
    sampler = SinusoidTaskSampler(seed=3, device=device, dtype=torch.float64)
    batch, params = sampler.sample_batch_with_params(16)
    assert isinstance(batch, TaskBatch)
    assert params.amplitude.shape == (16,)
    expected = params.amplitude.view(-1, 1, 1) * torch.sin(
        batch.support_x - params.phase.view(-1, 1, 1)
    )
    torch.testing.assert_close(batch.support_y, expected, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(
        batch.query_y, params.evaluate(batch.query_x), rtol=1e-12, atol=1e-12
    )
    grid = torch.linspace(-5, 5, 11, dtype=torch.float64, device=device).unsqueeze(-1)
    assert params.evaluate(grid).shape == (16, 11, 1)


def test_ranges_are_respected() -> None:
    sampler = SinusoidTaskSampler(
        amp_range=(1.0, 2.0), phase_range=(0.5, 0.6), x_range=(3.0, 4.0), seed=1
    )
    batch, params = sampler.sample_batch_with_params(200)
    assert params.amplitude.min() >= 1.0
    assert params.amplitude.max() <= 2.0
    assert params.phase.min() >= 0.5
    assert params.phase.max() <= 0.6
    for x in (batch.support_x, batch.query_x):
        assert x.min() >= 3.0
        assert x.max() <= 4.0
    # the draws are spread over the range, not constant
    assert params.amplitude.std() > 0.2
    assert batch.support_x.std() > 0.2


def test_default_ranges() -> None:
    sampler = SinusoidTaskSampler(seed=0)
    assert sampler.amp_range == (0.1, 5.0)
    assert sampler.phase_range == (0.0, math.pi)
    assert sampler.x_range == (-5.0, 5.0)
    assert (sampler.k_support, sampler.k_query) == (10, 10)
    assert "k_support=10" in repr(sampler)


def test_deterministic_for_a_seed(device: torch.device) -> None:
    first = SinusoidTaskSampler(seed=7, device=device).sample_batch(4)
    second = SinusoidTaskSampler(seed=7, device=device).sample_batch(4)
    other = SinusoidTaskSampler(seed=8, device=device).sample_batch(4)
    torch.testing.assert_close(first.support_x, second.support_x, rtol=0, atol=0)
    torch.testing.assert_close(first.query_y, second.query_y, rtol=0, atol=0)
    assert not torch.equal(first.support_x, other.support_x)


def test_same_tasks_on_every_device(device: torch.device) -> None:
    on_cpu = SinusoidTaskSampler(seed=11).sample_batch(2)
    on_device = SinusoidTaskSampler(seed=11, device=device).sample_batch(2)
    torch.testing.assert_close(on_device.support_x.cpu(), on_cpu.support_x, rtol=0, atol=0)


def test_sample_and_sample_batch_agree() -> None:
    tasks = SinusoidTaskSampler(seed=5).sample(3)
    batch = SinusoidTaskSampler(seed=5).sample_batch(3)
    tasks_p, params = SinusoidTaskSampler(seed=5).sample_with_params(3)
    for index in range(3):
        torch.testing.assert_close(tasks[index].query_x, batch.query_x[index], rtol=0, atol=0)
        torch.testing.assert_close(tasks_p[index].query_y, batch.query_y[index], rtol=0, atol=0)
    assert params.phase.shape == (3,)


def test_generator_state_checkpoint_restore() -> None:
    sampler = SinusoidTaskSampler(seed=0)
    sampler.sample(2)
    state = sampler.generator.get_state()
    expected = sampler.sample_batch(3)
    sampler.sample(5)
    sampler.generator.set_state(state)
    restored = sampler.sample_batch(3)
    torch.testing.assert_close(restored.support_x, expected.support_x, rtol=0, atol=0)


def test_explicit_generator_is_used() -> None:
    gen_a = torch.Generator().manual_seed(42)
    gen_b = torch.Generator().manual_seed(42)
    sampler = SinusoidTaskSampler(generator=gen_a)
    assert sampler.generator is gen_a
    torch.testing.assert_close(
        sampler.sample_batch(2).support_x,
        SinusoidTaskSampler(generator=gen_b).sample_batch(2).support_x,
        rtol=0,
        atol=0,
    )


def test_global_seed_makes_unseeded_sampler_reproducible() -> None:
    torch.manual_seed(123)
    first = SinusoidTaskSampler().sample_batch(2)
    torch.manual_seed(123)
    second = SinusoidTaskSampler().sample_batch(2)
    torch.testing.assert_close(first.support_x, second.support_x, rtol=0, atol=0)


def test_dtype_float64() -> None:
    batch = SinusoidTaskSampler(seed=0, dtype=torch.float64).sample_batch(2)
    assert batch.support_x.dtype == torch.float64
    assert batch.query_y.dtype == torch.float64


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        (
            {"amp_range": (5.0, 0.1)},
            ValueError,
            r"amp_range must be finite with low <= high, got \(5.0, 0.1\)",
        ),
        ({"phase_range": (1.0, 0.0)}, ValueError, r"phase_range must be finite with low <= high"),
        ({"x_range": (0.0, math.inf)}, ValueError, r"x_range must be finite"),
        (
            {"x_range": (0.0,)},
            TypeError,
            r"x_range must be a pair of numbers \(low, high\), got \(0.0,\)",
        ),
        ({"k_support": 0}, ValueError, r"k_support must be at least 1, got 0"),
        ({"k_query": 2.5}, TypeError, r"k_query must be an int, got float"),
        ({"seed": 1, "generator": torch.Generator()}, ValueError, r"either generator or seed"),
        ({"generator": 3}, TypeError, r"generator must be a torch.Generator, got int"),
        ({"seed": "1"}, TypeError, r"seed must be an int, got str"),
        (
            {"dtype": torch.int64},
            ValueError,
            r"dtype must be a floating-point torch.dtype, got torch.int64",
        ),
    ],
)
def test_argument_validation(
    kwargs: dict[str, object], error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        SinusoidTaskSampler(**kwargs)  # type: ignore[arg-type]


def test_meta_batch_size_validation() -> None:
    sampler = SinusoidTaskSampler(seed=0)
    with pytest.raises(ValueError, match="meta_batch_size must be at least 1, got 0"):
        sampler.sample(0)
    with pytest.raises(TypeError, match="meta_batch_size must be an int, got float"):
        sampler.sample_batch(2.0)  # type: ignore[arg-type]


def test_params_evaluate_validates_shape() -> None:
    params = SinusoidParams(torch.ones(3), torch.zeros(3))
    with pytest.raises(
        ValueError,
        match=r"x must have shape \(num_points, 1\) or \(3, num_points, 1\), got \(2, 4, 1\)",
    ):
        params.evaluate(torch.zeros(2, 4, 1))
