"""learn2learn's ``l2l.optim.parameter_update``.

``ParameterUpdate``, [`meta_optim.ParameterUpdate`][meta_optim.ParameterUpdate].
"""

from __future__ import annotations

from meta_optim import ParameterUpdate as ParameterUpdate

__all__ = ["ParameterUpdate"]
