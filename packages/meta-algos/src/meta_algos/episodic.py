"""MetaNN's episodic API (``metann.meta``): learners, MAML, MAML++ and evaluators.

Built on meta-functional (``ProtoModule``, ``DependentModule``) and meta-optim's functional
optimizers (``sgd``, ``rmsprop``, any ``GradientTransformation``).

What ``data`` is (MetaNN never said):

* a **split**: an ``(x, y)`` pair (a tuple or list of length 2); ``model(x)`` is called with
  ``x`` as its one argument and the loss is computed from ``(model(x), y)``. ``x`` must not
  itself be a pair (a tuple or list of length 2).
* an **episode**: a ``(support, query)`` pair of splits,
  ``((support_x, support_y), (query_x, query_y))``.
* a **task**: any object with the attributes ``support_x``, ``support_y``, ``query_x`` and
  ``query_y`` (duck-typed; e.g. a meta-tasks ``Task``).

Adaptation (``Learner.forward``/``forward_pure``/``forward_inplace``/``fast_weights``,
``MAML.forward``, ``MAMLpp.forward``) uses the **support** part of an episode or task;
evaluators (``default_evaluator_classification``, ``mamlpp_evaluator``) use the **query**
part. A plain split is used as given in both roles, so MetaNN's
``evaluator(maml(data_train), data_test)`` works with two ``(x, y)`` pairs, and
``evaluator(maml(task), task)`` works with one task. Learners whose ``steps`` is ``None``
(``SequentialGDLearner``, ``RMSPropLearner(steps=None)``) take a sequence of ``(x, y)`` batches
instead, one optimizer step per batch.

An evaluator is any ``evaluator(model, data) -> scalar tensor`` where ``model`` is a callable
``x -> output``; inside a learner it is called with the current support batch.

Examples:
    >>> import torch
    >>> from torch import nn
    >>> from meta_algos.episodic import MAML, default_evaluator_classification as evaluator
    >>> net = nn.Sequential(nn.Linear(10, 100), nn.Linear(100, 5))
    >>> maml = MAML(net, steps_train=5, steps_eval=10, lr=0.01)
    >>> data_train = (torch.randn(8, 10), torch.randint(0, 5, (8,)))
    >>> data_test = (torch.randn(8, 10), torch.randint(0, 5, (8,)))
    >>> loss = evaluator(maml(data_train), data_test)
    >>> loss.backward()
"""

from __future__ import annotations

from ._episodic import (
    MAML,
    Evaluator,
    GDLearner,
    Learner,
    MAMLpp,
    ModelFn,
    MultiModel,
    RMSPropLearner,
    SequentialGDLearner,
    active_indices,
    default_evaluator_classification,
    mamlpp_evaluator,
)

__all__ = [
    "MAML",
    "Evaluator",
    "GDLearner",
    "Learner",
    "MAMLpp",
    "ModelFn",
    "MultiModel",
    "RMSPropLearner",
    "SequentialGDLearner",
    "active_indices",
    "default_evaluator_classification",
    "mamlpp_evaluator",
]
