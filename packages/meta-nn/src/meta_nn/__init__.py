"""meta-nn.

Meta-learning layers (`Lambda`, `Flatten`, `Scale`, `KroneckerLinear`, `KroneckerRNN`,
`KroneckerLSTM`, `DropBlock`), the Prototypical Networks head (`PrototypicalClassifier`),
MetaOptNet's SVM head (`SVClassifier`, with the `svm` extra),
standard few-shot backbones (`MLP`, `ConvNet4`/`OmniglotCNN`, `MiniImagenetCNN`), learn2learn's
vision models (`OmniglotFC`, `ConvBlock`, `ConvBase`, `CNN4`, `CNN4Backbone`, `ResNet12`,
`ResNet12Backbone`, `WRN28`, `WRN28Backbone`) and initialisers (`maml_init_`, `fc_init_`), and
MetaNN's module machinery (`DependentModule`, `ProtoModule` and the
containers `SubDict`, `DefaultList`, `MultipleList`). Depends on torch and meta-functional.
"""

from __future__ import annotations

from .__about__ import __version__
from ._backbones import MLP, ConvNet4, MiniImagenetCNN, OmniglotCNN
from ._cnn4 import CNN4, CNN4Backbone, ConvBase, ConvBlock, OmniglotFC, fc_init_, maml_init_
from ._containers import DefaultList, MultipleList, SubDict
from ._dependent import DependentModule
from ._kronecker import KroneckerLinear, KroneckerLSTM, KroneckerRNN, kronecker_addmm
from ._layers import Flatten, Lambda, Scale
from ._metalayers import MetaModule, ParameterTransform, freeze, unfreeze
from ._proto import ProtoModule
from ._prototypical import PrototypicalClassifier
from ._resnets import WRN28, DropBlock, ResNet12, ResNet12Backbone, WRN28Backbone
from ._svm import SVClassifier

__all__ = [
    "CNN4",
    "MLP",
    "WRN28",
    "CNN4Backbone",
    "ConvBase",
    "ConvBlock",
    "ConvNet4",
    "DefaultList",
    "DependentModule",
    "DropBlock",
    "Flatten",
    "KroneckerLSTM",
    "KroneckerLinear",
    "KroneckerRNN",
    "Lambda",
    "MetaModule",
    "MiniImagenetCNN",
    "MultipleList",
    "OmniglotCNN",
    "OmniglotFC",
    "ParameterTransform",
    "ProtoModule",
    "PrototypicalClassifier",
    "ResNet12",
    "ResNet12Backbone",
    "SVClassifier",
    "Scale",
    "SubDict",
    "WRN28Backbone",
    "__version__",
    "fc_init_",
    "freeze",
    "kronecker_addmm",
    "maml_init_",
    "unfreeze",
]
