"""`MetaTrainer`: meta-updates, evaluation, fitting, distributed averaging and checkpoints."""

from __future__ import annotations

import math
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, Literal

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
    RANK_RNG_SECTION,
    CheckedState,
    capture_rng_state,
    check_checkpoint_path,
    check_trainer_state,
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

#: What a meta-update with a NaN or infinite meta-loss or meta-gradient does.
OnNonFinite = Literal["raise", "skip"]
_ON_NONFINITE = ("raise", "skip")


class NonFiniteError(ValueError):
    """A NaN or infinite meta-loss, meta-gradient or parameter stopped meta-training.

    [`MetaTrainer`][meta_train.MetaTrainer] raises it before the optimizer step, so the
    parameters, the optimizer state and the last checkpoint on disk stay as they were after
    the previous meta-update; it also refuses to save a checkpoint whose parameters are not
    finite.

    Args:
        iteration: The meta-update (counted from 1) that met the value.
        quantity: What was not finite, e.g. ``"meta-loss"`` or
            ``"meta-gradient of 'module.0.weight'"``.
        detail: The rest of the message: the values found and what was kept.
        remedies: What could avoid it, as keys of ``PYTHON_REMEDIES`` (``"learning_rates"``,
            ``"meta_lr"``, ``"grad_clip"``, ``"skip"``), worded at the end of the message.

    Attributes:
        iteration: As given.
        quantity: As given.
        detail: As given.
        remedies: As given.

    Examples:
        >>> error = NonFiniteError(3, "meta-loss", "it is nan")
        >>> str(error)
        'non-finite meta-loss at meta-iteration 3: it is nan'
        >>> isinstance(error, ValueError), error.iteration
        (True, 3)
    """

    def __init__(
        self, iteration: int, quantity: str, detail: str, remedies: tuple[str, ...] = ()
    ) -> None:
        message = f"non-finite {quantity} at meta-iteration {iteration}: {detail}"
        if remedies:
            message += f"; {describe_remedies(remedies, PYTHON_REMEDIES)}"
        super().__init__(message)
        self.iteration = iteration
        self.quantity = quantity
        self.detail = detail
        self.remedies = remedies

    def __reduce__(
        self,
    ) -> tuple[type[NonFiniteError], tuple[int, str, str, tuple[str, ...]]]:
        # Rebuild from the fields, so the error survives pickling (multiprocessing).
        return type(self), (self.iteration, self.quantity, self.detail, self.remedies)


#: How the remedies a [`NonFiniteError`][meta_train.NonFiniteError] suggests read in Python;
#: the CLI words them as its flags.
PYTHON_REMEDIES: Mapping[str, str] = {
    "learning_rates": "lower the learning rates",
    "meta_lr": "lower the meta learning rate",
    "grad_clip": "set grad_clip",
    "skip": "pass on_nonfinite='skip' to skip such updates",
}


def describe_remedies(remedies: Sequence[str], wording: Mapping[str, str]) -> str:
    """``"a, b, or c"`` from the remedies' keys, each worded by ``wording``."""
    words = [wording[remedy] for remedy in remedies]
    if len(words) < 3:
        return " or ".join(words)
    return f"{', '.join(words[:-1])}, or {words[-1]}"


def _describe_nonfinite(values: Tensor) -> str:
    """``'3 of 40 entries are nan/inf'``-style summary of a tensor with non-finite entries."""
    bad = ~torch.isfinite(values)
    kinds = [
        kind
        for kind, present in (
            ("nan", torch.isnan(values).any()),
            ("inf", torch.isinf(values).any()),
        )
        if present
    ]
    return f"{int(bad.sum())} of {values.numel()} entries are {'/'.join(kinds)}"


def _first_nonfinite(named: Sequence[tuple[str, Tensor]]) -> tuple[str, Tensor] | None:
    """The first ``(name, tensor)`` with a non-finite entry, found with one device sync."""
    if not named:
        return None
    finite = torch.stack([torch.isfinite(tensor).all() for _, tensor in named])
    if bool(finite.all()):
        return None
    return named[int((~finite).nonzero()[0])]


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


def _rank_and_world_size() -> tuple[int, int]:
    """``(rank, world_size)`` under ``torch.distributed``, else ``(0, 1)``."""
    if not _distributed():
        return 0, 1
    return dist.get_rank(), dist.get_world_size()


def _gather_by_rank(value: dict[str, Any]) -> list[dict[str, Any]]:
    """Every rank's ``value``, a list by rank (a collective: every rank must call it)."""
    gathered: list[Any] = [None] * dist.get_world_size()
    dist.all_gather_object(gathered, value)
    return gathered


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
    ``B`` tasks (uneven shares are weighted by their task counts). Give each rank its own
    tasks: seed each rank's task sampler differently, or let every rank draw the whole
    meta-batch from identically seeded samplers and keep its own share (what ``meta-train``
    does under ``torchrun``, so that its runs equal one process's). Every rank evaluates all
    ``eval_tasks``; only rank 0 shows a progress bar and writes checkpoints, which hold every
    rank's RNG states, so that a run resumed with the same world size continues exactly on
    every rank. ``state_dict`` and ``save_checkpoint`` gather those states: every rank must
    call them.

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
        on_nonfinite: What a meta-update whose meta-loss or meta-gradient holds NaN or inf
            does: ``"raise"`` stops with a [`NonFiniteError`][meta_train.NonFiniteError]
            naming the iteration and the loss or parameter, before the optimizer step (so the
            parameters and the last checkpoint stay finite); ``"skip"`` makes no optimizer or
            scheduler step and no ``advance_iteration``, drops the gradients, and records the
            iteration in ``history.skipped``. Parameters that a finite step makes non-finite
            raise in both modes.
        scheduler: Optional learning-rate scheduler, stepped after every meta-update.
        progress: Show a tqdm progress bar in [`fit`][meta_train.MetaTrainer.fit]: it/s, time
            left and [`History.progress_fields`][meta_train.History.progress_fields] (the
            meta-loss, accuracy and the last evaluation's loss and accuracy); ``None`` shows
            it only when stderr is a terminal.
        device: Device for the tasks; ``None`` uses the device of ``maml``'s parameters.
        compile: ``True`` or a dict of `torch.compile` keyword arguments hands this to the
            algorithm's ``set_compile`` (see [`MAML.set_compile`][meta_algos.MAML.set_compile]),
            which compiles its meta-gradient; ``False`` leaves the algorithm's own setting
            (its ``compile`` constructor argument). Recorded as ``compile``; the compile time
            paid so far is [`compile_seconds`][meta_train.MetaTrainer.compile_seconds].
        task_chunk: With ``batched=True``, sets the algorithm's ``task_chunk`` (see
            [`MAML.task_chunk`][meta_algos.MAML.task_chunk]): the tasks of a meta-update are
            vectorised and back-propagated this many at a time, which bounds the memory of
            the batched path; ``None`` leaves the algorithm's own setting. Recorded as
            ``task_chunk``.

    Raises:
        TypeError: If ``maml`` does not implement [`MetaAlgorithm`][meta_algos.MetaAlgorithm]
            or is not a module, ``meta_optimizer`` is not a ``torch.optim.Optimizer``,
            ``loss_fn`` is not callable, ``task_sampler`` has no ``sample`` method, or
            ``batched``/``progress`` is not a bool (``progress`` may be ``None``), or
            ``compile`` is on for an algorithm without ``set_compile`` or is neither a bool
            nor a dict, or ``task_chunk`` is given for an algorithm without ``task_chunk``.
        ValueError: If ``grad_clip`` is not positive, ``on_nonfinite`` is not ``"raise"``
            or ``"skip"``, or ``task_chunk`` is given without ``batched=True`` or is not a
            positive int.

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
        on_nonfinite: OnNonFinite = "raise",
        scheduler: torch.optim.lr_scheduler.LRScheduler | None = None,
        progress: bool | None = None,
        device: torch.device | str | None = None,
        compile: bool | dict[str, Any] = False,
        task_chunk: int | None = None,
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
        if not (isinstance(on_nonfinite, str) and on_nonfinite in _ON_NONFINITE):
            raise ValueError(
                f"on_nonfinite must be 'raise' (stop the run) or 'skip' (skip the meta-update), "
                f"got {on_nonfinite!r}"
            )
        self.maml = maml
        self.meta_optimizer = meta_optimizer
        self.loss_fn = loss_fn
        self.task_sampler = task_sampler
        self.batched = check_flag(batched, "batched")
        self.grad_clip = None if grad_clip is None else float(grad_clip)
        self.on_nonfinite: OnNonFinite = on_nonfinite
        self.scheduler = scheduler
        self.progress = None if progress is None else check_flag(progress, "progress")
        if device is None:
            first = next(maml.parameters(), None)
            device = first.device if first is not None else torch.device("cpu")
        self.device = torch.device(device)
        self.history = History()
        self.iteration = 0
        self.compile = compile
        if compile is not False:
            set_compile = getattr(maml, "set_compile", None)
            if not callable(set_compile):
                raise TypeError(
                    f"compile={compile!r} needs an algorithm with set_compile(compile) (e.g. a "
                    f"meta_algos.MAML); {type(maml).__name__} has none - pass compile=False"
                )
            set_compile(compile)
        self.task_chunk = task_chunk
        if task_chunk is not None:
            self._set_task_chunk(task_chunk)

    def _set_task_chunk(self, task_chunk: int) -> None:
        if not self.batched:
            raise ValueError(
                f"task_chunk={task_chunk!r} chunks the batched path; pass batched=True as well "
                "(the per-task loop already back-propagates one task at a time)"
            )
        if not hasattr(self.maml, "task_chunk"):
            raise TypeError(
                f"task_chunk={task_chunk!r} needs an algorithm with a task_chunk attribute (e.g. "
                f"a meta_algos.MAML); {type(self.maml).__name__} has none - pass task_chunk=None"
            )
        self.maml.task_chunk = task_chunk

    @property
    def compile_seconds(self) -> float:
        """The algorithm's compile time so far (its ``compile_seconds``; 0.0 without one)."""
        return float(getattr(self.maml, "compile_seconds", 0.0))

    # ------------------------------------------------------------------ helpers
    @property
    def _generator(self) -> torch.Generator | None:
        generator = getattr(self.task_sampler, "generator", None)
        return generator if isinstance(generator, torch.Generator) else None

    def _named_parameters(self) -> list[tuple[str, Tensor]]:
        """``(name, parameter)`` pairs for messages; by position if ``maml`` is no module."""
        algorithm: object = self.maml  # the protocol does not promise a module
        if isinstance(algorithm, torch.nn.Module):
            return list(algorithm.named_parameters())
        return [
            (f"parameter #{index}", param) for index, param in enumerate(self.maml.parameters())
        ]

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
            The mean post-adaptation query loss (before the update); with
            ``on_nonfinite="skip"``, a NaN or inf loss of a skipped update.

        Raises:
            TypeError: If ``tasks`` is not a sequence of [`Task`][meta_tasks.Task].
            ValueError: If ``tasks`` is empty, or the algorithm's
                [`MetaGradient`][meta_algos.MetaGradient] does not hold one loss and one
                prediction per task.
            NonFiniteError: If the meta-loss or meta-gradient is not finite and
                ``on_nonfinite="raise"``, or the step made a parameter non-finite.
        """
        return self._meta_step(self._prepare(tasks, "meta_step"))[0].mean_loss

    def _meta_step(self, tasks: list[Task]) -> tuple[_StepTotals, bool]:
        """One meta-update: ``(totals, skipped)``, ``skipped`` when it was not finite."""
        self.maml.train()
        named = self._named_parameters()
        params = [param for _, param in named]
        for param in params:
            param.grad = None
        result = self.maml.meta_gradient(tasks, self.loss_fn, batched=self.batched)
        totals = _reduce_across_ranks(self._local_totals(tasks, result), params, self.device)
        # Checked after the reduction, so every rank sees the same values and decides alike.
        problem = self._nonfinite_update(totals, result.losses, named)
        if problem is not None:
            if self.on_nonfinite == "raise":
                raise NonFiniteError(
                    self.iteration + 1, *problem, ("learning_rates", "grad_clip", "skip")
                )
            for param in params:
                param.grad = None
            return totals, True
        if self.grad_clip is not None:
            torch.nn.utils.clip_grad_norm_(params, self.grad_clip)
        self.meta_optimizer.step()
        broken = _first_nonfinite([(name, param.detach()) for name, param in named])
        if broken is not None:
            raise NonFiniteError(
                self.iteration + 1,
                f"parameter {broken[0]!r}",
                f"{_describe_nonfinite(broken[1])} after an optimizer step with a finite "
                "meta-gradient (the last checkpoint was not overwritten)",
                ("meta_lr", "grad_clip"),
            )
        if self.scheduler is not None:
            self.scheduler.step()
        self.maml.advance_iteration()
        return totals, False

    def _nonfinite_update(
        self, totals: _StepTotals, losses: Tensor, named: Sequence[tuple[str, Tensor]]
    ) -> tuple[str, str] | None:
        """``(quantity, detail)`` of a NaN or inf meta-loss or meta-gradient, else ``None``."""
        kept = "no optimizer step was made and the last checkpoint was not overwritten"
        if not math.isfinite(totals.loss):
            bad = [index for index, value in enumerate(losses.tolist()) if not math.isfinite(value)]
            where = (
                f"the meta-objectives of tasks {bad} are not finite" if bad else "from another rank"
            )
            return "meta-loss", f"it is {totals.mean_loss} ({where}); {kept}"
        grads = [(name, param.grad) for name, param in named if param.grad is not None]
        broken = _first_nonfinite(grads)
        if broken is None:
            return None
        name, grad = broken
        return f"meta-gradient of {name!r}", f"{_describe_nonfinite(grad)}; {kept}"

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

    def _record_evaluation(self, tasks: Sequence[Task]) -> None:
        result = self.evaluate_tasks(tasks)
        mean_loss = sum(result.post_loss) / len(result.post_loss)
        self.history.eval_loss.append((self.iteration, mean_loss))
        if result.post_accuracy is not None:
            value = sum(result.post_accuracy) / len(result.post_accuracy)
            self.history.eval_accuracy.append((self.iteration, value))

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
                writes; without ``checkpoint_every``, once after the last meta-update. Every
                rank gathers its RNG states into it; only rank 0 writes.

        Returns:
            ``history``, the trainer's record of every meta-update and evaluation.

        Raises:
            ValueError: If a count is not a positive int (``num_iterations`` may be 0),
                ``eval_every`` is given without ``eval_tasks``, ``checkpoint_every`` without
                ``checkpoint_path``, or ``meta_batch_size`` is below the world size.
            CheckpointError: If ``checkpoint_path`` cannot be written (checked before the
                first meta-update; its directory is created if missing).
            NonFiniteError: If a meta-update is not finite (see ``on_nonfinite``); the
                checkpoint file keeps the last finite state.
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
        if checkpoint_path is not None and is_writer:
            check_checkpoint_path(checkpoint_path)
        bar = self._progress_bar(num_iterations)
        try:
            for step in range(num_iterations):
                tasks = self._prepare(self.task_sampler.sample(local_batch), "task_sampler.sample")
                totals, skipped = self._meta_step(tasks)
                loss = totals.mean_loss
                self.iteration += 1
                self.history.meta_loss.append(loss)
                if skipped:
                    self.history.skipped.append(self.iteration)
                if totals.mean_accuracy is not None:
                    self.history.meta_accuracy.append(totals.mean_accuracy)
                last = step == num_iterations - 1
                if eval_tasks is not None and (
                    (eval_every is not None and self.iteration % eval_every == 0)
                    or (eval_every is None and last)
                ):
                    self._record_evaluation(eval_tasks)
                if callback is not None:
                    callback(self.iteration, loss)
                periodic = checkpoint_every is not None and self.iteration % checkpoint_every == 0
                if checkpoint_path is not None and (last or periodic):
                    self.save_checkpoint(checkpoint_path)
                if bar is not None:
                    bar.set_postfix(self.history.progress_fields(), refresh=False)
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

        Under ``torch.distributed`` with more than one rank this is a collective: every rank
        must call it, and each gets every rank's RNG states.

        Returns:
            ``{"format", "iteration", "module", "meta_optimizer", "scheduler", "history",
            "rng"}``: the meta-learner's ``state_dict`` (parameters, learned rates and its
            iteration counter), the optimizer's and scheduler's state, ``history`` as
            plain lists and every RNG state (torch CPU and CUDA, Python ``random``, the
            task sampler's generator). With a world size above 1, ``"rng"`` holds rank 0's
            states and ``"rng_by_rank"`` every rank's, a list by rank.
        """
        state: dict[str, Any] = {
            "format": CHECKPOINT_FORMAT,
            "iteration": self.iteration,
            "module": self.maml.state_dict(),
            "meta_optimizer": self.meta_optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict() if self.scheduler is not None else None,
            "history": self.history.to_dict(),
            "rng": capture_rng_state(self._generator),
        }
        if _rank_and_world_size()[1] > 1:
            by_rank = _gather_by_rank(state["rng"])
            state["rng"] = by_rank[0]
            state[RANK_RNG_SECTION] = by_rank
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore a [`state_dict`][meta_train.MetaTrainer.state_dict] (see `load_checkpoint`).

        Every section is checked against this trainer first; only when all fit is any state
        changed, so a refused state leaves the trainer exactly as it was.

        Args:
            state: The saved state.

        Raises:
            CheckpointError: If a section is missing or malformed, the module state has other
                keys or shapes (another architecture), the optimizer state is of another
                optimizer type or parameter-group layout, the scheduler state is of another
                schedule, the state has a scheduler but the trainer has none (or the other
                way round), the sampler RNG states disagree, or the state was saved by a run
                of another world size (each rank restores its own RNG states).
        """
        self._restore(self._check_state(state, "state"))

    def _check_state(self, state: object, source: str) -> CheckedState:
        rank, world_size = _rank_and_world_size()
        return check_trainer_state(
            state,
            module=self.maml,
            optimizer=self.meta_optimizer,
            scheduler=self.scheduler,
            generator=self._generator,
            source=source,
            rank=rank,
            world_size=world_size,
        )

    def _restore(self, checked: CheckedState) -> None:
        self.maml.load_state_dict(checked.module)
        self.meta_optimizer.load_state_dict(checked.meta_optimizer)
        if self.scheduler is not None and checked.scheduler is not None:
            self.scheduler.load_state_dict(checked.scheduler)
        self.history = checked.history
        self.iteration = checked.iteration
        restore_rng_state(checked.rng, self._generator)

    def save_checkpoint(self, path: PathLike) -> Path:
        """Save [`state_dict`][meta_train.MetaTrainer.state_dict] to ``path`` atomically.

        The checkpoint is written to a temp file in the same directory and renamed over
        ``path`` only once complete, so a crash or a failed write never destroys the
        previous checkpoint. Under ``torch.distributed`` every rank must call it (it gathers
        every rank's RNG states); rank 0 alone writes.

        Args:
            path: Destination file (its directory is created if missing).

        Returns:
            The path written (on ranks other than 0: the path rank 0 writes).

        Raises:
            NonFiniteError: If a floating-point entry of the module's state (a parameter or
                buffer) is NaN or inf; ``path`` is left as it was.
        """
        state = self.state_dict()
        floating = [
            (name, value)
            for name, value in state["module"].items()
            if isinstance(value, Tensor) and value.is_floating_point()
        ]
        broken = _first_nonfinite(floating)
        if broken is not None:
            raise NonFiniteError(
                self.iteration,
                f"parameter {broken[0]!r}",
                f"{_describe_nonfinite(broken[1])}; refusing to save a checkpoint to "
                f"{str(path)!r}, which is left as it was",
            )
        if _rank_and_world_size()[0] != 0:
            return Path(path)
        return save_checkpoint_file(path, state)

    def load_checkpoint(self, path: PathLike) -> None:
        """Resume from a checkpoint written by `save_checkpoint`.

        Loads with ``torch.load(weights_only=True)`` and restores the module, optimizer,
        scheduler, history, iteration and RNG states, so continuing
        [`fit`][meta_train.MetaTrainer.fit] reproduces the uninterrupted run exactly (same
        sampler, same settings). Under ``torch.distributed`` every rank loads the file and
        restores its own RNG states; the checkpoint must come from a run of the same world
        size.

        Nothing is changed unless the whole checkpoint fits this trainer, so a refused file
        leaves the trainer exactly as it was.

        Args:
            path: The checkpoint.

        Raises:
            FileNotFoundError: If ``path`` does not exist.
            CheckpointError: If the file is empty, truncated, not a meta-train checkpoint, was
                saved by a run of another world size, or does not fit this trainer (see
                [`load_state_dict`][meta_train.MetaTrainer.load_state_dict]); the message
                names the file, what it holds and the mismatching keys.
        """
        self._restore(self._check_state(load_checkpoint_file(path), f"checkpoint {str(path)!r}"))
