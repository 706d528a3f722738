"""learn2learn's ``l2l.vision``: only ``l2l.vision.models`` is provided (see :mod:`.models`)."""

from __future__ import annotations

from . import models as models

__all__ = ["models"]
