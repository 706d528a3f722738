"""learn2learn's ``l2l.vision.transforms``: ``RandomClassRotation``, from meta-tasks.

``RandomClassRotation(dataset, degrees)`` is [`meta_tasks`][meta_tasks]' task transform: each
task rotates all images of each class by one angle drawn from ``degrees`` (multiples of 90).
"""

from __future__ import annotations

from meta_tasks import RandomClassRotation as RandomClassRotation

__all__ = ["RandomClassRotation"]
