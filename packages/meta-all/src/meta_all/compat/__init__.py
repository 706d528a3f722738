"""Compatibility layers for code written against other meta-learning libraries.

* `meta_all.compat.learn2learn`: ``import meta_all.compat.learn2learn as l2l`` in place of
  ``import learn2learn as l2l``; ``l2l.algorithms.MAML``/``MetaSGD``/``GBML``, ``l2l.nn``,
  ``l2l.optim``, ``l2l.vision.models`` and the module utilities keep their learn2learn
  signatures and behaviour, built on meta-functional, meta-nn and meta-optim.
* `meta_all.compat.metann`: MetaNN's ``DependentModule``, ``ProtoModule`` and containers
  (meta-nn's) and the ``metann.meta`` learners, thin shells over meta-functional and meta-optim.

Nothing is imported here: importing a layer is an explicit choice.
"""

from __future__ import annotations

__all__: list[str] = []
