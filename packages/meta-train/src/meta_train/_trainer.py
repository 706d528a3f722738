"""`MetaTrainer`: meta-updates, evaluation, fitting, distributed averaging and checkpoints."""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic

import torch
import torch.distributed as dist
from meta_algos import LossFn, MetaAlgorithm, MetaGradient
from meta_functional.checks import (
    check_flag,
    check_non_negative_int,
    check_scalar_loss,
)
from meta_tasks import Task, TaskSampler
from torch import Tensor
from typing_extensions import TypeVar

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

#: ``callback(iteration, meta_loss)``, called after every meta-update.
Callback = Callable[[int, float], None]

#: The algorithm a trainer drives. A bare ``MetaTrainer`` annotation means ``MetaTrainer[Any]``
#: (the algorithm's own type is unknown there), so code written before the protocol, which
#: reaches ``trainer.maml``'s own methods, keeps type-checking; ``MetaTrainer(MAML(...), ...)``
#: infers ``MetaTrainer[MAML]``.
AlgorithmT = TypeVar("AlgorithmT", bound=MetaAlgorithm, default=Any)


@dataclass(frozen=True)
class TaskEvaluation:
    """Per-task results of [`MetaTrainer.evaluate_tasks`][meta_train.MetaTrainer.evaluate_tasks].

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


@dataclass(frozen=True)
class _StepTotals:
    """Sums over one meta-update's tasks: this rank's, or every rank's once reduced."""

    tasks: int
    loss: float
    accuracy: float
    accuracy_tasks: int

    @property
    def mean_loss(self) -> float:
        return self.loss / self.tasks

    @property
    def mean_accuracy(self) -> float | None:
        """The mean accuracy when every task has class labels, else ``None`` (History aligns)."""
        return self.accuracy / self.accuracy_tasks if self.accuracy_tasks == self.tasks else None


def _distributed() -> bool:
    return dist.is_available() and dist.is_initialized()


def _reduce_across_ranks(
    totals: _StepTotals, params: Sequence[Tensor], device: torch.device
) -> _StepTotals:
    """The one cross-rank reduction of a meta-update: its statistics and its meta-gradient.

    Sums ``totals`` over ranks, and replaces each rank's mean gradient (over its own tasks)
    by the task-weighted mean over all ranks' tasks, so ``N`` ranks with ``B / N`` tasks each
    make the update of one process with all ``B`` tasks. One flat all-reduce per dtype and
    device carries every gradient plus, per parameter, a flag saying whether any rank has a
    gradient for it, so that a parameter no task used keeps ``grad=None`` (as in a single
    process, where optimizers then skip it). Without ``torch.distributed``, returns
    ``totals`` unchanged.
    """
    if not _distributed():
        return totals
    summed = torch.tensor(
        [float(totals.tasks), totals.loss, totals.accuracy, float(totals.accuracy_tasks)],
        dtype=torch.float64,
        device=device,
    )
    dist.all_reduce(summed)
    tasks, loss, accuracy_sum, accuracy_tasks = summed.tolist()
    everyone = _StepTotals(round(tasks), loss, accuracy_sum, round(accuracy_tasks))
    share = totals.tasks / everyone.tasks
    groups: dict[tuple[torch.dtype, torch.device], list[Tensor]] = {}
    for param in params:
        groups.setdefault((param.dtype, param.device), []).append(param)
    for (dtype, group_device), members in groups.items():
        pieces = [
            (p.grad * share if p.grad is not None else torch.zeros_like(p)).reshape(-1)
            for p in members
        ]
        flags = [0.0 if p.grad is None else 1.0 for p in members]
        pieces.append(torch.tensor(flags, dtype=dtype, device=group_device))
        flat = torch.cat(pieces)
        dist.all_reduce(flat)
        used = flat[-len(members) :].tolist()
        offset = 0
        for param, any_rank_used in zip(members, used, strict=True):
            size = param.numel()
            chunk = flat[offset : offset + size].view_as(param)
            param.grad = chunk.clone() if any_rank_used > 0 else None
            offset += size
    return everyone


class MetaTrainer(Generic[AlgorithmT]):
    """Drive any [`MetaAlgorithm`][meta_algos.MetaAlgorithm] over batches of tasks.

    The trainer owns the schedule, the algorithm owns the maths: each meta-update samples
    tasks, calls [`meta_gradient`][meta_algos.MetaAlgorithm.meta_gradient] (which leaves the
    meta-gradient of the mean meta-objective on ``.grad``), reduces across ranks, clips,
    steps ``meta_optimizer`` (and ``scheduler``) and calls
    [`advance_iteration`][meta_algos.MetaAlgorithm.advance_iteration]. Evaluation goes
    through [`adapted_predictions`][meta_algos.MetaAlgorithm.adapted_predictions]. The
    trainer never asks which algorithm it holds: [`MAML`][meta_algos.MAML] and its family,
    or a first-order or implicit method of your own, train the same way.

    ``batched`` is handed to ``meta_gradient``: for the algorithms of meta-algos, ``False``
    adapts and back-propagates task by task (only one task's graph alive at a time, the
    memory-lean choice) and ``True`` adapts all tasks in one ``torch.func.vmap`` pass when
    they stack (the same shapes), falling back to the loop otherwise (same result). The
    meta-loss of an update is the mean of the tasks' meta-objectives; when the query targets
    are class labels, the mean query accuracy of the adapted predictions is recorded too
    (``meta_accuracy`` of [`History`][meta_train.History]), on either path.

    When ``torch.distributed`` is initialised, every rank meta-trains on its own tasks and
    the meta-gradients are summed across ranks with weights ``1 / B_total`` before the step,
    so ``N`` ranks with ``B / N`` tasks each make exactly the update of one process with all
    ``B`` tasks (uneven shares are weighted by their task counts). Seed each rank's task
    sampler differently. Every rank evaluates all ``eval_tasks``; only rank 0 shows a
    progress bar and writes checkpoints (holding rank 0's RNG states).

    Args:
        maml: The meta-learner: a ``torch.nn.Module`` that implements
            [`MetaAlgorithm`][meta_algos.MetaAlgorithm], e.g. [`MAML`][meta_algos.MAML],
            [`MetaSGD`][meta_algos.MetaSGD], [`ANIL`][meta_algos.ANIL] or
            [`MAMLpp`][meta_algos.MAMLpp]. Its ``state_dict`` goes into checkpoints.
        meta_optimizer: Optimizer over ``maml.parameters()``.
        loss_fn: ``loss_fn(prediction, target) -> scalar tensor`` for both the support and
            the query sets (e.g. ``F.mse_loss`` or ``F.cross_entropy``).
        task_sampler: Source of training tasks (``sample(n) -> list[Task]``); if it has a
            ``generator`` (``torch.Generator``), checkpoints save and restore it.
        batched: Passed to ``meta_gradient``: adapt all tasks in one vectorised pass when
            they stack (see above).
        grad_clip: If set, clip the meta-gradient to this total L2 norm before each step.
        scheduler: Optional learning-rate scheduler, stepped after every meta-update.
        progress: Show a tqdm progress bar in [`fit`][meta_train.MetaTrainer.fit] (meta-loss
            and last eval loss); ``None`` shows it only when stderr is a terminal.
        device: Device for the tasks; ``None`` uses the device of ``maml``'s parameters.

    Raises:
        TypeError: If ``maml`` does not implement [`MetaAlgorithm`][meta_algos.MetaAlgorithm]
            or is not a module, ``meta_optimizer`` is not a ``torch.optim.Optimizer``,
            ``loss_fn`` is not callable, ``task_sampler`` has no ``sample`` method, or
            ``batched``/``progress`` is not a bool (``progress`` may be ``None``).
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
        maml: AlgorithmT,
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
        if not isinstance(maml, MetaAlgorithm):
            raise TypeError(
                "maml must implement meta_algos.MetaAlgorithm (meta_gradient, "
                "adapted_predictions, advance_iteration, parameters, train, named_buffers, "
                f"state_dict, load_state_dict), e.g. a meta_algos.MAML; got {type(maml).__name__}"
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
        self.batched = check_flag(batched, "batched")
        self.grad_clip = None if grad_clip is None else float(grad_clip)
        self.scheduler = scheduler
        self.progress = None if progress is None else check_flag(progress, "progress")
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

    def _local_totals(self, tasks: list[Task], result: MetaGradient) -> _StepTotals:
        """This rank's loss and accuracy sums from what ``meta_gradient`` measured."""
        algorithm = type(self.maml).__name__
        if tuple(result.losses.shape) != (len(tasks),) or len(result.predictions) != len(tasks):
            raise ValueError(
                f"{algorithm}.meta_gradient must return one loss and one prediction per task; "
                f"got losses of shape {tuple(result.losses.shape)} and "
                f"{len(result.predictions)} predictions for {len(tasks)} tasks"
            )
        labelled = [
            accuracy(prediction, task.query_y)
            for prediction, task in zip(result.predictions, tasks, strict=True)
            if is_class_labels(task.query_y)
        ]
        return _StepTotals(
            tasks=len(tasks),
            loss=float(result.losses.sum(dtype=torch.float64).item()),
            accuracy=sum(labelled),
            accuracy_tasks=len(labelled),
        )

    # -------------------------------------------------------------- meta-update
    def meta_step(self, tasks: Sequence[Task]) -> float:
        """Run one meta-update over ``tasks`` and return their mean meta-objective.

        Under ``torch.distributed``, ``tasks`` are this rank's share; the returned loss and
        the meta-gradient are the means over all ranks' tasks.

        Args:
            tasks: This meta-update's tasks (at least one).

        Returns:
            The mean post-adaptation query loss (before the update).

        Raises:
            TypeError: If ``tasks`` is not a sequence of [`Task`][meta_tasks.Task].
            ValueError: If ``tasks`` is empty, or the algorithm's
                [`MetaGradient`][meta_algos.MetaGradient] does not hold one loss and one
                prediction per task.
        """
        return self._meta_step(self._prepare(tasks, "meta_step")).mean_loss

    def _meta_step(self, tasks: list[Task]) -> _StepTotals:
        self.maml.train()
        params = list(self.maml.parameters())
        for param in params:
            param.grad = None
        result = self.maml.meta_gradient(tasks, self.loss_fn, batched=self.batched)
        totals = _reduce_across_ranks(self._local_totals(tasks, result), params, self.device)
        if self.grad_clip is not None:
            torch.nn.utils.clip_grad_norm_(params, self.grad_clip)
        self.meta_optimizer.step()
        if self.scheduler is not None:
            self.scheduler.step()
        self.maml.advance_iteration()
        return totals

    # --------------------------------------------------------------- evaluation
    def evaluate_tasks(self, tasks: Sequence[Task], *, steps: int | None = None) -> TaskEvaluation:
        """Per-task query loss (and accuracy) before and after adaptation; no meta-update.

        Both come from [`adapted_predictions`][meta_algos.MetaAlgorithm.adapted_predictions]
        (``steps=0`` for the meta-learned initialisation). Adaptation runs with gradients
        (the inner loop needs them, even when called under ``torch.no_grad``) but nothing is
        back-propagated into the meta-parameters: their values and ``.grad`` are unchanged,
        and so are the module's buffers and its train/eval mode. The module runs in training
        mode meanwhile, as in meta-training (so BatchNorm without running statistics
        normalises with each batch's statistics).

        Args:
            tasks: Evaluation tasks (at least one).
            steps: Inner steps for adaptation; ``None`` uses the meta-learner's default.

        Returns:
            A [`TaskEvaluation`][meta_train.TaskEvaluation]; accuracies are filled when the
            query targets are class labels (an integer dtype).

        Raises:
            TypeError: If ``tasks`` is not a sequence of [`Task`][meta_tasks.Task].
            ValueError: If ``tasks`` is empty, ``loss_fn`` does not return a scalar, or the
                algorithm refuses ``steps``.
        """
        prepared = self._prepare(tasks, "evaluate")
        classify = is_class_labels(prepared[0].query_y)
        buffers = {name: b.detach().clone() for name, b in self.maml.named_buffers()}
        was_training = self.maml.training
        losses: dict[str, list[float]] = {"pre": [], "post": []}
        accuracies: dict[str, list[float]] = {"pre": [], "post": []}
        self.maml.train()
        try:
            for task in prepared:
                for stage, stage_steps in (("pre", 0), ("post", steps)):
                    prediction = self.maml.adapted_predictions(
                        task, self.loss_fn, steps=stage_steps
                    )
                    loss = check_scalar_loss(
                        self.loss_fn(prediction, task.query_y), "the query loss"
                    )
                    losses[stage].append(float(loss.item()))
                    if classify:
                        accuracies[stage].append(accuracy(prediction, task.query_y))
        finally:
            with torch.no_grad():
                for name, buffer in self.maml.named_buffers():
                    buffer.copy_(buffers[name])
            self.maml.train(was_training)
        return TaskEvaluation(
            pre_loss=losses["pre"],
            post_loss=losses["post"],
            pre_accuracy=accuracies["pre"] if classify else None,
            post_accuracy=accuracies["post"] if classify else None,
        )

    def evaluate(self, tasks: Sequence[Task]) -> float:
        """Adapt to each task and return the mean post-adaptation query loss.

        Adaptation still requires gradients (the inner loop), but the reported loss is
        detached, no meta-update is made, and the module's parameters, gradients and
        buffers are left unchanged. See
        [`evaluate_tasks`][meta_train.MetaTrainer.evaluate_tasks] for per-task values and
        accuracy.

        Args:
            tasks: Evaluation tasks (at least one).

        Returns:
            The mean post-adaptation query loss.

        Raises:
            TypeError: If ``tasks`` is not a sequence of [`Task`][meta_tasks.Task].
            ValueError: If ``tasks`` is empty or ``loss_fn`` does not return a scalar.
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

        Training continues from ``iteration`` (e.g. after
        [`load_checkpoint`][meta_train.MetaTrainer.load_checkpoint]), and the returned history
        covers the whole run so far. Each meta-update samples
        ``meta_batch_size`` tasks (under ``torch.distributed``: this rank's share of them,
        ``meta_batch_size // world_size`` plus one for the first ``meta_batch_size %
        world_size`` ranks).

        Args:
            num_iterations: Number of meta-updates to make now (``>= 0``).
            meta_batch_size: Tasks per meta-update (``>= 1``).
            eval_every: Evaluate on ``eval_tasks`` whenever ``iteration`` is a multiple of
                this. Requires ``eval_tasks``.
            eval_tasks: Held-out tasks. Without ``eval_every`` they are evaluated once, after
                the last meta-update.
            callback: ``callback(iteration, meta_loss)`` after every meta-update.
            checkpoint_every: Save a checkpoint whenever ``iteration`` is a multiple of
                this, and after the last meta-update. Requires ``checkpoint_path``.
            checkpoint_path: Where [`save_checkpoint`][meta_train.MetaTrainer.save_checkpoint]
                writes; without ``checkpoint_every``, once after the last meta-update. Only
                rank 0 writes.

        Returns:
            ``history``, the trainer's record of every meta-update and evaluation.

        Raises:
            ValueError: If a count is not a positive int (``num_iterations`` may be 0),
                ``eval_every`` is given without ``eval_tasks``, ``checkpoint_every`` without
                ``checkpoint_path``, or ``meta_batch_size`` is below the world size.
        """
        check_non_negative_int(num_iterations, "num_iterations")
        check_non_negative_int(meta_batch_size, "meta_batch_size", minimum=1)
        for name, every in (("eval_every", eval_every), ("checkpoint_every", checkpoint_every)):
            if every is not None:
                check_non_negative_int(every, name, minimum=1)
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
                totals = self._meta_step(tasks)
                loss = totals.mean_loss
                self.iteration += 1
                self.history.meta_loss.append(loss)
                if totals.mean_accuracy is not None:
                    self.history.meta_accuracy.append(totals.mean_accuracy)
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
            iteration counter), the optimizer's and scheduler's state, ``history`` as
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
        """Restore a [`state_dict`][meta_train.MetaTrainer.state_dict] (see `load_checkpoint`).

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
        """Save [`state_dict`][meta_train.MetaTrainer.state_dict] to ``path`` atomically.

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
        """Resume from a checkpoint written by `save_checkpoint`.

        Loads with ``torch.load(weights_only=True)`` and restores the module, optimizer,
        scheduler, history, iteration and RNG states, so continuing
        [`fit`][meta_train.MetaTrainer.fit] reproduces the uninterrupted run exactly (same
        sampler, same settings).

        Args:
            path: The checkpoint.

        Raises:
            FileNotFoundError: If ``path`` does not exist.
            ValueError: If it is not a meta-train checkpoint, or see
                [`load_state_dict`][meta_train.MetaTrainer.load_state_dict].
        """
        self.load_state_dict(load_checkpoint_file(path))
