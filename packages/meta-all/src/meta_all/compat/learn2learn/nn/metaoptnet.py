"""learn2learn's ``l2l.nn.metaoptnet``: ``SVClassifier``, MetaOptNet's SVM head.

[`meta_nn.SVClassifier`][meta_nn.SVClassifier]; it needs ``pip install "meta-nn[svm]"``.
learn2learn's helpers of its own QP set-up (``kronecker``, ``onehot``, ``svm_logits``) are not
provided: meta-nn's head builds its problem differently and has no such functions.
"""

from __future__ import annotations

from meta_nn import SVClassifier as SVClassifier

__all__ = ["SVClassifier"]
