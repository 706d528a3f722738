"""The examples of the meta-nn specification (seed 000), run as written (typos fixed)."""

from __future__ import annotations

import torch
from meta_nn import Flatten, KroneckerLinear, KroneckerLSTM, KroneckerRNN, Lambda, Scale


def test_lambda_example(device):
    # The seed's `features` is any feature extractor producing (batch, C, H, W).
    features = torch.nn.Conv2d(3, 4, kernel_size=3, padding=1).to(device)
    img = torch.randn(2, 3, 8, 8, device=device)
    mean23 = Lambda(lambda x: x.mean(dim=[2, 3]))
    assert isinstance(mean23, torch.nn.Module)
    x = features(img)
    x = mean23(x)
    assert x.shape == (2, 4)
    torch.testing.assert_close(x, features(img).mean(dim=[2, 3]))
    x = x.flatten()
    assert x.shape == (8,)


def test_flatten_example(device):
    flatten = Flatten()
    x = torch.randn(5, 3, 32, 32, device=device)
    x = flatten(x)
    assert x.shape == (5, 3072)


def test_scale_example(device):
    x = torch.ones(3, device=device)
    scale = Scale(x.shape, alpha=0.5).to(device)
    torch.testing.assert_close(scale(x), torch.full((3,), 0.5, device=device), rtol=0, atol=0)


def test_kronecker_linear_example(device):
    m, n = 2, 3
    x = torch.randn(6, device=device)
    kronecker = KroneckerLinear(n, m, device=device)
    y = kronecker(x)
    assert y.shape == (6,)


def test_kronecker_rnn_example(device):
    m, n = 2, 3
    x = torch.randn(6, device=device)
    h = torch.randn(6, device=device)
    kronecker = KroneckerRNN(n, m).to(device)
    y, new_h = kronecker(x, h)
    assert y.shape == (6,)
    assert new_h.shape == (6,)


def test_kronecker_lstm_example(device):
    m, n = 2, 3
    x = torch.randn(6, device=device)
    h = torch.randn(6, device=device)
    kronecker = KroneckerLSTM(n, m).to(device)
    y, new_h = kronecker(x, h)
    assert y.shape == (6,)
    # Documented state format: new_h is the pair (hidden, cell).
    hidden, cell = new_h
    assert hidden.shape == (6,)
    assert cell.shape == (6,)
