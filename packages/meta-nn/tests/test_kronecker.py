"""Kronecker layers: parity with the explicit torch.kron map, PSD, scale, RNN/LSTM, errors."""

from __future__ import annotations

import pytest
import torch
from meta_nn import KroneckerLinear, KroneckerLSTM, KroneckerRNN
from torch.func import functional_call, grad, vmap

# float64 parity with the explicit matrix: both sides do O(n + m) multiply-adds per entry.
ATOL64 = 1e-12
RTOL64 = 1e-10


def _randomise(module: torch.nn.Module, seed: int = 0) -> None:
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for parameter in module.parameters():
            noise = torch.randn(parameter.shape, generator=generator, dtype=parameter.dtype)
            parameter.copy_(noise.to(parameter.device))


@pytest.mark.parametrize(("n", "m"), [(3, 2), (2, 3), (4, 4), (1, 5), (5, 1)])
@pytest.mark.parametrize("psd", [False, True])
def test_matches_explicit_kron_float64(device, n, m, psd):
    layer = KroneckerLinear(n, m, psd=psd, device=device).double()
    _randomise(layer, seed=n * 10 + m)
    left, right = layer.factors()
    dense = torch.kron(left, right)
    assert layer.bias is not None
    x = torch.randn(7, n * m, dtype=torch.float64, device=device)
    expected = x @ dense.T + layer.bias
    torch.testing.assert_close(layer(x), expected, atol=ATOL64, rtol=RTOL64)
    # unbatched input gives the same as one row of the batch
    torch.testing.assert_close(layer(x[2]), expected[2], atol=ATOL64, rtol=RTOL64)
    if psd:
        torch.testing.assert_close(left, layer.left @ layer.left.T, atol=0, rtol=0)
    else:
        assert left is layer.left


def test_identity_initialisation(device):
    layer = KroneckerLinear(3, 4, device=device)
    assert layer.left.device.type == device.type
    left, right = layer.factors()
    assert torch.equal(torch.kron(left, right), torch.eye(12, device=device))
    assert layer.bias is not None
    assert torch.equal(layer.bias, torch.zeros(12, device=device))
    x = torch.randn(5, 12, device=device)
    assert torch.equal(layer(x), x)
    psd_layer = KroneckerLinear(3, 4, psd=True, device=device)
    assert torch.equal(psd_layer(x), x)


def test_without_bias_has_no_bias_parameter():
    layer = KroneckerLinear(2, 3, bias=False)
    assert layer.bias is None
    assert sorted(name for name, _ in layer.named_parameters()) == ["left", "right"]
    assert "bias=False" in repr(layer)


def _train_towards_minus_identity(layer: KroneckerLinear, steps: int = 50) -> list[float]:
    generator = torch.Generator().manual_seed(2)
    with torch.no_grad():
        layer.left.add_(0.3 * torch.randn(layer.left.shape, generator=generator).double())
        layer.right.add_(0.3 * torch.randn(layer.right.shape, generator=generator).double())
    inputs = torch.randn(32, layer.n * layer.m, generator=generator).double()
    optimizer = torch.optim.SGD(layer.parameters(), lr=0.05)
    losses = []
    for _ in range(steps):
        optimizer.zero_grad()
        # pulls A towards -I, which no PSD matrix can reach
        loss = (layer(inputs) + inputs).pow(2).mean()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses


def test_psd_stays_psd_after_unconstrained_updates():
    layer = KroneckerLinear(4, 3, psd=True).double()
    losses = _train_towards_minus_identity(layer)
    assert losses[-1] < losses[0]
    left, right = layer.factors()
    matrix = torch.kron(left, right).detach()
    torch.testing.assert_close(matrix, matrix.T, atol=1e-12, rtol=0)
    eigenvalues = torch.linalg.eigvalsh(matrix)
    tol = 1e-10 * eigenvalues.abs().max().item()
    assert eigenvalues.min().item() >= -tol
    # the same training makes the unconstrained layer indefinite (so the check above can fail)
    free = KroneckerLinear(4, 3, psd=False).double()
    _train_towards_minus_identity(free)
    free_matrix = torch.kron(*free.factors()).detach()
    assert torch.linalg.eigvalsh((free_matrix + free_matrix.T) / 2).min().item() < -0.1


def test_big_input_runs_without_dense_matrix():
    layer = KroneckerLinear(256, 256)
    assert sum(p.numel() for p in layer.parameters()) == 2 * 256 * 256 + 65536
    x = torch.randn(4, 65536)
    y = layer(x)
    assert y.shape == (4, 65536)
    torch.testing.assert_close(y, x)  # identity at initialisation
    with torch.no_grad():
        layer.left.mul_(2.0)
        layer.right.mul_(3.0)
    torch.testing.assert_close(layer(x), 6.0 * x)


def test_gradcheck_float64(device):
    layer = KroneckerLinear(2, 3, psd=True, device=device).double()
    _randomise(layer, seed=3)
    params = {name: p.detach().clone().requires_grad_() for name, p in layer.named_parameters()}
    x = torch.randn(4, 6, dtype=torch.float64, device=device, requires_grad=True)

    def run(left, right, bias, inputs):
        return functional_call(layer, {"left": left, "right": right, "bias": bias}, (inputs,))

    assert torch.autograd.gradcheck(run, (params["left"], params["right"], params["bias"], x))


def test_vmap_over_parameters_and_inputs(device):
    layer = KroneckerLinear(3, 2, device=device)
    params = {name: torch.randn(4, *p.shape, device=device) for name, p in layer.named_parameters()}
    xs = torch.randn(4, 5, 6, device=device)
    out = vmap(lambda p, x: functional_call(layer, p, (x,)))(params, xs)
    loop = torch.stack(
        [functional_call(layer, {k: v[i] for k, v in params.items()}, (xs[i],)) for i in range(4)]
    )
    torch.testing.assert_close(out, loop, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize(
    ("bad", "shape"),
    [((5,), r"\(5,\)"), ((2, 5), r"\(2, 5\)"), ((2, 2, 3), r"\(2, 2, 3\)"), ((), r"\(\)")],
)
def test_kronecker_linear_bad_shapes(bad, shape):
    layer = KroneckerLinear(3, 2)
    message = (
        r"KroneckerLinear\(n=3, m=2\) expects input of shape \(\.\.\., n\*m\) = \(\.\.\., 6\) or "
        rf"\(\.\.\., n, m\) = \(\.\.\., 3, 2\), got shape {shape}"
    )
    with pytest.raises(ValueError, match=message):
        layer(torch.zeros(bad))


def test_kronecker_constructor_errors():
    with pytest.raises(TypeError, match=r"KroneckerLinear: n must be an int, got float \(2.0\)"):
        KroneckerLinear(2.0, 3)
    with pytest.raises(ValueError, match=r"KroneckerLinear: m must be a positive int, got 0"):
        KroneckerLinear(2, 0)
    with pytest.raises(TypeError, match=r"KroneckerRNN: m must be an int, got bool"):
        KroneckerRNN(2, True)
    with pytest.raises(TypeError, match=r"KroneckerRNN expects sigma to be a callable"):
        KroneckerRNN(2, 2, sigma=3)
    with pytest.raises(ValueError, match=r"KroneckerLSTM: n must be a positive int, got -1"):
        KroneckerLSTM(-1, 2)
    with pytest.raises(TypeError, match=r"KroneckerLSTM expects sigma to be a callable"):
        KroneckerLSTM(2, 2, sigma="tanh")
    with pytest.raises(TypeError, match=r"KroneckerLinear expects input to be a torch.Tensor"):
        KroneckerLinear(2, 2)([1.0] * 4)


def _reference_rnn(rnn: KroneckerRNN, x, h):
    def dense(layer: KroneckerLinear):
        matrix = torch.kron(*layer.factors())
        bias = layer.bias if layer.bias is not None else torch.zeros(matrix.shape[0])
        return matrix, bias

    w_h, b_h = dense(rnn.hidden_map)
    w_x, _ = dense(rnn.input_map)
    w_y, b_y = dense(rnn.output_map)
    new_h = torch.tanh(h @ w_h.T + b_h + x @ w_x.T)
    return new_h @ w_y.T + b_y, new_h


def test_rnn_matches_dense_reference_and_grads_flow():
    rnn = KroneckerRNN(3, 2).double()
    _randomise(rnn, seed=5)
    x = torch.randn(4, 6, dtype=torch.float64)
    h = torch.randn(4, 6, dtype=torch.float64)
    y, new_h = rnn(x, h)
    ref_y, ref_h = _reference_rnn(rnn, x, h)
    torch.testing.assert_close(y, ref_y, atol=ATOL64, rtol=RTOL64)
    torch.testing.assert_close(new_h, ref_h, atol=ATOL64, rtol=RTOL64)
    # two steps, loss on the second output: every parameter gets a nonzero gradient
    y2, _ = rnn(x, new_h)
    y2.pow(2).sum().backward()
    for name, parameter in rnn.named_parameters():
        assert parameter.grad is not None, name
        assert parameter.grad.abs().sum() > 0, name


def test_rnn_shapes_default_state_and_custom_sigma(device):
    rnn = KroneckerRNN(2, 3, bias=False, sigma=torch.relu).to(device)
    assert not any("bias" in name for name, _ in rnn.named_parameters())
    x = torch.randn(5, 6, device=device)
    y, h = rnn(x)
    assert y.shape == h.shape == (5, 6)
    # identity maps, zero state: h' = relu(x), y = h'
    torch.testing.assert_close(h, torch.relu(x))
    torch.testing.assert_close(y, torch.relu(x))
    # an unbatched state broadcasts over a batched input
    y_b, h_b = rnn(x, torch.zeros(6, device=device))
    torch.testing.assert_close(y_b, y)
    torch.testing.assert_close(h_b, h)


def test_rnn_bad_inputs():
    rnn = KroneckerRNN(2, 2)
    message = r"expects hidden state h of shape \(\.\.\., n\*m\) = \(\.\.\., 4\)"
    with pytest.raises(ValueError, match=message):
        rnn(torch.zeros(4), torch.zeros(5))
    with pytest.raises(ValueError, match=r"expects input x of shape .* got shape \(3, 3\)"):
        rnn(torch.zeros(3, 3))
    with pytest.raises(ValueError, match=r"same batch size as the input x \(2\).*\(3, 4\)"):
        rnn(torch.zeros(2, 4), torch.zeros(3, 4))


def _reference_lstm(lstm: KroneckerLSTM, x, h, c):
    def pre(gate: str):
        u = torch.kron(*lstm.input_maps[gate].factors())
        hidden_map = lstm.hidden_maps[gate]
        w = torch.kron(*hidden_map.factors())
        return x @ u.T + h @ w.T + hidden_map.bias

    i, f, o = (torch.sigmoid(pre(g)) for g in ("input", "forget", "output"))
    new_c = f * c + i * torch.tanh(pre("cell"))
    return o * torch.tanh(new_c), new_c


def test_lstm_matches_dense_reference_and_carries_state():
    lstm = KroneckerLSTM(2, 3).double()
    _randomise(lstm, seed=7)
    x = torch.randn(3, 6, dtype=torch.float64)
    h = torch.randn(3, 6, dtype=torch.float64)
    c = torch.randn(3, 6, dtype=torch.float64)
    y, (new_h, new_c) = lstm(x, (h, c))
    ref_h, ref_c = _reference_lstm(lstm, x, h, c)
    torch.testing.assert_close(new_h, ref_h, atol=ATOL64, rtol=RTOL64)
    torch.testing.assert_close(new_c, ref_c, atol=ATOL64, rtol=RTOL64)
    assert y is new_h
    # a bare tensor h means cell state zero; None means both zero
    y_tensor, _ = lstm(x, h)
    torch.testing.assert_close(y_tensor, _reference_lstm(lstm, x, h, torch.zeros_like(h))[0])
    y_none, _ = lstm(x)
    torch.testing.assert_close(y_none, lstm(x, (torch.zeros_like(x), torch.zeros_like(x)))[0])


def test_lstm_gradients_flow_through_two_steps(device):
    lstm = KroneckerLSTM(2, 2).to(device)
    x = torch.randn(4, 4, device=device)
    _, state = lstm(x, torch.randn(4, 4, device=device))
    y, _ = lstm(x, state)
    y.sum().backward()
    for name, parameter in lstm.named_parameters():
        assert parameter.grad is not None, name
        assert parameter.grad.abs().sum() > 0, name


def test_lstm_under_vmap_and_grad(device):
    lstm = KroneckerLSTM(2, 2).to(device)
    params = {name: p.detach() for name, p in lstm.named_parameters()}
    xs = torch.randn(3, 4, device=device)

    def loss(p, x):
        y, _ = functional_call(lstm, p, (x,))
        return y.pow(2).sum()

    per_sample = vmap(grad(loss), in_dims=(None, 0))(params, xs)
    for i in range(3):
        reference = grad(loss)(params, xs[i])
        for name in params:
            torch.testing.assert_close(per_sample[name][i], reference[name])


def test_lstm_bad_state():
    lstm = KroneckerLSTM(2, 2)
    x = torch.zeros(4)
    with pytest.raises(TypeError, match=r"a pair \(h, c\), got a tuple of length 3"):
        lstm(x, (x, x, x))
    with pytest.raises(TypeError, match=r"expects state h \(a tensor or \(h, c\)\) to be a torch"):
        lstm(x, 1.0)
    with pytest.raises(ValueError, match=r"expects cell state of shape .* got shape \(5,\)"):
        lstm(x, (x, torch.zeros(5)))
    with pytest.raises(ValueError, match=r"hidden and cell state with the same batch size"):
        lstm(x, (torch.zeros(2, 4), torch.zeros(3, 4)))
    with pytest.raises(ValueError, match=r"cell state to have the same batch size as the input"):
        lstm(torch.zeros(2, 4), (torch.zeros(4), torch.zeros(3, 4)))


# ------------------------------------------------------------ matrix input (learn2learn's)


@pytest.mark.parametrize(("n", "m"), [(2, 3), (3, 2), (5, 1), (1, 4), (1, 1)])
@pytest.mark.parametrize("psd", [False, True])
def test_matrix_input_is_left_x_right_plus_bias(device, n, m, psd):
    layer = KroneckerLinear(n, m, psd=psd, device=device).double()
    _randomise(layer, seed=7 * n + m)
    left, right = layer.factors()
    assert layer.bias is not None
    bias = layer.bias.view(n, m)
    x = torch.randn(4, 3, n, m, dtype=torch.float64, device=device)
    expected = left @ x @ right + bias
    torch.testing.assert_close(layer(x), expected, atol=ATOL64, rtol=RTOL64)
    assert layer(x[1, 2]).shape == (n, m)
    torch.testing.assert_close(layer(x[1, 2]), expected[1, 2], atol=ATOL64, rtol=RTOL64)
    # learn2learn's definition: kron(R^T, L) acting on the column-major vec of X
    vec = x[0, 0].mT.reshape(-1)
    dense = torch.kron(right.mT.contiguous(), left) @ vec + bias.mT.reshape(-1)
    torch.testing.assert_close(layer(x[0, 0]).mT.reshape(-1), dense, atol=ATOL64, rtol=RTOL64)


def test_matrix_and_flat_input_agree_for_symmetric_right_factor():
    layer = KroneckerLinear(3, 4, psd=True).double()
    _randomise(layer, seed=11)
    x = torch.randn(5, 3, 4, dtype=torch.float64)
    flat = layer(x.reshape(5, 12))
    torch.testing.assert_close(layer(x).reshape(5, 12), flat, atol=ATOL64, rtol=RTOL64)
    free = KroneckerLinear(3, 4).double()
    _randomise(free, seed=11)
    # with a non-symmetric R the two layouts are the two documented maps, L X R and L X R^T
    assert not torch.allclose(free(x).reshape(5, 12), free(x.reshape(5, 12)))
    left, right = free.factors()
    transposed = (left @ x @ right.mT).reshape(5, 12) + free.bias
    torch.testing.assert_close(free(x.reshape(5, 12)), transposed, atol=ATOL64, rtol=RTOL64)


def test_identity_matrix_input_is_returned_exactly_and_trailing_n_m_wins():
    x = torch.randn(2, 5)
    assert torch.equal(KroneckerLinear(2, 5)(x), x)  # a (2, 5) matrix, as in learn2learn
    one_row = KroneckerLinear(1, 3).double()
    _randomise(one_row, seed=2)
    row = torch.randn(1, 3, dtype=torch.float64)  # n == 1: read as a (1, 3) matrix
    left, right = one_row.factors()
    expected = left @ row @ right + one_row.bias.view(1, 3)
    torch.testing.assert_close(one_row(row), expected, atol=ATOL64, rtol=RTOL64)


def test_big_matrix_input_runs_without_dense_matrix():
    layer = KroneckerLinear(256, 256)
    x = torch.randn(2, 256, 256)
    torch.testing.assert_close(layer(x), x)
    with torch.no_grad():
        layer.left.mul_(2.0)
        layer.right.mul_(3.0)
    torch.testing.assert_close(layer(x), 6.0 * x)


def test_matrix_input_gradcheck_and_vmap(device):
    layer = KroneckerLinear(2, 3, device=device).double()
    _randomise(layer, seed=4)
    params = {name: p.detach().clone().requires_grad_() for name, p in layer.named_parameters()}
    x = torch.randn(4, 2, 3, dtype=torch.float64, device=device, requires_grad=True)

    def run(left, right, bias, inputs):
        return functional_call(layer, {"left": left, "right": right, "bias": bias}, (inputs,))

    assert torch.autograd.gradcheck(run, (params["left"], params["right"], params["bias"], x))
    stacked = {name: torch.randn(3, *p.shape, device=device).double() for name, p in params.items()}
    out = vmap(lambda p, inputs: functional_call(layer, p, (inputs,)))(stacked, x.detach()[:3])
    loop = [
        functional_call(layer, {k: v[i] for k, v in stacked.items()}, (x.detach()[i],))
        for i in range(3)
    ]
    torch.testing.assert_close(out, torch.stack(loop))


def test_rnn_and_lstm_take_matrix_input():
    rnn = KroneckerRNN(3, 2).double()
    _randomise(rnn, seed=5)
    x = torch.randn(4, 3, 2, dtype=torch.float64)
    h = torch.randn(4, 3, 2, dtype=torch.float64)
    y, new_h = rnn(x, h)
    expected_h = torch.tanh(rnn.hidden_map(h) + rnn.input_map(x))
    torch.testing.assert_close(new_h, expected_h, atol=ATOL64, rtol=RTOL64)
    torch.testing.assert_close(y, rnn.output_map(expected_h), atol=ATOL64, rtol=RTOL64)
    left, right = rnn.input_map.factors()
    torch.testing.assert_close(rnn.input_map(x), left @ x @ right, atol=ATOL64, rtol=RTOL64)
    assert rnn(x)[1].shape == (4, 3, 2)
    lstm = KroneckerLSTM(3, 2)
    y, (hidden, cell) = lstm(torch.randn(5, 3, 2))
    assert y.shape == hidden.shape == cell.shape == (5, 3, 2)
    y, _ = lstm(torch.randn(5, 3, 2), (hidden, cell))
    assert y.shape == (5, 3, 2)


def test_recurrent_state_must_follow_the_input_layout():
    rnn = KroneckerRNN(3, 2)
    with pytest.raises(ValueError, match=r"hidden state h in the layout of the input x, a matrix"):
        rnn(torch.zeros(4, 3, 2), torch.zeros(4, 6))
    with pytest.raises(ValueError, match=r"same batch size as the input x \(4\).*\(5, 3, 2\)"):
        rnn(torch.zeros(4, 3, 2), torch.zeros(5, 3, 2))
    lstm = KroneckerLSTM(3, 2)
    with pytest.raises(ValueError, match=r"cell state in the layout of the input x, flat"):
        lstm(torch.zeros(6), (torch.zeros(6), torch.zeros(3, 2)))
