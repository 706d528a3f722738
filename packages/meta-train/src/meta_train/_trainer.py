"""`MetaTrainer`: meta-updates, evaluation, fitting, distributed averaging and checkpoints."""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
from meta_algos import MAML
from meta_tasks import Task, TaskSampler, stack_tasks
from torch import Tensor

from ._checkpoint import (
    CHECKPOINT_FORMAT,
    capture_rng_state,
    load_checkpoint_file,
    restore_rng_state,
    save_checkpoint_file,
)
from ._history import History
from ._io import PathLike
from ._metrics import accuracy, is_class_labels

#: ``loss_fn(prediction, target) -> scalar tensor``.
LossFn = Callable[[Tensor, Tensor], Tensor]
#: ``callback(iteration, meta_loss)``, called after every meta-update.
Callback = Callable[[int, float], None]


@dataclass(frozen=True)
class TaskEvaluation:
    """Per-task results of :meth:`MetaTrainer.evaluate_tasks`.

    Attributes:
        pre_loss: Query loss of the meta-learned initialisation (no adaptation), per task.
        post_loss: Query loss after adapting on the support set, per task.
        pre_accuracy: Query accuracy before adaptation per task, or ``None`` when the
            targets are not class labels.
        post_accuracy: Query accuracy after adaptation per task, or ``None``.

    Examples:
        >>> result = TaskEvaluation([2.0, 3.0], [0.5, 1.0], None, None)
        >>> sum(result.post_loss) / len(result.post_loss)
        0.75
    """

    pre_loss: list[float]
    post_loss: list[float]
    pre_accuracy: list[float] | None
    post_accuracy: list[float] | None


class _QueryRecorder:
    """Wraps ``loss_fn`` and keeps the prediction of the last call made on the query targets."""

    def __init__(self, loss_fn: LossFn, query_y: Tensor) -> None:
        self.loss_fn = loss_fn
        self.query_y = query_y
        self.prediction: Tensor | None = None

    def __call__(self, prediction: Tensor, target: Tensor) -> Tensor:
        if target is self.query_y:
            self.prediction = prediction.detach()
        return self.loss_fn(prediction, target)


def _check_positive_int(value: object, what: str, *, allow_none: bool = False) -> int | None:
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(
            f"{what} must be a positive int{' or None' if allow_none else ''}, got {value!r}"
        )
    return value


def _distributed() -> bool:
    return dist.is_available() and dist.is_initialized()


class MetaTrainer:
    """Drive MAML-style meta-training over batches of tasks.

    Each meta-update adapts a fresh learner to every task's support set, takes the mean
    post-adaptation query loss over the tasks and steps ``meta_optimizer`` on its gradient.

    Two execution paths compute the same meta-gradient:

    * the per-task loop (default): :meth:`MAML.query_loss <meta_algos.MAML.query_loss>`
      and a ``backward`` per task, accumulating meta-gradients scaled by ``1 / B``, so only
      one task's graph is alive at a time (the memory-lean choice);
    * ``batched=True``: :meth:`MAML.batched_query_loss <meta_algos.MAML.batched_query_loss>`
      (``torch.func.vmap`` over tasks) whenever the tasks stack, i.e. all have the same
      shapes; otherwise that meta-update falls back to the loop (same result). Per-iteration
      training accuracy (:attr:`History.meta_accuracy`) is only recorded with
      ``batched=False``, as predictions do not leave ``vmap``; evaluation accuracy always is.

    When :func:`torch.distributed.is_initialized`, every rank meta-trains on its own tasks
    and the meta-gradients are summed across ranks with weights ``1 / B_total`` before the
    step, so ``N`` ranks with ``B / N`` tasks each make exactly the update of one process
    with all ``B`` tasks (uneven shares are weighted by their task counts). Seed each rank's
    task sampler differently. Every rank evaluates all ``eval_tasks``; only rank 0 shows a
    progress bar and writes checkpoints (holding rank 0's RNG states).

    Args:
        maml: The meta-learner (:class:`~meta_algos.MAML` or a subclass: ``MetaSGD``,
            ``ANIL``, ``MAMLpp``).
        meta_optimizer: Optimizer over ``maml.parameters()``.
        loss_fn: ``loss_fn(prediction, target) -> scalar tensor`` for both the support and
            the query sets (e.g. ``F.mse_loss`` or ``F.cross_entropy``).
        task_sampler: Source of training tasks (``sample(n) -> list[Task]``); if it has a
            ``generator`` (:class:`torch.Generator`), checkpoints save and restore it.
        batched: Use the ``vmap`` path when the tasks stack (see above).
        grad_clip: If set, clip the meta-gradient to this total L2 norm before each step.
        scheduler: Optional learning-rate scheduler, stepped after every meta-update.
        progress: Show a tqdm progress bar in :meth:`fit` (meta-loss and last eval loss);
            ``None`` shows it only when stderr is a terminal.
        device: Device for the tasks; ``None`` uses the device of ``maml``'s parameters.

    Raises:
        TypeError: If ``maml`` is not a :class:`~meta_algos.MAML`, ``meta_optimizer`` not a
            :class:`torch.optim.Optimizer`, ``loss_fn`` not callable or ``task_sampler`` has
            no ``sample`` method.
        ValueError: If ``grad_clip`` is not positive.

    Examples:
        >>> import torch, torch.nn.functional as F
        >>> from meta_algos import MAML
        >>> from meta_tasks import SinusoidTaskSampler
        >>> torch.manual_seed(0)  # doctest: +ELLIPSIS
        <torch._C.Generator object at ...>
        >>> net = torch.nn.Sequential(
        ...     torch.nn.Linear(1, 40), torch.nn.ReLU(), torch.nn.Linear(40, 1)
        ... )
        >>> maml = MAML(net, inner_lr=0.01)
        >>> trainer = MetaTrainer(maml, torch.optim.Adam(maml.parameters(), 1e-3), F.mse_loss,
        ...                       SinusoidTaskSampler(seed=0), progress=False)
        >>> history = trainer.fit(5, meta_batch_size=4)
        >>> len(history.meta_loss), trainer.iteration
        (5, 5)
    """

    def __init__(
        self,
        maml: MAML,
        meta_optimizer: torch.optim.Optimizer,
        loss_fn: LossFn,
        task_sampler: TaskSampler,
        *,
        batched: bool = False,
        grad_clip: float | None = None,
        scheduler: torch.optim.lr_scheduler.LRScheduler | None = None,
        progress: bool | None = None,
        device: torch.device | str | None = None,
    ) -> None:
        if not isinstance(maml, MAML):
            raise TypeError(
                f"maml must be a meta_algos.MAML (or subclass), got {type(maml).__name__}"
            )
        if not isinstance(meta_optimizer, torch.optim.Optimizer):
            raise TypeError(
                "meta_optimizer must be a torch.optim.Optimizer, "
                f"got {type(meta_optimizer).__name__}"
            )
        if not callable(loss_fn):
            raise TypeError(
                f"loss_fn must be callable(prediction, target), got {type(loss_fn).__name__}"
            )
        if not callable(getattr(task_sampler, "sample", None)):
            raise TypeError(
                "task_sampler must have a sample(meta_batch_size) -> list[Task] method, "
                f"got {type(task_sampler).__name__}"
            )
        if grad_clip is not None and not (isinstance(grad_clip, int | float) and grad_clip > 0):
            raise ValueError(f"grad_clip must be a positive max-norm or None, got {grad_clip!r}")
        self.maml = maml
        self.meta_optimizer = meta_optimizer
        self.loss_fn = loss_fn
        self.task_sampler = task_sampler
        self.batched = batched
        self.grad_clip = None if grad_clip is None else float(grad_clip)
        self.scheduler = scheduler
        self.progress = progress
        if device is None:
            first = next(maml.parameters(), None)
            device = first.device if first is not None else torch.device("cpu")
        self.device = torch.device(device)
        self.history = History()
        self.iteration = 0

    # ------------------------------------------------------------------ helpers
    @property
    def _generator(self) -> torch.Generator | None:
        generator = getattr(self.task_sampler, "generator", None)
        return generator if isinstance(generator, torch.Generator) else None

    def _prepare(self, tasks: Sequence[Task], who: str) -> list[Task]:
        if isinstance(tasks, Task) or not isinstance(tasks, Sequence):
            raise TypeError(f"{who} expects a sequence of Task, got {type(tasks).__name__}")
        if len(tasks) == 0:
            raise ValueError(f"{who} needs at least one task, got an empty sequence")
        moved = []
        for index, task in enumerate(tasks):
            if not isinstance(task, Task):
                raise TypeError(
                    f"{who}: tasks[{index}] must be a meta_tasks.Task, got {type(task).__name__}"
                )
            moved.append(task.to(self.device))
        return moved

    @staticmethod
    def _stackable(tasks: Sequence[Task]) -> bool:
        """Whether all tasks agree field by field in shape and dtype (devices already do)."""

        def layout(task: Task) -> list[tuple[torch.Size, torch.dtype]]:
            fields = (task.support_x, task.support_y, task.query_x, task.query_y)
            return [(t.shape, t.dtype) for t in fields]

        first = layout(tasks[0])
        return all(layout(task) == first for task in tasks[1:])

    # -------------------------------------------------------------- meta-update
    def meta_step(self, tasks: Sequence[Task]) -> float:
        """Run one meta-update over ``tasks`` and return their mean query loss.

        Under :mod:`torch.distributed`, ``tasks`` are this rank's share; the returned loss and
        the meta-gradient are the means over all ranks' tasks.

        Args:
            tasks: This meta-update's tasks (at least one).

        Returns:
            The mean post-adaptation query loss (before the update).

        Raises:
            TypeError: If ``tasks`` is not a sequence of :class:`~meta_tasks.Task`.
            ValueError: If ``tasks`` is empty.
        """
        return self._meta_step(self._prepare(tasks, "meta_step"))[0]

    def _meta_step(self, tasks: list[Task]) -> tuple[float, float | None]:
        self.maml.train()
        params = list(self.maml.parameters())
        for param in params:
            param.grad = None
        distributed = _distributed()
        local_count = len(tasks)
        weight = 1.0 / local_count
        loss_sum = 0.0
        accuracy_sum = 0.0
        accuracy_count = 0
        if self.batched and self._stackable(tasks):
            batch = stack_tasks(tasks)
            loss = self.maml.batched_query_loss(
                self.loss_fn, batch.support_x, batch.support_y, batch.query_x, batch.query_y
            )
            torch.autograd.backward(loss)
            loss_sum = float(loss.item()) * local_count
        else:
            # Training accuracy comes from the loop path only (vmap keeps predictions inside),
            # and is never recorded with batched=True, so that History.meta_accuracy stays
            # aligned with meta_loss even when some meta-batches fall back to the loop.
            classify = not self.batched and is_class_labels(tasks[0].query_y)
            for task in tasks:
                loss_fn: LossFn = self.loss_fn
                recorder = None
                if classify:
                    recorder = _QueryRecorder(self.loss_fn, task.query_y)
                    loss_fn = recorder
                loss = self.maml.query_loss(
                    loss_fn, task.support_x, task.support_y, task.query_x, task.query_y
                )
                torch.autograd.backward(loss * weight)
                loss_sum += float(loss.item())
                if recorder is not None and recorder.prediction is not None:
                    accuracy_sum += accuracy(recorder.prediction, task.query_y)
                    accuracy_count += 1
        total_count = local_count
        if distributed:
            stats = torch.tensor(
                [float(local_count), loss_sum, accuracy_sum, float(accuracy_count)],
                dtype=torch.float64,
                device=self.device,
            )
            dist.all_reduce(stats)
            total_count = round(stats[0].item())
            loss_sum, accuracy_sum = stats[1].item(), stats[2].item()
            accuracy_count = round(stats[3].item())
            self._all_reduce_gradients(params, local_count / total_count)
        if self.grad_clip is not None:
            torch.nn.utils.clip_grad_norm_(params, self.grad_clip)
        self.meta_optimizer.step()
        if self.scheduler is not None:
            self.scheduler.step()
        self.maml.advance_iteration()
        mean_accuracy = accuracy_sum / accuracy_count if accuracy_count == total_count else None
        return loss_sum / total_count, mean_accuracy

    @staticmethod
    def _all_reduce_gradients(params: Sequence[Tensor], share: float) -> None:
        """Replace each rank's mean gradient by the task-weighted mean over all ranks.

        One flat all-reduce carries every gradient plus, per parameter, a flag saying whether
        any rank has a gradient for it, so that a parameter no task used keeps ``grad=None``
        (as in a single process, where optimizers then skip it).
        """
        groups: dict[tuple[torch.dtype, torch.device], list[Tensor]] = {}
        for param in params:
            groups.setdefault((param.dtype, param.device), []).append(param)
        for (dtype, device), members in groups.items():
            pieces = [
                (p.grad * share if p.grad is not None else torch.zeros_like(p)).reshape(-1)
                for p in members
            ]
            flags = [0.0 if p.grad is None else 1.0 for p in members]
            pieces.append(torch.tensor(flags, dtype=dtype, device=device))
            flat = torch.cat(pieces)
            dist.all_reduce(flat)
            used = flat[-len(members) :].tolist()
            offset = 0
            for param, any_rank_used in zip(members, used, strict=True):
                size = param.numel()
                chunk = flat[offset : offset + size].view_as(param)
                param.grad = chunk.clone() if any_rank_used > 0 else None
                offset += size

    # --------------------------------------------------------------- evaluation
    def evaluate_tasks(self, tasks: Sequence[Task], *, steps: int | None = None) -> TaskEvaluation:
        """Per-task query loss (and accuracy) before and after adaptation; no meta-update.

        Adaptation runs with gradients enabled (the inner loop needs them, even when called
        under :func:`torch.no_grad`) but nothing is backpropagated into the meta-parameters:
        their values and ``.grad`` are unchanged, and so are the module's buffers and its
        train/eval mode. The module runs in training mode meanwhile, as in meta-training
        (so BatchNorm without running statistics normalises with each batch's statistics).

        Args:
            tasks: Evaluation tasks (at least one).
            steps: Inner steps for adaptation; ``None`` uses the meta-learner's default.

        Returns:
            A :class:`TaskEvaluation`; accuracies are filled when the query targets are
            class labels (an integer dtype).

        Raises:
            TypeError: If ``tasks`` is not a sequence of :class:`~meta_tasks.Task`.
            ValueError: If ``tasks`` is empty.
        """
        prepared = self._prepare(tasks, "evaluate")
        classify = is_class_labels(prepared[0].query_y)
        buffers = {name: b.detach().clone() for name, b in self.maml.named_buffers()}
        was_training = self.maml.training
        pre_loss: list[float] = []
        post_loss: list[float] = []
        pre_accuracy: list[float] = []
        post_accuracy: list[float] = []
        self.maml.train()
        try:
            for task in prepared:
                with torch.no_grad():
                    prediction = self.maml(task.query_x)
                    pre_loss.append(float(self.loss_fn(prediction, task.query_y).item()))
                    if classify:
                        pre_accuracy.append(accuracy(prediction, task.query_y))
                with torch.enable_grad():
                    learner = self.maml.clone()
                    learner.adapt_on(self.loss_fn, task.support_x, task.support_y, steps=steps)
                    prediction = learner(task.query_x).detach()
                post_loss.append(float(self.loss_fn(prediction, task.query_y).item()))
                if classify:
                    post_accuracy.append(accuracy(prediction, task.query_y))
        finally:
            with torch.no_grad():
                for name, buffer in self.maml.named_buffers():
                    buffer.copy_(buffers[name])
            self.maml.train(was_training)
        return TaskEvaluation(
            pre_loss=pre_loss,
            post_loss=post_loss,
            pre_accuracy=pre_accuracy if classify else None,
            post_accuracy=post_accuracy if classify else None,
        )

    def evaluate(self, tasks: Sequence[Task]) -> float:
        """Adapt to each task and return the mean post-adaptation query loss.

        Adaptation still requires gradients (the inner loop), but the reported loss is
        detached, no meta-update is made, and the module's parameters, gradients and
        buffers are left unchanged. See :meth:`evaluate_tasks` for per-task values and
        accuracy.

        Args:
            tasks: Evaluation tasks (at least one).

        Returns:
            The mean post-adaptation query loss.

        Raises:
            TypeError: If ``tasks`` is not a sequence of :class:`~meta_tasks.Task`.
            ValueError: If ``tasks`` is empty.
        """
        result = self.evaluate_tasks(tasks)
        return sum(result.post_loss) / len(result.post_loss)

    def _record_evaluation(self, tasks: Sequence[Task]) -> float:
        result = self.evaluate_tasks(tasks)
        mean_loss = sum(result.post_loss) / len(result.post_loss)
        self.history.eval_loss.append((self.iteration, mean_loss))
        if result.post_accuracy is not None:
            value = sum(result.post_accuracy) / len(result.post_accuracy)
            self.history.eval_accuracy.append((self.iteration, value))
        return mean_loss

    # ---------------------------------------------------------------- training
    def _local_batch_size(self, meta_batch_size: int) -> int:
        if not _distributed():
            return meta_batch_size
        world, rank = dist.get_world_size(), dist.get_rank()
        if meta_batch_size < world:
            raise ValueError(
                f"meta_batch_size={meta_batch_size} is smaller than the distributed world size "
                f"{world}; expected at least one task per rank"
            )
        return meta_batch_size // world + (1 if rank < meta_batch_size % world else 0)

    def _show_progress(self) -> bool:
        if _distributed() and dist.get_rank() != 0:
            return False
        if self.progress is None:
            return sys.stderr.isatty()
        return self.progress

    def fit(
        self,
        num_iterations: int,
        meta_batch_size: int,
        *,
        eval_every: int | None = None,
        eval_tasks: Sequence[Task] | None = None,
        callback: Callback | None = None,
        checkpoint_every: int | None = None,
        checkpoint_path: PathLike | None = None,
    ) -> History:
        """Meta-train for ``num_iterations`` more meta-updates.

        Training continues from :attr:`iteration` (e.g. after :meth:`load_checkpoint`), and
        the returned history covers the whole run so far. Each meta-update samples
        ``meta_batch_size`` tasks (under :mod:`torch.distributed`: this rank's share of them,
        ``meta_batch_size // world_size`` plus one for the first ``meta_batch_size %
        world_size`` ranks).

        Args:
            num_iterations: Number of meta-updates to make now (``>= 0``).
            meta_batch_size: Tasks per meta-update (``>= 1``).
            eval_every: Evaluate on ``eval_tasks`` whenever :attr:`iteration` is a multiple of
                this. Requires ``eval_tasks``.
            eval_tasks: Held-out tasks. Without ``eval_every`` they are evaluated once, after
                the last meta-update.
            callback: ``callback(iteration, meta_loss)`` after every meta-update.
            checkpoint_every: Save a checkpoint whenever :attr:`iteration` is a multiple of
                this, and after the last meta-update. Requires ``checkpoint_path``.
            checkpoint_path: Where :meth:`save_checkpoint` writes; without
                ``checkpoint_every``, once after the last meta-update. Only rank 0 writes.

        Returns:
            :attr:`history`, the trainer's record of every meta-update and evaluation.

        Raises:
            ValueError: If a count is not a positive int (``num_iterations`` may be 0),
                ``eval_every`` is given without ``eval_tasks``, ``checkpoint_every`` without
                ``checkpoint_path``, or ``meta_batch_size`` is below the world size.
        """
        if (
            isinstance(num_iterations, bool)
            or not isinstance(num_iterations, int)
            or num_iterations < 0
        ):
            raise ValueError(f"num_iterations must be a non-negative int, got {num_iterations!r}")
        _check_positive_int(meta_batch_size, "meta_batch_size")
        _check_positive_int(eval_every, "eval_every", allow_none=True)
        _check_positive_int(checkpoint_every, "checkpoint_every", allow_none=True)
        if eval_every is not None and eval_tasks is None:
            raise ValueError(
                f"eval_every={eval_every} needs eval_tasks (the held-out tasks to evaluate on); "
                "pass eval_tasks=[...] or leave eval_every=None"
            )
        if checkpoint_every is not None and checkpoint_path is None:
            raise ValueError(
                f"checkpoint_every={checkpoint_every} needs checkpoint_path (where to save); "
                "pass checkpoint_path=... or leave checkpoint_every=None"
            )
        if eval_tasks is not None:
            eval_tasks = self._prepare(eval_tasks, "fit(eval_tasks=...)")
        local_batch = self._local_batch_size(meta_batch_size)
        is_writer = not _distributed() or dist.get_rank() == 0
        bar = self._progress_bar(num_iterations)
        last_eval: float | None = None
        try:
            for step in range(num_iterations):
                tasks = self._prepare(self.task_sampler.sample(local_batch), "task_sampler.sample")
                loss, mean_accuracy = self._meta_step(tasks)
                self.iteration += 1
                self.history.meta_loss.append(loss)
                if mean_accuracy is not None:
                    self.history.meta_accuracy.append(mean_accuracy)
                last = step == num_iterations - 1
                if eval_tasks is not None and (
                    (eval_every is not None and self.iteration % eval_every == 0)
                    or (eval_every is None and last)
                ):
                    last_eval = self._record_evaluation(eval_tasks)
                if callback is not None:
                    callback(self.iteration, loss)
                if (
                    checkpoint_path is not None
                    and is_writer
                    and (
                        last
                        or (checkpoint_every is not None and self.iteration % checkpoint_every == 0)
                    )
                ):
                    self.save_checkpoint(checkpoint_path)
                if bar is not None:
                    postfix = {"meta_loss": f"{loss:.4g}"}
                    if last_eval is not None:
                        postfix["eval_loss"] = f"{last_eval:.4g}"
                    bar.set_postfix(postfix, refresh=False)
                    bar.update(1)
        finally:
            if bar is not None:
                bar.close()
        return self.history

    def _progress_bar(self, total: int) -> Any:
        if not self._show_progress():
            return None
        from tqdm.auto import tqdm

        return tqdm(
            total=total,
            initial=0,
            desc="meta-train",
            unit="it",
            file=sys.stderr,
            dynamic_ncols=True,
        )

    # ------------------------------------------------------------- checkpoints
    def state_dict(self) -> dict[str, Any]:
        """Everything needed to resume exactly, as tensors and primitive containers.

        Returns:
            ``{"format", "iteration", "module", "meta_optimizer", "scheduler", "history",
            "rng"}``: the meta-learner's ``state_dict`` (parameters, learned rates and its
            iteration counter), the optimizer's and scheduler's state, :attr:`history` as
            plain lists and every RNG state (torch CPU and CUDA, Python ``random``, the
            task sampler's generator).
        """
        return {
            "format": CHECKPOINT_FORMAT,
            "iteration": self.iteration,
            "module": self.maml.state_dict(),
            "meta_optimizer": self.meta_optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict() if self.scheduler is not None else None,
            "history": self.history.to_dict(),
            "rng": capture_rng_state(self._generator),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore a :meth:`state_dict` (see :meth:`load_checkpoint`).

        Args:
            state: The saved state.

        Raises:
            ValueError: If the state has a scheduler but the trainer has none (or the other
                way round), or the sampler RNG states disagree.
        """
        if (state["scheduler"] is None) != (self.scheduler is None):
            raise ValueError(
                "checkpoint and trainer disagree on the LR scheduler: the checkpoint "
                f"{'has no' if state['scheduler'] is None else 'has a'} scheduler state, "
                f"the trainer "
                f"{'has no' if self.scheduler is None else 'has a'} scheduler"
            )
        self.maml.load_state_dict(state["module"])
        self.meta_optimizer.load_state_dict(state["meta_optimizer"])
        if self.scheduler is not None:
            self.scheduler.load_state_dict(state["scheduler"])
        self.history = History.from_dict(state["history"])
        self.iteration = int(state["iteration"])
        restore_rng_state(state["rng"], self._generator)

    def save_checkpoint(self, path: PathLike) -> Path:
        """Save :meth:`state_dict` to ``path`` atomically.

        The checkpoint is written to a temp file in the same directory and renamed over
        ``path`` only once complete, so a crash or a failed write never destroys the
        previous checkpoint.

        Args:
            path: Destination file (its directory is created if missing).

        Returns:
            The path written.
        """
        return save_checkpoint_file(path, self.state_dict())

    def load_checkpoint(self, path: PathLike) -> None:
        """Resume from a checkpoint written by :meth:`save_checkpoint`.

        Loads with ``torch.load(weights_only=True)`` and restores the module, optimizer,
        scheduler, history, iteration and RNG states, so continuing :meth:`fit` reproduces
        the uninterrupted run exactly (same sampler, same settings).

        Args:
            path: The checkpoint.

        Raises:
            FileNotFoundError: If ``path`` does not exist.
            ValueError: If it is not a meta-train checkpoint, or see :meth:`load_state_dict`.
        """
        self.load_state_dict(load_checkpoint_file(path))
