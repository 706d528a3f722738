from __future__ import annotations

import pytest
import torch
from meta_tasks import Task, TaskBatch, TaskSampler, stack_tasks


def make_task(device: torch.device, n_support: int = 3, n_query: int = 4, seed: int = 0) -> Task:
    gen = torch.Generator().manual_seed(seed)
    return Task(
        torch.randn(n_support, 2, generator=gen).to(device),
        torch.randint(0, 5, (n_support,), generator=gen).to(device),
        torch.randn(n_query, 2, generator=gen).to(device),
        torch.randint(0, 5, (n_query,), generator=gen).to(device),
    )


def test_task_fields_and_counts(device: torch.device) -> None:
    task = make_task(device)
    assert task.num_support == 3
    assert task.num_query == 4
    assert task.support_x.device.type == device.type


def test_task_is_immutable(device: torch.device) -> None:
    task = make_task(device)
    with pytest.raises(AttributeError):
        task.support_x = torch.zeros(1)  # type: ignore[misc]


def test_task_to_casts_floats_only(device: torch.device) -> None:
    task = make_task(device)
    moved = task.to(device=device, dtype=torch.float64)
    assert moved is not task
    assert moved.support_x.dtype == torch.float64
    assert moved.query_x.dtype == torch.float64
    assert moved.support_y.dtype == torch.int64
    assert moved.query_y.dtype == torch.int64
    torch.testing.assert_close(moved.support_x, task.support_x.double(), rtol=0, atol=0)
    assert task.support_x.dtype == torch.float32


def test_task_to_device_only(device: torch.device) -> None:
    task = make_task(torch.device("cpu")).to(device)
    assert task.query_x.device.type == device.type
    assert task.query_x.dtype == torch.float32


def test_to_returns_the_same_object_when_nothing_changes(device: torch.device) -> None:
    task = make_task(device)
    assert task.to(device) is task
    assert task.to(str(device)) is task
    assert task.to() is task
    assert task.to(dtype=torch.float32) is task
    assert task.to(device, torch.float64) is not task
    batch = stack_tasks([task, make_task(device)])
    assert batch.to(device) is batch
    assert batch.to(dtype=torch.float64) is not batch


def test_task_to_rejects_integer_dtype(device: torch.device) -> None:
    with pytest.raises(ValueError, match=r"floating-point torch.dtype.*torch.int32"):
        make_task(device).to(dtype=torch.int32)


def test_task_rejects_non_tensor() -> None:
    with pytest.raises(TypeError, match=r"Task.query_y must be a torch.Tensor, got list"):
        Task(torch.zeros(2, 1), torch.zeros(2), torch.zeros(3, 1), [0, 1, 2])  # type: ignore[arg-type]


def test_task_rejects_scalar() -> None:
    with pytest.raises(ValueError, match=r"Task.support_y must have a leading example dimension"):
        Task(torch.zeros(2, 1), torch.tensor(1.0), torch.zeros(3, 1), torch.zeros(3))


def test_task_rejects_support_count_mismatch() -> None:
    with pytest.raises(ValueError, match=r"5 support inputs .*\(5, 1\).* but 4 support targets"):
        Task(torch.zeros(5, 1), torch.zeros(4, 1), torch.zeros(3, 1), torch.zeros(3, 1))


def test_task_rejects_query_count_mismatch() -> None:
    with pytest.raises(ValueError, match=r"3 query inputs .* but 2 query targets"):
        Task(torch.zeros(5, 1), torch.zeros(5, 1), torch.zeros(3, 1), torch.zeros(2, 1))


def test_stack_tasks_round_trip(device: torch.device) -> None:
    tasks = [make_task(device, seed=s) for s in range(3)]
    batch = stack_tasks(tasks)
    assert len(batch) == 3
    assert batch.support_x.shape == (3, 3, 2)
    assert batch.query_y.shape == (3, 4)
    for index, task in enumerate(tasks):
        for name in ("support_x", "support_y", "query_x", "query_y"):
            torch.testing.assert_close(getattr(batch[index], name), getattr(task, name))
    assert [t.support_x.data_ptr() for t in batch] == [
        batch[i].support_x.data_ptr() for i in range(3)
    ]
    torch.testing.assert_close(batch[-1].query_x, tasks[2].query_x)
    assert len(batch.tasks()) == 3


def test_stack_tasks_empty() -> None:
    with pytest.raises(ValueError, match="at least one task, got an empty sequence"):
        stack_tasks([])


def test_stack_tasks_rejects_non_task(device: torch.device) -> None:
    with pytest.raises(TypeError, match=r"tasks\[1\] must be a Task, got str"):
        stack_tasks([make_task(device), "task"])  # type: ignore[list-item]


def test_stack_tasks_names_index_and_shapes(device: torch.device) -> None:
    tasks = [make_task(device), make_task(device), make_task(device, n_query=6)]
    with pytest.raises(
        ValueError, match=r"task 2 has query_x shape \(6, 2\) but task 0 has \(4, 2\)"
    ):
        stack_tasks(tasks)


def test_stack_tasks_names_dtype(device: torch.device) -> None:
    tasks = [make_task(device), make_task(device).to(dtype=torch.float64)]
    with pytest.raises(ValueError, match=r"task 1 has support_x dtype torch.float64 but task 0"):
        stack_tasks(tasks)


def test_task_batch_slice_and_to(device: torch.device) -> None:
    batch = stack_tasks([make_task(device, seed=s) for s in range(4)])
    part = batch[1:3]
    assert isinstance(part, TaskBatch)
    assert len(part) == 2
    torch.testing.assert_close(part[0].support_x, batch[1].support_x)
    cast = batch.to(dtype=torch.float64)
    assert cast.support_x.dtype == torch.float64
    assert cast.support_y.dtype == torch.int64
    with pytest.raises(ValueError, match="floating-point"):
        batch.to(dtype=torch.int64)


def test_task_batch_index_errors(device: torch.device) -> None:
    batch = stack_tasks([make_task(device)])
    with pytest.raises(IndexError, match="task index 1 is out of range for a TaskBatch of 1 tasks"):
        batch[1]
    with pytest.raises(IndexError, match="task index -2"):
        batch[-2]
    with pytest.raises(TypeError, match="indices must be int or slice, got str"):
        batch["0"]  # type: ignore[call-overload]


def test_task_batch_validates_task_counts() -> None:
    with pytest.raises(
        ValueError,
        match=r"number of tasks.*support_x: 2, support_y: 2, query_x: 3, query_y: 2;",
    ):
        TaskBatch(
            torch.zeros(2, 5, 1), torch.zeros(2, 5, 1), torch.zeros(3, 4, 1), torch.zeros(2, 4, 1)
        )


def test_task_batch_validates_rank() -> None:
    with pytest.raises(
        ValueError, match=r"TaskBatch.support_y must have shape \(num_tasks, num_examples"
    ):
        TaskBatch(torch.zeros(2, 5, 1), torch.zeros(2), torch.zeros(2, 4, 1), torch.zeros(2, 4, 1))


def test_task_batch_validates_example_counts() -> None:
    with pytest.raises(ValueError, match=r"5 support inputs per task .* but 6 support targets"):
        TaskBatch(
            torch.zeros(2, 5, 1), torch.zeros(2, 6), torch.zeros(2, 4, 1), torch.zeros(2, 4, 1)
        )


def test_task_batch_rejects_non_tensor() -> None:
    with pytest.raises(TypeError, match=r"TaskBatch\.support_x must be a torch\.Tensor, got int"):
        TaskBatch(0, torch.zeros(2, 6), torch.zeros(2, 4, 1), torch.zeros(2, 4, 1))  # type: ignore[arg-type]


def test_task_sampler_protocol() -> None:
    class Fixed:
        def sample(self, meta_batch_size: int) -> list[Task]:
            return [make_task(torch.device("cpu"))] * meta_batch_size

    assert isinstance(Fixed(), TaskSampler)
    assert not isinstance(object(), TaskSampler)


def test_tasks_compare_by_identity(device: torch.device) -> None:
    task = make_task(device)
    same_values = Task(task.support_x, task.support_y, task.query_x, task.query_y)
    assert task == task
    assert task != same_values
    assert len({task, same_values}) == 2
