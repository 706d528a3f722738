"""Two Lightning 2 callbacks: test after every validation, and a test bar that does not stay."""

from __future__ import annotations

from typing import Any

import lightning as L
from lightning.pytorch.callbacks import TQDMProgressBar
from lightning.pytorch.trainer.states import RunningStage, TrainerFn


class TrackTestAccuracyCallback(L.Callback):
    """Run the test loop after every validation, so test metrics are logged during ``fit``.

    At the end of each validation of ``Trainer.fit`` (not the sanity check) the trainer's
    test loop runs over the test dataloader of the model or datamodule being fitted, with
    the model's ``test_step``; what ``test_step`` logs goes to the loggers (at the current
    step) and to ``trainer.callback_metrics``, beside the validation metrics. The test runs
    inside the fit, without ``Trainer.test``'s setup and teardown: the fit's state, device,
    optimizers and validation metrics are left as they were. No results table is printed.

    learn2learn's callback of this name calls ``trainer.test`` from ``on_validation_end``,
    which on Lightning 2 ends the fit's state (it stays ``TESTING``, drops the validation
    metrics) and needs the datamodule passed again; this one gives the metrics learn2learn's
    gave on Lightning 1.

    Examples:
        >>> import lightning as L
        >>> trainer = L.Trainer(callbacks=[TrackTestAccuracyCallback()], logger=False)
        >>> any(isinstance(c, TrackTestAccuracyCallback) for c in trainer.callbacks)
        True
    """

    def on_validation_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        """Run the test loop once (skipped during the sanity check and outside ``fit``).

        Args:
            trainer: The trainer running the fit.
            pl_module: The module being fitted (its ``test_step`` is used).
        """
        if trainer.sanity_checking or trainer.state.fn != TrainerFn.FITTING:
            return
        stage, verbose = trainer.state.stage, trainer.test_loop.verbose
        trainer.state.fn, trainer.state.stage = TrainerFn.TESTING, RunningStage.TESTING
        trainer.test_loop.verbose = False
        try:
            trainer.test_loop.run()
        finally:
            trainer.state.fn, trainer.state.stage = TrainerFn.FITTING, stage
            trainer.test_loop.verbose = verbose


class NoLeaveProgressBar(TQDMProgressBar):
    """Lightning's tqdm progress bar whose test bar is cleared when the test ends.

    With [`TrackTestAccuracyCallback`][meta_train.lightning.TrackTestAccuracyCallback] the
    test runs after every validation; this bar keeps those runs from leaving one finished
    "Testing" line each. Every other bar, and every argument, is ``TQDMProgressBar``'s.

    Examples:
        >>> bar = NoLeaveProgressBar()
        >>> bar.disable()  # not drawn here; a trainer draws it
        >>> bar.init_test_tqdm().leave
        False
    """

    def init_test_tqdm(self) -> Any:
        """Lightning's test bar, with ``leave=False``.

        Returns:
            The tqdm bar of the test loop.
        """
        bar = super().init_test_tqdm()
        bar.leave = False
        return bar
