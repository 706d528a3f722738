"""`MetaLightningModule`: any meta-* algorithm as a ``LightningModule``."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import lightning as L
import torch
from meta_algos import LossFn, MetaAlgorithm
from meta_functional.checks import check_non_negative_int
from meta_tasks import Task, TaskSampler
from torch import nn

from .._trainer import MetaTrainer, OnNonFinite, TaskEvaluation

#: Builds a learning-rate schedule of the meta-optimizer, or ``None`` for a constant rate.
ScheduleBuilder = Callable[[torch.optim.Optimizer], torch.optim.lr_scheduler.LRScheduler | None]

#: The names the metrics are logged under; ``meta-train``'s TensorBoard logs use the same.
TRAIN_LOSS = "train/meta_loss"
TRAIN_ACCURACY = "train/accuracy"


class _LightningFeeds:
    """The task source of a `MetaLightningModule`'s trainer: Lightning's dataloaders.

    The module hands each batch Lightning delivers to the trainer's meta-update and
    evaluation; the trainer's own sampling loop (``MetaTrainer.fit``) is not used, so asking
    this source for tasks is a mistake that names the way to train.
    """

    def sample(self, meta_batch_size: int) -> list[Task]:
        raise RuntimeError(
            "a MetaLightningModule gets its tasks from Lightning's dataloaders: train it with "
            f"lightning.Trainer.fit (asked for {meta_batch_size} tasks)"
        )


def _usable(task: Task) -> Task:
    """``task`` with copies of tensors made under ``torch.inference_mode``.

    Lightning evaluates under inference mode; such tensors cannot take part in the inner
    loop's autograd graph, so they are copied (with inference mode off) first.
    """
    fields = (task.support_x, task.support_y, task.query_x, task.query_y)
    if not any(tensor.is_inference() for tensor in fields):
        return task
    return Task(*(tensor.clone() for tensor in fields))


class MetaLightningModule(L.LightningModule):
    """Any [`MetaAlgorithm`][meta_algos.MetaAlgorithm] as a ``lightning.LightningModule``.

    Lightning owns the loop; the module owns a [`MetaTrainer`][meta_train.MetaTrainer]
    (``engine``) and calls its meta-update and evaluation, so both engines compute the same:

    * ``training_step`` (manual optimization) is one meta-update over the batch of tasks:
      [`meta_gradient`][meta_algos.MetaAlgorithm.meta_gradient], the one cross-rank
      reduction of ``MetaTrainer`` (weighted by task counts, so ``N`` ranks equal one process
      over the same tasks), the non-finite checks, clipping, the Adam step (through
      Lightning's optimizer, so ``trainer.global_step`` counts meta-updates), the learning
      rate schedule and ``advance_iteration``. It logs ``train/meta_loss`` and, for class
      labels, ``train/accuracy``, on the steps Lightning's loggers write
      (``Trainer(log_every_n_steps=...)``, 50 by default; ``self.log`` costs about 15 % of a
      small meta-step, so the other steps skip it).
    * ``validation_step`` / ``test_step`` adapt to each task with
      [`MetaTrainer.evaluate_tasks`][meta_train.MetaTrainer.evaluate_tasks] and log the mean
      query loss and accuracy after adaptation as ``validation/loss`` and
      ``validation/accuracy`` (``test/...``), and before adaptation as
      ``validation/pre_loss`` and ``validation/pre_accuracy``: the names ``meta-train``'s
      TensorBoard logs use.

    A meta-update that ``on_nonfinite="skip"`` skips makes no optimizer step, so
    ``trainer.global_step`` does not count it. A checkpoint saved after a step (e.g. by
    ``ModelCheckpoint(every_n_train_steps=...)``, whose notice about "pre-optimization state"
    concerns other modules) holds the state after that meta-update, with the position in the task
    streams, so ``trainer.fit(..., ckpt_path=...)`` continues exactly.

    ``precision="bf16-mixed"`` runs the inner and outer loop under autocast (second-order
    steps included); ``"16-mixed"`` is refused, since its gradient scaler expects the loss to
    be scaled in ``manual_backward``, which the algorithm's own ``meta_gradient`` does not do.

    Under Lightning's ``DDPStrategy`` the meta-gradient is reduced by ``MetaTrainer``'s
    reduction alone: with manual optimization DDP averages gradients only in
    ``manual_backward``, which this module never calls (DDP still broadcasts rank 0's buffers
    before each step, as it always does).

    Args:
        algorithm: The meta-learner, an ``nn.Module`` that implements
            [`MetaAlgorithm`][meta_algos.MetaAlgorithm] (e.g. [`MAML`][meta_algos.MAML]);
            it becomes the submodule ``algorithm``.
        loss_fn: ``loss_fn(prediction, target) -> scalar`` for support and query sets.
        meta_lr: Adam's learning rate (``meta-train --meta-lr``).
        scheduler_step: If set, multiply the learning rate by ``scheduler_decay`` every
            ``scheduler_step`` meta-updates (``torch.optim.lr_scheduler.StepLR``).
        scheduler_decay: The factor of that schedule.
        scheduler: Instead of ``scheduler_step``, a function that builds the schedule from
            the Adam optimizer (``meta-train``'s ``--meta-lr-schedule`` passes its builder,
            the one the native engine uses), stepped after every meta-update.
        batched: Adapt all tasks of a meta-update in one ``vmap`` pass (see
            [`MetaTrainer`][meta_train.MetaTrainer]).
        grad_clip: Clip the meta-gradient to this L2 norm before each step.
        on_nonfinite: ``"raise"`` or ``"skip"`` a meta-update whose loss or gradient is not
            finite (see [`MetaTrainer`][meta_train.MetaTrainer]).
        eval_steps: Inner steps when evaluating; ``None`` uses the algorithm's default.

    Attributes:
        algorithm: As given.
        loss_fn: As given.
        engine: The [`MetaTrainer`][meta_train.MetaTrainer] whose meta-update and evaluation
            the steps call.
        eval_steps: As given.

    Raises:
        TypeError: If ``algorithm`` is not an ``nn.Module`` implementing the protocol, or
            another argument has the wrong type (see ``MetaTrainer``).
        ValueError: If ``meta_lr`` is not positive, a count is not a positive int,
            ``scheduler_decay`` is not positive, or both ``scheduler_step`` and
            ``scheduler`` are given.

    Examples:
        >>> import lightning as L, torch, torch.nn.functional as F
        >>> from meta_algos import MAML
        >>> from meta_nn import MLP
        >>> from meta_tasks import SinusoidTaskSampler
        >>> from meta_train.lightning import MetaDataModule
        >>> module = MetaLightningModule(MAML(MLP([1, 40, 40, 1]), inner_lr=0.01), F.mse_loss)
        >>> data = MetaDataModule(SinusoidTaskSampler(), SinusoidTaskSampler(seed=1).sample(4),
        ...                       meta_batch_size=4, epoch_length=3)
        >>> trainer = L.Trainer(max_epochs=2, logger=False, enable_checkpointing=False,
        ...                     enable_progress_bar=False, enable_model_summary=False)
        >>> trainer.fit(module, data)
        >>> trainer.global_step
        6
    """

    def __init__(
        self,
        algorithm: MetaAlgorithm,
        loss_fn: LossFn,
        *,
        meta_lr: float = 1e-3,
        scheduler_step: int | None = None,
        scheduler_decay: float = 1.0,
        scheduler: ScheduleBuilder | None = None,
        batched: bool = False,
        grad_clip: float | None = None,
        on_nonfinite: OnNonFinite = "raise",
        eval_steps: int | None = None,
    ) -> None:
        super().__init__()
        self.automatic_optimization = False
        if not isinstance(algorithm, nn.Module):
            raise TypeError(
                f"algorithm must be an nn.Module implementing meta_algos.MetaAlgorithm, "
                f"got {type(algorithm).__name__}"
            )
        if isinstance(meta_lr, bool) or not isinstance(meta_lr, int | float) or meta_lr <= 0:
            raise ValueError(f"meta_lr must be a positive number, got {meta_lr!r}")
        self.algorithm = algorithm
        self.loss_fn = loss_fn
        self.eval_steps = (
            None if eval_steps is None else check_non_negative_int(eval_steps, "eval_steps")
        )
        self._optimizer = torch.optim.Adam(algorithm.parameters(), lr=float(meta_lr))
        self._scheduler: torch.optim.lr_scheduler.LRScheduler | None = _step_schedule(
            self._optimizer, scheduler_step, scheduler_decay
        )
        if scheduler is not None:
            if self._scheduler is not None:
                raise ValueError(
                    f"give scheduler_step ({scheduler_step}) or scheduler, not both: the meta "
                    f"learning rate follows one schedule"
                )
            self._scheduler = scheduler(self._optimizer)
        feeds: TaskSampler = _LightningFeeds()
        self.engine: MetaTrainer[MetaAlgorithm] = MetaTrainer(
            algorithm,
            self._optimizer,
            loss_fn,
            feeds,
            batched=batched,
            grad_clip=grad_clip,
            on_nonfinite=on_nonfinite,
            scheduler=self._scheduler,
            progress=False,
        )

    # ---------------------------------------------------------------- optimizers
    def configure_optimizers(self) -> Any:
        """Adam over the algorithm's parameters, and its schedule if any.

        Returns:
            The optimizer, or ``{"optimizer", "lr_scheduler"}``; Lightning checkpoints both.
        """
        if self._scheduler is None:
            return self._optimizer
        return {"optimizer": self._optimizer, "lr_scheduler": self._scheduler}

    # ------------------------------------------------------------------ training
    def on_fit_start(self) -> None:
        """Refuse a gradient scaler (``precision="16-mixed"``): it would unscale unscaled grads.

        Raises:
            ValueError: If the trainer's precision plugin has a gradient scaler.
        """
        if getattr(self.trainer.precision_plugin, "scaler", None) is not None:
            raise ValueError(
                "MetaLightningModule cannot train with a gradient scaler (precision='16-mixed'): "
                "meta_gradient computes the meta-gradient itself, unscaled, so the scaler's "
                "step would divide it by the loss scale; use precision='bf16-mixed' or '32-true'"
            )

    def training_step(self, batch: Sequence[Task], batch_idx: int) -> None:
        """One meta-update over ``batch`` (this rank's tasks); logs loss and accuracy.

        Raises:
            NonFiniteError: If the meta-update is not finite and ``on_nonfinite="raise"``.
        """
        engine = self.engine
        engine.meta_optimizer = self._lightning_optimizer()
        engine.device = self.device
        engine.iteration = self.trainer.global_step
        totals, _ = engine._meta_step(engine._prepare(batch, "training_step"))
        if not self._loggers_write_this_step():
            return
        self.log(TRAIN_LOSS, totals.mean_loss, prog_bar=True, batch_size=totals.tasks)
        if totals.mean_accuracy is not None:
            self.log(TRAIN_ACCURACY, totals.mean_accuracy, prog_bar=True, batch_size=totals.tasks)

    def _loggers_write_this_step(self) -> bool:
        """Whether Lightning's loggers write this step's metrics (every ``log_every_n_steps``).

        ``self.log`` costs about 0.2 ms a call, 15 % of a small meta-step, so the training
        metrics are handed to Lightning only on the steps its loggers record; the progress
        bar shows them from those steps. Without that information (another Lightning
        version) every step logs.
        """
        connector = getattr(self.trainer, "_logger_connector", None)
        return bool(getattr(connector, "should_update_logs", True))

    def _lightning_optimizer(self) -> torch.optim.Optimizer:
        """Lightning's wrapper of the Adam optimizer (an instance of its class)."""
        optimizer = self.optimizers()
        if not isinstance(optimizer, torch.optim.Optimizer):
            raise TypeError(f"expected one optimizer, got {type(optimizer).__name__}")
        return optimizer

    # ---------------------------------------------------------------- evaluation
    def validation_step(self, batch: Sequence[Task], batch_idx: int) -> None:
        """Adapt to each task and log ``validation/...`` loss and accuracy."""
        self._log_evaluation("validation", self._evaluate(batch), len(batch))

    def test_step(self, batch: Sequence[Task], batch_idx: int) -> None:
        """Adapt to each task and log ``test/...`` loss and accuracy."""
        self._log_evaluation("test", self._evaluate(batch), len(batch))

    def _evaluate(self, batch: Sequence[Task]) -> TaskEvaluation:
        self.engine.device = self.device
        with torch.inference_mode(False), torch.enable_grad():
            tasks = [_usable(task) for task in batch]
            return self.engine.evaluate_tasks(tasks, steps=self.eval_steps)

    def _log_evaluation(self, stage: str, result: TaskEvaluation, tasks: int) -> None:
        for name, values in (
            ("loss", result.post_loss),
            ("accuracy", result.post_accuracy),
            ("pre_loss", result.pre_loss),
            ("pre_accuracy", result.pre_accuracy),
        ):
            if values is not None:
                # Every rank evaluates the same tasks: syncing averages equal values.
                mean = sum(values) / len(values)
                self.log(f"{stage}/{name}", mean, batch_size=tasks, sync_dist=True)


def _step_schedule(
    optimizer: torch.optim.Optimizer, step: int | None, decay: float
) -> torch.optim.lr_scheduler.StepLR | None:
    if isinstance(decay, bool) or not isinstance(decay, int | float) or decay <= 0:
        raise ValueError(f"scheduler_decay must be a positive number, got {decay!r}")
    if step is None:
        return None
    step = check_non_negative_int(step, "scheduler_step", minimum=1)
    return torch.optim.lr_scheduler.StepLR(optimizer, step_size=step, gamma=float(decay))
