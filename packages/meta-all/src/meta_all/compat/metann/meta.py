"""MetaNN's ``metann.meta``: episodic learners, MAML, MAML++ and evaluators.

``GDLearner``, ``RMSPropLearner``, ``SequentialGDLearner`` and their base ``Learner``;
``MAML(model, steps_train, steps_eval, lr, evaluator=default_evaluator_classification,
first_order=False)`` whose call on data returns the adapted model; ``MAMLpp`` returning a
``MultiModel`` of every step's model; ``default_evaluator_classification``,
``mamlpp_evaluator``, ``active_indices`` and ``is_tensor``. A star import also gives
``ProtoModule``, ``tensor_copy``, ``DefaultList`` and ``MultipleList``, as MetaNN's does (but
not the modules ``torch``, ``nn`` and ``np`` MetaNN's module imported).

They are thin shells: every functional inner loop is
[`meta_functional.adapt_trajectory`][meta_functional.adapt_trajectory] (plain gradient
descent with its [`sgd_update`][meta_functional.sgd_update], momentum and RMSprop as
meta-optim ``GradientTransformation`` updates); in-place training uses the ``torch.optim``
optimizer MetaNN uses. The differences from MetaNN 0.3.2 are listed, each with its reason, in
the migration guide (``docs/migration/metann.md``).

What ``data`` is: MetaNN hands it to the evaluator unchanged, and so do these learners:
``GDLearner`` and ``RMSPropLearner(steps=K)`` evaluate every step on ``data``,
``SequentialGDLearner`` and ``RMSPropLearner(steps=None)`` take one step per element of the
iterable ``data``. The default evaluator reads an ``(x, y)`` pair and, beyond MetaNN, also

* an **episode** ``((support_x, support_y), (query_x, query_y))``, and
* a **task**: any object with ``support_x``, ``support_y``, ``query_x`` and ``query_y``
  (e.g. a meta-tasks ``Task``);

with it, the learners and ``MAML`` adapt on their *support* split and the evaluator scores
their *query* split, so ``evaluator(maml(task), task)`` works, as does MetaNN's
``evaluator(maml(data_train), data_test)`` with two ``(x, y)`` pairs. With the default
evaluator a sequential learner also takes one ``(x, y)`` pair or a task as a single batch.

Examples:
    An episode adapts on its support split and is scored on its query split:

    >>> import torch
    >>> support = (torch.randn(8, 10), torch.randint(0, 5, (8,)))
    >>> episode = (support, (torch.randn(8, 10), torch.randint(0, 5, (8,))))
    >>> maml = MAML(torch.nn.Linear(10, 5), steps_train=5, steps_eval=10, lr=0.01)
    >>> default_evaluator_classification(maml(episode), episode).backward()
"""

from __future__ import annotations

from meta_nn import DefaultList as DefaultList
from meta_nn import MultipleList as MultipleList

from ._meta import MAML as MAML
from ._meta import Evaluator as Evaluator
from ._meta import GDLearner as GDLearner
from ._meta import Learner as Learner
from ._meta import MAMLpp as MAMLpp
from ._meta import ModelFn as ModelFn
from ._meta import MultiModel as MultiModel
from ._meta import RMSPropLearner as RMSPropLearner
from ._meta import SequentialGDLearner as SequentialGDLearner
from ._meta import active_indices as active_indices
from ._meta import default_evaluator_classification as default_evaluator_classification
from ._meta import is_tensor as is_tensor
from ._meta import mamlpp_evaluator as mamlpp_evaluator
from ._proto import ProtoModule as ProtoModule
from ._proto import tensor_copy as tensor_copy

__all__ = [
    "MAML",
    "DefaultList",
    "GDLearner",
    "Learner",
    "MAMLpp",
    "MultiModel",
    "MultipleList",
    "ProtoModule",
    "RMSPropLearner",
    "SequentialGDLearner",
    "active_indices",
    "default_evaluator_classification",
    "is_tensor",
    "mamlpp_evaluator",
    "tensor_copy",
]
