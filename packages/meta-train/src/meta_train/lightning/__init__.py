"""meta-* on PyTorch Lightning 2: `MetaLightningModule`, `MetaDataModule` and two callbacks.

Needs the ``lightning`` extra (``pip install "meta-train[lightning]"``); ``import meta_train``
works without it. Lightning owns the loop, callbacks, loggers and checkpoints; the
meta-update and the evaluation are [`MetaTrainer`][meta_train.MetaTrainer]'s own.
`TrackTestAccuracyCallback` runs the test loop after every validation of a fit and
`NoLeaveProgressBar` clears the test bar when a test ends (both work with any
``LightningModule``).

Example:
    ```python
    import lightning as L
    import torch.nn.functional as F
    from meta_algos import MAML
    from meta_nn import MLP
    from meta_tasks import SinusoidTaskSampler
    from meta_train.lightning import MetaDataModule, MetaLightningModule

    module = MetaLightningModule(MAML(MLP([1, 40, 40, 1]), inner_lr=0.01), F.mse_loss)
    data = MetaDataModule(
        SinusoidTaskSampler(),
        SinusoidTaskSampler(seed=1).sample(100),
        meta_batch_size=25,
        epoch_length=100,
    )
    L.Trainer(max_epochs=10).fit(module, data)
    ```
"""

from __future__ import annotations

try:
    import lightning  # noqa: F401
except ImportError as error:
    raise ImportError(
        'meta_train.lightning needs PyTorch Lightning: pip install "meta-train[lightning]"'
    ) from error

from ._callbacks import NoLeaveProgressBar, TrackTestAccuracyCallback
from ._data import EvalBatches, MetaDataModule, TaskStream, rank_share
from ._module import MetaLightningModule

__all__ = [
    "EvalBatches",
    "MetaDataModule",
    "MetaLightningModule",
    "NoLeaveProgressBar",
    "TaskStream",
    "TrackTestAccuracyCallback",
    "rank_share",
]
