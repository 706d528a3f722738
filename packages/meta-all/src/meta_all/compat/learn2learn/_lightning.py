"""learn2learn's Lightning names on Lightning 2, as shells over `meta_train.lightning`.

``LightningEpisodicModule``, ``LightningMAML``, ``LightningANIL``,
``LightningPrototypicalNetworks`` and ``LightningMetaOptNet`` (``l2l.algorithms``) and
``EpisodicBatcher`` (``l2l.utils.lightning``) keep learn2learn's constructor arguments and
defaults; the loop is [`MetaLightningModule`][meta_train.lightning.MetaLightningModule]'s, so
a training step is one meta-update through [`MetaTrainer`][meta_train.MetaTrainer]'s own
code. Needs ``pip install "meta-train[lightning]"``.

Differences from learn2learn: metrics are logged under meta-*'s names (``train/meta_loss``,
``train/accuracy``, ``validation/loss``, ``validation/accuracy``, ``test/...``, and the
``pre_`` values before adaptation) instead of ``train_loss``, ``valid_accuracy``, ...;
``data_parallel`` is accepted and ignored (use Lightning's strategies); the support set of a
task is the first ``shots`` items of each label (as learn2learn's index arithmetic selects
for tasks grouped by label).
"""

from __future__ import annotations

# Imported first: without lightning, its ImportError names the extra to install.
from meta_train.lightning import MetaLightningModule

# isort: split
from collections.abc import Iterator, Mapping
from typing import Any

import lightning as L
from meta_algos import ANIL, MAML, MetaAlgorithm, MetaOptNet, ProtoNet
from meta_functional.checks import check_non_negative_int
from meta_tasks import Task, split_by_shots
from torch import Tensor, nn

#: learn2learn's episodic settings and their defaults (``LightningEpisodicModule``'s).
EPISODIC_DEFAULTS: Mapping[str, Any] = {
    "train_ways": 5,
    "train_shots": 1,
    "train_queries": 1,
    "test_ways": 5,
    "test_shots": 1,
    "test_queries": 1,
    "lr": 0.001,
    "scheduler_step": 20,
    "scheduler_decay": 1.0,
}

#: ``LightningMetaOptNet``'s SVM settings and their defaults (``SVClassifier``'s).
SVM_DEFAULTS: Mapping[str, Any] = {"svm_C_reg": 0.1, "svm_max_iters": 15}

#: ``LightningMAML``'s and ``LightningANIL``'s adaptation settings and their defaults.
ADAPTATION_DEFAULTS: Mapping[str, Any] = {"adaptation_steps": 1, "adaptation_lr": 0.1}


class LightningEpisodicModule(MetaLightningModule):
    """learn2learn's ``LightningEpisodicModule``: episodic training of a meta-algorithm.

    A batch is one task, ``[data, labels]`` as a learn2learn ``TaskDataset`` samples it;
    training splits it with ``train_shots`` support items per label (validation and test
    with ``test_shots``) and makes one meta-update on it.

    Args:
        algorithm: The meta-algorithm (e.g. a [`MAML`][meta_algos.MAML]).
        loss: The loss; default ``nn.CrossEntropyLoss()``.
        **kwargs: learn2learn's settings, with its defaults: ``train_ways=5``,
            ``train_shots=1``, ``train_queries=1``, ``test_ways=5``, ``test_shots=1``,
            ``test_queries=1``, ``lr=0.001`` (Adam's), ``scheduler_step=20``,
            ``scheduler_decay=1.0`` (a ``StepLR`` schedule). As in learn2learn, other keys
            (e.g. the Trainer's, passed with ``**vars(args)``) are ignored.

    Attributes:
        train_ways: As given (likewise every other setting).
        loss: The loss.

    Raises:
        ValueError: If a count is not a positive int (see also
            [`MetaLightningModule`][meta_train.lightning.MetaLightningModule]).

    Example:
        ```python
        import lightning as L
        import meta_all.compat.learn2learn as l2l

        tasksets = l2l.vision.benchmarks.get_tasksets("omniglot", root="data")
        model = l2l.vision.models.OmniglotCNN(5)
        maml = l2l.algorithms.LightningMAML(model, adaptation_lr=0.4)
        batcher = l2l.utils.lightning.EpisodicBatcher(
            tasksets.train, tasksets.validation, tasksets.test, epoch_length=100
        )
        trainer = L.Trainer(max_epochs=10)
        trainer.fit(maml, batcher)
        trainer.test(maml, batcher)
        ```
    """

    def __init__(
        self, algorithm: MetaAlgorithm, loss: nn.Module | None = None, **kwargs: Any
    ) -> None:
        settings = {name: kwargs.get(name, default) for name, default in EPISODIC_DEFAULTS.items()}
        for name in ("train_ways", "train_shots", "test_ways", "test_shots"):
            check_non_negative_int(settings[name], name, minimum=1)
        loss = nn.CrossEntropyLoss() if loss is None else loss
        super().__init__(
            algorithm,
            loss,
            meta_lr=settings["lr"],
            scheduler_step=settings["scheduler_step"],
            scheduler_decay=settings["scheduler_decay"],
        )
        self.loss = loss
        self.train_ways: int = settings["train_ways"]
        self.train_shots: int = settings["train_shots"]
        self.train_queries: int = settings["train_queries"]
        self.test_ways: int = settings["test_ways"]
        self.test_shots: int = settings["test_shots"]
        self.test_queries: int = settings["test_queries"]
        self.lr: float = settings["lr"]
        self.scheduler_step: int = settings["scheduler_step"]
        self.scheduler_decay: float = settings["scheduler_decay"]

    def training_step(self, batch: Any, batch_idx: int) -> None:
        """One meta-update on the task ``[data, labels]``."""
        super().training_step([self._task(batch, self.train_shots, self.train_ways)], batch_idx)

    def validation_step(self, batch: Any, batch_idx: int) -> None:
        """Adapt to the task ``[data, labels]`` and log loss and accuracy."""
        super().validation_step([self._task(batch, self.test_shots, self.test_ways)], batch_idx)

    def test_step(self, batch: Any, batch_idx: int) -> None:
        """Adapt to the task ``[data, labels]`` and log loss and accuracy."""
        super().test_step([self._task(batch, self.test_shots, self.test_ways)], batch_idx)

    @staticmethod
    def _task(batch: Any, shots: int, ways: int) -> Task:
        data, labels = batch
        return split_by_shots(data, labels, shots, ways=ways)


def _same_ways(kwargs: Mapping[str, Any], owner: str) -> None:
    train = kwargs.get("train_ways", EPISODIC_DEFAULTS["train_ways"])
    test = kwargs.get("test_ways", EPISODIC_DEFAULTS["test_ways"])
    if train != test:
        raise ValueError(
            f"For {owner}, train_ways should be equal to test_ways; got {train} and {test}"
        )


def _adaptation(kwargs: Mapping[str, Any]) -> dict[str, Any]:
    settings = {name: kwargs.get(name, default) for name, default in ADAPTATION_DEFAULTS.items()}
    return {"inner_lr": settings["adaptation_lr"], "inner_steps": settings["adaptation_steps"]}


class LightningMAML(LightningEpisodicModule):
    """learn2learn's ``LightningMAML``: [`MAML`][meta_algos.MAML] (second order) on Lightning.

    Args:
        model: The network.
        loss: The loss; default ``nn.CrossEntropyLoss()``.
        **kwargs: ``adaptation_steps=1`` and ``adaptation_lr=0.1`` (the inner loop), and the
            settings of ``LightningEpisodicModule``.

    Attributes:
        adaptation_steps: As given.
        adaptation_lr: As given.

    Raises:
        ValueError: If ``train_ways`` differs from ``test_ways`` (one output layer serves both).

    Example:
        ```python
        maml = l2l.algorithms.LightningMAML(model, adaptation_lr=0.4, adaptation_steps=1)
        L.Trainer(max_epochs=10).fit(maml, batcher)
        ```

    References:
        Finn et al. 2017, "Model-Agnostic Meta-Learning for Fast Adaptation of Deep Networks".
    """

    def __init__(self, model: nn.Module, loss: nn.Module | None = None, **kwargs: Any) -> None:
        _same_ways(kwargs, "MAML")
        inner = _adaptation(kwargs)
        super().__init__(MAML(model, **inner), loss, **kwargs)
        self.adaptation_lr: float = inner["inner_lr"]
        self.adaptation_steps: int = inner["inner_steps"]


class LightningANIL(LightningEpisodicModule):
    """learn2learn's ``LightningANIL``: [`ANIL`][meta_algos.ANIL] on Lightning.

    ``features`` and ``classifier`` are both meta-learned; only ``classifier`` adapts to each
    task.

    Args:
        features: The feature extractor.
        classifier: The head, applied to the features.
        loss: The loss; default ``nn.CrossEntropyLoss()``.
        **kwargs: As for ``LightningMAML``.

    Attributes:
        features: As given.
        classifier: As given.
        adaptation_steps: As given.
        adaptation_lr: As given.

    Raises:
        ValueError: If ``train_ways`` differs from ``test_ways``.

    Example:
        ```python
        model = l2l.vision.models.OmniglotCNN(5)
        anil = l2l.algorithms.LightningANIL(model.features, model.classifier, adaptation_lr=0.1)
        ```

    References:
        Raghu et al. 2020, "Rapid Learning or Feature Reuse? Towards Understanding the
        Effectiveness of MAML".
    """

    def __init__(
        self,
        features: nn.Module,
        classifier: nn.Module,
        loss: nn.Module | None = None,
        **kwargs: Any,
    ) -> None:
        _same_ways(kwargs, "ANIL")
        inner = _adaptation(kwargs)
        network = nn.Sequential(features, classifier)
        super().__init__(ANIL(network, classifier, **inner), loss, **kwargs)
        self.features = features
        self.classifier = classifier
        self.adaptation_lr: float = inner["inner_lr"]
        self.adaptation_steps: int = inner["inner_steps"]


class LightningPrototypicalNetworks(LightningEpisodicModule):
    """learn2learn's ``LightningPrototypicalNetworks``: [`ProtoNet`][meta_algos.ProtoNet].

    Args:
        features: The embedding network.
        loss: The loss; default ``nn.CrossEntropyLoss()``.
        **kwargs: ``distance_metric="euclidean"`` (or ``"cosine"``) and the settings of
            ``LightningEpisodicModule``; ``train_ways`` and ``test_ways`` may differ.

    Attributes:
        features: As given.
        distance_metric: As given.

    Raises:
        ValueError: If ``distance_metric`` is neither ``"euclidean"`` nor ``"cosine"``.

    Example:
        ```python
        protonet = l2l.algorithms.LightningPrototypicalNetworks(model.features, train_ways=20)
        L.Trainer(max_epochs=10).fit(protonet, batcher)
        ```

    References:
        Snell et al. 2017, "Prototypical Networks for Few-shot Learning".
    """

    def __init__(self, features: nn.Module, loss: nn.Module | None = None, **kwargs: Any) -> None:
        distance = kwargs.get("distance_metric", "euclidean")
        super().__init__(ProtoNet(features, distance=distance), loss, **kwargs)
        self.features = features
        self.distance_metric: str = distance


class LightningMetaOptNet(LightningEpisodicModule):
    """learn2learn's ``LightningMetaOptNet``: [`MetaOptNet`][meta_algos.MetaOptNet] on Lightning.

    The embedding ``features`` is meta-learned through the differentiable SVM head
    ([`SVClassifier`][meta_nn.SVClassifier]) fitted to each task's support set. Needs qpth
    (``pip install "meta-nn[svm]"``) besides the lightning extra.

    Args:
        features: The embedding network.
        loss: The loss; default ``nn.CrossEntropyLoss()``.
        **kwargs: ``svm_C_reg=0.1`` and ``svm_max_iters=15`` (the SVM's regularisation weight
            and the QP solver's iteration limit) and the settings of
            ``LightningEpisodicModule``; ``train_ways`` and ``test_ways`` may differ.

    Attributes:
        features: As given.
        svm_C_reg: As given.
        svm_max_iters: As given.

    Raises:
        ImportError: If qpth is not installed.
        ValueError: If ``svm_C_reg`` or ``svm_max_iters`` is not positive.

    Example:
        ```python
        metaoptnet = l2l.algorithms.LightningMetaOptNet(model.features, svm_C_reg=0.1)
        L.Trainer(max_epochs=10).fit(metaoptnet, batcher)
        ```

    References:
        Lee et al. 2019, "Meta-Learning with Differentiable Convex Optimization".
    """

    def __init__(self, features: nn.Module, loss: nn.Module | None = None, **kwargs: Any) -> None:
        svm = {name: kwargs.get(name, default) for name, default in SVM_DEFAULTS.items()}
        algorithm = MetaOptNet(features, C_reg=svm["svm_C_reg"], max_iters=svm["svm_max_iters"])
        super().__init__(algorithm, loss, **kwargs)
        self.features = features
        self.svm_C_reg: float = svm["svm_C_reg"]
        self.svm_max_iters: int = svm["svm_max_iters"]


class _Episodes:
    """``length`` tasks drawn with ``tasks.sample()``, one batch each (learn2learn's Epochifier)."""

    def __init__(self, tasks: Any, length: int) -> None:
        self.tasks = tasks
        self.length = length

    def __len__(self) -> int:
        return self.length

    def __iter__(self) -> Iterator[list[Tensor]]:
        for _ in range(self.length):
            yield list(self.tasks.sample())


class EpisodicBatcher(L.LightningDataModule):
    """learn2learn's ``l2l.utils.lightning.EpisodicBatcher``: tasks as Lightning batches.

    Every split yields ``epoch_length`` tasks per epoch, each drawn with its task dataset's
    ``sample()`` (a ``[data, labels]`` pair).

    Args:
        train_tasks: Task dataset of meta-training (e.g. ``tasksets.train``).
        validation_tasks: Validation task dataset; default ``train_tasks``.
        test_tasks: Test task dataset; default ``validation_tasks``.
        epoch_length: Tasks per epoch in every split.

    Raises:
        TypeError: If a task dataset has no ``sample`` method.
        ValueError: If ``epoch_length`` is not a positive int.

    Example:
        ```python
        batcher = l2l.utils.lightning.EpisodicBatcher(
            tasksets.train, tasksets.validation, tasksets.test, epoch_length=100
        )
        ```
    """

    def __init__(
        self,
        train_tasks: Any,
        validation_tasks: Any = None,
        test_tasks: Any = None,
        epoch_length: int = 1,
    ) -> None:
        super().__init__()
        self.train_tasks = train_tasks
        self.validation_tasks = train_tasks if validation_tasks is None else validation_tasks
        self.test_tasks = self.validation_tasks if test_tasks is None else test_tasks
        for name in ("train_tasks", "validation_tasks", "test_tasks"):
            if not callable(getattr(getattr(self, name), "sample", None)):
                raise TypeError(
                    f"{name} must be a task dataset with a sample() method, "
                    f"got {type(getattr(self, name)).__name__}"
                )
        self.epoch_length = check_non_negative_int(epoch_length, "epoch_length", minimum=1)

    def train_dataloader(self) -> _Episodes:
        """``epoch_length`` training tasks."""
        return _Episodes(self.train_tasks, self.epoch_length)

    def val_dataloader(self) -> _Episodes:
        """``epoch_length`` validation tasks."""
        return _Episodes(self.validation_tasks, self.epoch_length)

    def test_dataloader(self) -> _Episodes:
        """``epoch_length`` test tasks."""
        return _Episodes(self.test_tasks, self.epoch_length)
