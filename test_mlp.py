"""Tests for mlp.py: gradient checks, convergence, the classic tutorial bugs, input errors,
saving, the MNIST loader (against a local HTTP server) and the command line.

Run with:  python -m unittest -v test_mlp
"""

import contextlib
import copy
import gzip
import hashlib
import http.server
import io
import math
import os
import pickle
import re
import signal
import struct
import subprocess
import sys
import tempfile
import threading
import time
import tracemalloc
import unittest
import warnings
import zipfile
import zlib
from unittest import mock

import numpy as np

import mlp

HERE = os.path.dirname(os.path.abspath(__file__))
REAL_MNIST = os.path.join(HERE, "..", "shared", "data", "mnist")
REAL_FASHION = os.path.join(HERE, "..", "shared", "data", "fashion")

HIDDEN = ["identity", "sigmoid", "tanh", "relu", "leaky_relu", "elu"]
# Every output/loss pair the SPEC allows: mse with every output, the log losses with the
# outputs that are probabilities.
OUTPUT_LOSS = ([(out, "mse") for out in HIDDEN + ["softmax"]]
               + [(out, loss) for out in ("softmax", "sigmoid")
                  for loss in ("cross_entropy", "binary_cross_entropy")])


def targets_for(output, n, k, rng):
    """Random targets of the kind each output takes."""
    if output == "softmax":
        return rng.integers(0, k, n)
    if output == "sigmoid":
        return rng.integers(0, 2, (n, k)).astype(float)
    return rng.standard_normal((n, k))


def numerical_gradient(net, X, y, l2, h=1e-6):
    """Central differences of net.loss with respect to every weight and bias."""
    grads = []
    for param in list(net.weights) + list(net.biases):
        grad = np.zeros_like(param)
        for i in np.ndindex(param.shape):
            old = param[i]
            param[i] = old + h
            plus = net.loss(X, y, l2)
            param[i] = old - h
            minus = net.loss(X, y, l2)
            param[i] = old
            grad[i] = (plus - minus) / (2 * h)
        grads.append(grad)
    return grads


def relative_error(a, b):
    """Largest difference, relative to the largest entry of either array."""
    return float(np.abs(a - b).max() / max(np.abs(a).max(), np.abs(b).max(), 1e-300))


def gradient_check(net, X, y, l2):
    """The worst relative error of backprop against central differences, over all arrays."""
    grad_weights, grad_biases = net.backprop(X, y, l2)
    numerical = numerical_gradient(net, X, y, l2)
    return max(relative_error(a, n) for a, n in zip(grad_weights + grad_biases, numerical))


def spiral(points_per_class=100, classes=3, seed=0):
    """The cs231n spiral: classes arms winding around the origin, not linearly separable."""
    rng = np.random.default_rng(seed)
    X, y = [], []
    for c in range(classes):
        r = np.linspace(0.0, 1, points_per_class)
        t = np.linspace(c * 4, (c + 1) * 4, points_per_class) + rng.standard_normal(points_per_class) * 0.2
        X.append(np.c_[r * np.sin(t), r * np.cos(t)])
        y.append(np.full(points_per_class, c))
    return np.concatenate(X), np.concatenate(y)


class GradientCheck(unittest.TestCase):
    """backprop is the exact gradient of loss, for every activation and loss pair."""

    def check(self, hidden, output, loss, l2, seed=0):
        rng = np.random.default_rng(seed)
        net = mlp.Network([4, 5, 6, 3], hidden=hidden, output=output, loss=loss, seed=seed,
                          dtype="float64")
        for b in net.biases:  # nonzero, so that an l2 term wrongly added to them shows
            b[...] = rng.uniform(-0.5, 0.5, b.shape)
        X = rng.standard_normal((8, 4))
        y = targets_for(output, 8, 3, rng)
        zs, _ = net.feedforward(X)
        # A change of h in one weight moves z by at most h * max|x| (about 3e-6): make sure no z
        # is that close to the kink of ReLU at 0, where central differences would straddle it.
        self.assertGreater(min(np.abs(z).min() for z in zs), 1e-5)
        error = gradient_check(net, X, y, l2)
        self.assertLessEqual(error, 1e-6, f"{hidden} -> {output} + {loss}, l2={l2}: {error:.2e}")
        return error

    def test_every_hidden_activation_with_every_output_and_loss(self):
        worst = 0.0
        for hidden in HIDDEN:
            for output, loss in OUTPUT_LOSS:
                for l2 in (0.0, 0.1):
                    with self.subTest(hidden=hidden, output=output, loss=loss, l2=l2):
                        worst = max(worst, self.check(hidden, output, loss, l2))
        self.assertLessEqual(worst, 1e-6)

    def test_mixed_hidden_activations_and_one_hot_and_soft_targets(self):
        rng = np.random.default_rng(1)
        X = rng.standard_normal((6, 3))
        net = mlp.Network([3, 4, 5, 4], hidden=["tanh", "elu"], output="softmax", seed=1, dtype="float64")
        one_hot = np.eye(4)[rng.integers(0, 4, 6)]
        soft = rng.dirichlet(np.ones(4), 6)  # rows that sum to 1, like label smoothing
        for y in (one_hot, soft):
            self.assertLessEqual(gradient_check(net, X, y, 0.05), 1e-6)
        net = mlp.Network([3, 4, 5, 2], hidden="sigmoid", output="sigmoid", seed=1, dtype="float64")
        self.assertLessEqual(gradient_check(net, X, rng.random((6, 2)), 0.0), 1e-6)

    def test_single_output_with_one_dimensional_targets(self):
        rng = np.random.default_rng(2)
        X = rng.standard_normal((5, 3))
        for output, y in (("sigmoid", rng.integers(0, 2, 5)), ("identity", rng.standard_normal(5))):
            net = mlp.Network([3, 4, 4, 1], hidden="tanh", output=output, seed=2, dtype="float64")
            self.assertLessEqual(gradient_check(net, X, y, 0.01), 1e-6)

    def test_dropout_backprop_is_the_gradient_of_the_network_with_those_units_dropped(self):
        # fit's forward pass draws dropout masks; with the random state rewound before every
        # pass, the loss below is a function of the parameters alone, with the same masks.
        rng = np.random.default_rng(5)
        X, Y = rng.standard_normal((8, 4)), np.eye(3)[rng.integers(0, 3, 8)]
        for hidden in ("tanh", "relu"):
            net = mlp.Network([4, 6, 6, 3], hidden=hidden, seed=5, dtype="float64")
            for b in net.biases:  # a row whose units are all dropped has z = b: keep it off 0
                b[...] = rng.choice([-1, 1], b.shape) * rng.uniform(0.1, 0.5, b.shape)
            state = net._rng.bit_generator.state

            def forward():
                net._rng.bit_generator.state = state
                return net._forward(X, train=True, dropout=0.5)

            def loss():
                return float(np.mean(net._loss.value(forward()[1][-1], Y)))

            zs, activations, slopes = forward()
            self.assertTrue(all((s == 0).any() for s in slopes))  # some units were dropped
            self.assertGreater(min(np.abs(z).min() for z in zs), 1e-5)  # no z at ReLU's kink
            backprop = np.empty_like(net._params)
            net._backward(zs, activations, slopes, Y, 0.0, *net._unflatten(backprop))
            numerical, h = np.empty_like(backprop), 1e-6
            for i in range(len(net._params)):
                old = net._params[i]
                net._params[i] = old + h
                plus = loss()
                net._params[i] = old - h
                numerical[i] = (plus - loss()) / (2 * h)
                net._params[i] = old
            with self.subTest(hidden=hidden):
                self.assertLessEqual(relative_error(backprop, numerical), 1e-6)
                without = np.empty_like(backprop)  # and it is not the gradient without dropout
                net._backward(*net._forward(X, train=True), Y, 0.0, *net._unflatten(without))
                self.assertGreater(relative_error(backprop, without), 0.1)

    def test_backprop_is_stateless_and_returns_fresh_arrays(self):
        rng = np.random.default_rng(3)
        net = mlp.Network([3, 4, 2], seed=3, dtype="float64")
        X, y = rng.standard_normal((5, 3)), rng.integers(0, 2, 5)
        before = [W.copy() for W in net.weights]
        first = net.backprop(X, y, 0.1)
        second = net.backprop(X, y, 0.1)
        for a, b in zip(first[0] + first[1], second[0] + second[1]):
            np.testing.assert_array_equal(a, b)
            self.assertFalse(np.shares_memory(a, b))
        for W, W0 in zip(net.weights, before):
            np.testing.assert_array_equal(W, W0)
        self.assertEqual([g.shape for g in first[0]], [W.shape for W in net.weights])
        self.assertEqual([g.shape for g in first[1]], [b.shape for b in net.biases])

    def test_loss_is_mean_loss_plus_half_l2_times_squared_weights(self):
        rng = np.random.default_rng(4)
        net = mlp.Network([3, 4, 2], hidden="tanh", output="identity", seed=4, dtype="float64")
        for b in net.biases:  # the penalty is on the weights only
            b[...] = rng.uniform(-1, 1, b.shape)
        X, y = rng.standard_normal((6, 3)), rng.standard_normal((6, 2))
        a = np.tanh(X @ net.weights[0] + net.biases[0]) @ net.weights[1] + net.biases[1]
        mse = np.mean(0.5 * np.sum((a - y) ** 2, axis=1))
        penalty = 0.3 / 2 * sum(np.sum(W ** 2) for W in net.weights)
        self.assertAlmostEqual(net.loss(X, y), mse, places=12)
        self.assertAlmostEqual(net.loss(X, y, l2=0.3), mse + penalty, places=12)


class WorkedExample(unittest.TestCase):
    """One SGD step of a tiny network, worked by hand."""

    def test_one_sgd_step_by_hand(self):
        # Network 2 -> 2 (ReLU) -> 1 (identity), mse, one sample x = [1, 2], target y = 1.
        net = mlp.Network([2, 2, 1], hidden="relu", output="identity", dtype="float64")
        net.weights[0] = [[1.0, -1.0], [0.5, 1.0]]
        net.biases[0] = [0.0, 0.5]
        net.weights[1] = [[1.0], [-2.0]]
        net.biases[1] = [0.5]
        X, y = np.array([[1.0, 2.0]]), np.array([1.0])
        # Forward: z1 = x W1 + b1 = [1 + 1, -1 + 2] + [0, 0.5] = [2, 1.5]; a1 = relu(z1) = [2, 1.5]
        #          z2 = 2 * 1 + 1.5 * (-2) + 0.5 = -0.5 = a2;  loss = 1/2 (a2 - y)^2 = 1.125
        zs, activations = net.feedforward(X)
        np.testing.assert_allclose(zs[0], [[2.0, 1.5]])
        np.testing.assert_allclose(activations[2], [[-0.5]])
        self.assertAlmostEqual(net.loss(X, y), 1.125)
        # Backward: delta2 = a2 - y = -1.5
        #           dW2 = a1^T delta2 = [[-3], [-2.25]],  db2 = [-1.5]
        #           delta1 = (delta2 W2^T) * relu'(z1) = [-1.5, 3] * [1, 1] = [-1.5, 3]
        #           dW1 = x^T delta1 = [[-1.5, 3], [-3, 6]],  db1 = [-1.5, 3]
        grad_weights, grad_biases = net.backprop(X, y)
        np.testing.assert_allclose(grad_weights[1], [[-3.0], [-2.25]])
        np.testing.assert_allclose(grad_biases[1], [-1.5])
        np.testing.assert_allclose(grad_weights[0], [[-1.5, 3.0], [-3.0, 6.0]])
        np.testing.assert_allclose(grad_biases[0], [-1.5, 3.0])
        # Update with lr 0.05, no momentum: theta - 0.05 * gradient
        #   W1 = [[1.075, -1.15], [0.65, 0.7]],  b1 = [0.075, 0.35],  W2 = [[1.15], [-1.8875]],  b2 = [0.575]
        # New forward: z1 = [1.075 + 1.3 + 0.075, -1.15 + 1.4 + 0.35] = [2.45, 0.6]
        #   a2 = 2.45 * 1.15 - 0.6 * 1.8875 + 0.575 = 2.26; loss = 1/2 (1.26)^2 = 0.7938
        net.fit(X, y, epochs=1, batch_size=1, optimizer=mlp.SGD(lr=0.05, momentum=0.0), verbose=0)
        np.testing.assert_allclose(net.weights[0], [[1.075, -1.15], [0.65, 0.7]])
        np.testing.assert_allclose(net.biases[0], [0.075, 0.35])
        np.testing.assert_allclose(net.weights[1], [[1.15], [-1.8875]])
        np.testing.assert_allclose(net.biases[1], [0.575])
        np.testing.assert_allclose(net.predict(X), [[2.26]])
        self.assertAlmostEqual(net.loss(X, y), 0.5 * 1.26 ** 2)


class Convergence(unittest.TestCase):
    """Small problems that a sign error or a broken derivative would fail."""

    def test_xor_reaches_100_percent(self):
        X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], float)
        y = np.array([0, 1, 1, 0])
        net = mlp.Network([2, 8, 2], hidden="tanh", output="softmax", seed=0)
        history = net.fit(X, y, epochs=300, batch_size=4, optimizer="adam", lr=0.05, verbose=0)
        np.testing.assert_array_equal(net.predict(X), y)
        self.assertEqual(history["accuracy"][-1], 1.0)
        self.assertLess(history["loss"][-1], 0.05)  # log 2 = 0.69 for a network that learned nothing

    def test_spiral_reaches_95_percent(self):
        X, y = spiral()
        net = mlp.Network([2, 64, 64, 3], hidden="relu", output="softmax", seed=0)
        net.fit(X, y, epochs=200, batch_size=32, lr=0.01, verbose=0)
        self.assertGreaterEqual(net.evaluate(X, y)["accuracy"], 0.95)  # a linear model gets ~50%

    def test_sigmoid_with_binary_cross_entropy_separates_two_circles(self):
        rng = np.random.default_rng(0)
        angle = rng.uniform(0, 2 * np.pi, 400)
        radius = np.where(np.arange(400) % 2 == 0, 1.0, 2.0) + rng.normal(0, 0.15, 400)
        X = np.c_[radius * np.cos(angle), radius * np.sin(angle)]
        y = (np.arange(400) % 2 == 1).astype(int)
        net = mlp.Network([2, 16, 1], hidden="tanh", output="sigmoid", seed=0)
        history = net.fit(X, y, epochs=100, batch_size=32, lr=0.02, verbose=0)
        self.assertGreaterEqual(net.evaluate(X, y)["accuracy"], 0.97)  # half of them by chance
        self.assertLess(history["loss"][-1], 0.15)                    # log 2 = 0.69 by chance

    def test_identity_with_mse_fits_a_sine(self):
        X = np.linspace(-2, 2, 200).reshape(-1, 1)
        y = np.sin(2 * X[:, 0])
        net = mlp.Network([1, 32, 32, 1], hidden="tanh", output="identity", seed=0)
        net.fit(X, y, epochs=300, batch_size=20, lr=0.01, verbose=0)
        # 1/2 mean squared error: 0.25 for the best constant, 0.005 means an RMS error of 0.1
        self.assertLess(net.evaluate(X, y)["loss"], 0.005)

    def test_sgd_with_nesterov_momentum_trains(self):
        X, y = spiral(60)
        net = mlp.Network([2, 32, 32, 3], hidden="tanh", output="softmax", seed=1)
        first = net.evaluate(X, y)["loss"]
        net.fit(X, y, epochs=100, batch_size=20, optimizer=mlp.SGD(lr=0.05, momentum=0.9, nesterov=True), verbose=0)
        self.assertLess(net.evaluate(X, y)["loss"], first / 3)


class ClassicBugs(unittest.TestCase):
    """What the tutorials this grew from got wrong."""

    def test_relu_selects_the_right_elements_and_leaves_its_input_alone(self):
        z = np.array([[-2.0, -0.5, 0.0, 0.5, 2.0]], np.float32)
        original = z.copy()
        np.testing.assert_array_equal(mlp.relu(z), [[0, 0, 0, 0.5, 2]])
        np.testing.assert_array_equal(mlp.relu_prime(z), [[0, 0, 0, 1, 1]])
        np.testing.assert_allclose(mlp.leaky_relu(z), [[-0.02, -0.005, 0, 0.5, 2]], rtol=1e-7)
        np.testing.assert_allclose(mlp.leaky_relu_prime(z), [[0.01, 0.01, 0.01, 1, 1]], rtol=1e-7)
        np.testing.assert_array_equal(z, original)
        for name, (f, prime) in mlp.ACTIVATIONS.items():
            f(z)
            if prime is not None:
                prime(z)
            np.testing.assert_array_equal(z, original, err_msg=name)

    def test_activations_take_their_textbook_values(self):
        # Worked out with math, point by point: an activation that is wrong together with its
        # derivative (ELU as e^z instead of e^z - 1, say) passes every gradient check.
        z = [-2.0, -0.5, 0.0, 0.5, 2.0]
        expected = {
            "identity": z,
            "sigmoid": [1 / (1 + math.exp(-v)) for v in z],
            "tanh": [math.tanh(v) for v in z],
            "relu": [max(v, 0.0) for v in z],
            "leaky_relu": [v if v > 0 else 0.01 * v for v in z],
            "elu": [v if v > 0 else math.exp(v) - 1 for v in z],
        }
        self.assertEqual(set(expected), set(mlp.ACTIVATIONS) - {"softmax"})
        for name, values in expected.items():
            with self.subTest(name):
                np.testing.assert_allclose(mlp.ACTIVATIONS[name].f(np.array([z])), [values], rtol=1e-12, atol=1e-15)

    def test_feedforward_keeps_the_pre_activations(self):
        # A ReLU that clips z in place would leave no negative z behind.
        net = mlp.Network([4, 16, 3], hidden="relu", seed=0)
        zs, activations = net.feedforward(np.random.default_rng(0).standard_normal((8, 4)))
        self.assertLess(zs[0].min(), 0)
        np.testing.assert_array_equal(activations[1], np.maximum(zs[0], 0))

    def test_derivatives_are_taken_at_the_pre_activation(self):
        z = np.linspace(-3, 3, 13).reshape(1, -1)
        h = 1e-6
        for name, (f, prime) in mlp.ACTIVATIONS.items():
            if prime is None:
                continue
            numerical = (f(z + h) - f(z - h)) / (2 * h)
            at_kink = np.isclose(z, 0)
            np.testing.assert_allclose(prime(z)[~at_kink], numerical[~at_kink], atol=1e-7, err_msg=name)
        # sigmoid'(2) = s(2)(1 - s(2)) = 0.10499; the bug s(s(2))(1 - s(s(2))) gives 0.2034
        self.assertAlmostEqual(float(mlp.sigmoid_prime(np.array(2.0))), 0.104993585, places=8)

    def test_softmax_does_not_overflow_at_plus_minus_1000(self):
        z = np.array([[1000.0, -1000.0, 0.0], [-1000.0, -1000.0, -1000.0], [1000.0, 1000.0, 999.0]])
        with np.errstate(all="raise"):
            a = mlp.softmax(z)
        self.assertTrue(np.all(np.isfinite(a)))
        np.testing.assert_allclose(a.sum(axis=1), 1)
        np.testing.assert_allclose(a[0], [1, 0, 0])
        np.testing.assert_allclose(a[1], [1 / 3] * 3)
        e = np.exp(-1.0)
        np.testing.assert_allclose(a[2], [1 / (2 + e), 1 / (2 + e), e / (2 + e)])

    def test_sigmoid_and_elu_do_not_warn_at_plus_minus_1000(self):
        z = np.array([-1000.0, -50.0, 0.0, 50.0, 1000.0])
        with np.errstate(all="raise"), warnings.catch_warnings():
            warnings.simplefilter("error")
            s = mlp.sigmoid(z)
            d = mlp.sigmoid_prime(z)
            mlp.elu(z), mlp.elu_prime(z), mlp.tanh_prime(z)
            s32 = mlp.sigmoid(z.astype(np.float32))
        np.testing.assert_allclose(s, [0, 1 / (1 + np.exp(50)), 0.5, 1 / (1 + np.exp(-50)), 1], atol=1e-15)
        self.assertTrue(np.all(np.isfinite(d)) and np.all(d >= 0))
        self.assertEqual(s32.dtype, np.float32)

    def test_losses_stay_finite_for_saturated_outputs(self):
        a = np.array([[0.0, 1.0]])
        with np.errstate(all="raise"):
            for name, (value, prime) in mlp.LOSSES.items():
                self.assertTrue(np.all(np.isfinite(value(a, np.array([[1.0, 0.0]])))), name)
                self.assertTrue(np.all(np.isfinite(prime(a, np.array([[1.0, 0.0]])))), name)
        # A saturated network trains on with the fused delta instead of NaN.
        net = mlp.Network([1, 1], output="sigmoid", seed=0)
        net.weights[0] = [[1000.0]]
        with np.errstate(all="raise"):
            loss = net.loss([[1.0], [-1.0]], [0, 1])
            grad_weights, _ = net.backprop([[1.0], [-1.0]], [0, 1])
        self.assertTrue(np.isfinite(loss) and loss > 10)
        self.assertTrue(np.isfinite(grad_weights[0]).all() and grad_weights[0][0, 0] > 0)

    def test_log_losses_that_are_not_fused_saturate_without_overflow(self):
        # softmax with binary cross-entropy: loss' = (a - y) / (a (1 - a)) was ~1e38 in float32
        # where the outputs saturate, and Adam's g^2 overflowed. Clipped, it trains on.
        rng = np.random.default_rng(0)
        X, y = rng.standard_normal((64, 4)), rng.integers(0, 3, 64)
        for output, loss in (("softmax", "binary_cross_entropy"), ("sigmoid", "cross_entropy")):
            with self.subTest(output=output, loss=loss):
                net = mlp.Network([4, 8, 3], output=output, loss=loss, seed=0)
                net.weights[1] = net.weights[1] * 300  # outputs of 0 and 1 in float32
                a = net.predict_proba(X)
                self.assertTrue(np.any(a == 0) or np.any(a == 1))
                Y = np.eye(3)[y]
                self.assertTrue(np.all(np.abs(mlp.LOSSES[loss].prime(a, Y)) < 1e8))
                before = net.evaluate(X, Y)["loss"]
                with np.errstate(all="raise"):
                    net.fit(X, Y, epochs=20, batch_size=16, lr=1e-2, verbose=0)
                self.assertLess(net.evaluate(X, Y)["loss"], before)

    def test_an_update_goes_down_the_loss(self):
        rng = np.random.default_rng(0)
        X = rng.standard_normal((32, 5))
        for hidden, (output, loss) in [(h, ol) for h in ("sigmoid", "relu") for ol in OUTPUT_LOSS]:
            with self.subTest(hidden=hidden, output=output, loss=loss):
                net = mlp.Network([5, 8, 8, 3], hidden=hidden, output=output, loss=loss, seed=0, dtype="float64")
                y = targets_for(output, 32, 3, rng)
                before = net.loss(X, y)
                net.fit(X, y, epochs=1, batch_size=32, optimizer=mlp.SGD(lr=1e-3, momentum=0.0),
                        shuffle=False, verbose=0)
                self.assertLess(net.loss(X, y), before)

    def test_the_library_runs_warning_free_under_errstate_raise(self):
        rng = np.random.default_rng(0)
        X = rng.standard_normal((64, 6)) * 3
        with np.errstate(all="raise"), warnings.catch_warnings():
            warnings.simplefilter("error")
            for hidden in HIDDEN:
                for output, loss in OUTPUT_LOSS:
                    net = mlp.Network([6, 8, 8, 3], hidden=hidden, output=output, loss=loss, seed=0)
                    y = targets_for(output, 64, 3, rng)
                    net.fit(X, y, epochs=2, batch_size=16, l2=1e-3, dropout=0.2,
                            schedule="onecycle", validation_split=0.25, early_stopping=1, verbose=0)
                    net.predict(X), net.evaluate(X, y), net.loss(X, y, 0.1), net.backprop(X, y, 0.1)


class Optimizers(unittest.TestCase):
    """The flat-buffer optimizers compute the textbook updates, parameter by parameter."""

    def test_adam_matches_a_per_array_adam(self):
        rng = np.random.default_rng(0)
        # Two hidden layers of the same shape: their state must not be shared.
        net = mlp.Network([4, 4, 4, 4], hidden="tanh", seed=0, dtype="float64")
        X, y = rng.standard_normal((16, 4)), rng.integers(0, 4, 16)
        params = [p.copy() for p in net.weights + net.biases]
        m = [np.zeros_like(p) for p in params]
        v = [np.zeros_like(p) for p in params]
        lr, b1, b2, eps = 0.01, 0.8, 0.99, 1e-6
        optimizer = mlp.Adam(lr, b1, b2, eps)
        for t in range(1, 6):
            grad_weights, grad_biases = net.backprop(X, y)
            net.fit(X, y, epochs=1, batch_size=16, optimizer=optimizer, shuffle=False, verbose=0)
            for p, g, mp, vp in zip(params, grad_weights + grad_biases, m, v):
                mp[...] = b1 * mp + (1 - b1) * g
                vp[...] = b2 * vp + (1 - b2) * g * g
                p -= lr * (mp / (1 - b1 ** t)) / (np.sqrt(vp / (1 - b2 ** t)) + eps)
            for p, q in zip(params, net.weights + net.biases):
                np.testing.assert_allclose(q, p, rtol=1e-12, atol=1e-14)

    def test_sgd_matches_momentum_and_nesterov_by_the_textbook(self):
        rng = np.random.default_rng(1)
        X, y = rng.standard_normal((16, 3)), rng.standard_normal((16, 2))
        for nesterov in (False, True):
            net = mlp.Network([3, 5, 2], hidden="tanh", output="identity", seed=1, dtype="float64")
            params = [p.copy() for p in net.weights + net.biases]
            velocity = [np.zeros_like(p) for p in params]
            optimizer = mlp.SGD(lr=0.1, momentum=0.8, nesterov=nesterov)
            for _ in range(4):
                grads = sum(net.backprop(X, y), [])
                net.fit(X, y, epochs=1, batch_size=16, optimizer=optimizer, verbose=0)
                for p, g, vp in zip(params, grads, velocity):
                    vp[...] = 0.8 * vp - 0.1 * g
                    p += 0.8 * vp - 0.1 * g if nesterov else vp
                for p, q in zip(params, net.weights + net.biases):
                    np.testing.assert_allclose(q, p, rtol=1e-12, atol=1e-14)

    def test_every_optimizer_equals_the_textbook_over_hundreds_of_float64_steps(self):
        # 300 steps of fit (75 epochs of 4 batches, in order) against the same steps written
        # plainly from eqs. (8) and (9), with the gradient of each batch from backprop.
        rng = np.random.default_rng(6)
        X, y = rng.standard_normal((64, 3)), rng.integers(0, 3, 64)
        epochs, steps = 75, 300
        cases = [("sgd", mlp.SGD(lr=0.05, momentum=0.0), None),
                 ("momentum", mlp.SGD(lr=0.05, momentum=0.9), "cosine"),
                 ("nesterov", mlp.SGD(lr=0.05, momentum=0.9, nesterov=True), None),
                 ("adam", mlp.Adam(lr=0.01, beta1=0.8, beta2=0.99, eps=1e-7), None),
                 ("adam", mlp.Adam(lr=0.01), "onecycle")]
        for kind, optimizer, schedule in cases:
            with self.subTest(optimizer=kind, schedule=schedule):
                net = mlp.Network([3, 6, 3], hidden="tanh", seed=6, dtype="float64")
                reference = copy.deepcopy(net)
                net.fit(X, y, epochs=epochs, batch_size=16, optimizer=optimizer, schedule=schedule,
                        shuffle=False, verbose=0)
                theta = [p.copy() for p in reference.weights + reference.biases]
                start = np.concatenate([p.ravel() for p in theta])
                first = [np.zeros_like(p) for p in theta]   # u of eq. (8), m of eq. (9)
                second = [np.zeros_like(p) for p in theta]  # v of eq. (9)
                for t in range(1, steps + 1):
                    eta = optimizer.lr * (mlp.SCHEDULES[schedule]((t - 1) / steps) if schedule else 1.0)
                    for p, q in zip(reference.weights + reference.biases, theta):
                        p[...] = q
                    rows = slice(16 * ((t - 1) % 4), 16 * ((t - 1) % 4) + 16)
                    grads = sum(reference.backprop(X[rows], y[rows]), [])
                    for p, g, u, v in zip(theta, grads, first, second):
                        if kind == "adam":
                            b1, b2 = optimizer.beta1, optimizer.beta2
                            u[...] = b1 * u + (1 - b1) * g
                            v[...] = b2 * v + (1 - b2) * g ** 2
                            m_hat, v_hat = u / (1 - b1 ** t), v / (1 - b2 ** t)
                            p -= eta * m_hat / (np.sqrt(v_hat) + optimizer.eps)
                        else:
                            mu = optimizer.momentum
                            u[...] = mu * u - eta * g
                            p += mu * u - eta * g if kind == "nesterov" else u
                self.assertEqual(optimizer.t, steps)
                got = np.concatenate([p.ravel() for p in net.weights + net.biases])
                want = np.concatenate([p.ravel() for p in theta])
                self.assertGreater(relative_error(want, start), 0.05)  # it went somewhere
                self.assertLessEqual(relative_error(got, want), 1e-9)

    def test_an_update_in_chunks_equals_the_update_in_one_piece(self):
        # The optimizers update Optimizer.chunk (65,536) parameters at a time; the other tests'
        # networks fit in one chunk. This one has 68,430 parameters: a full chunk, then a
        # partial one. Each parameter's update is its own, so it must come out bit for bit as
        # if the whole array had been updated in one piece, with the same state.
        rng = np.random.default_rng(7)
        X, y = rng.standard_normal((32, 300)), rng.integers(0, 10, 32)
        makes = {"momentum": lambda: mlp.SGD(lr=0.05, momentum=0.9),
                 "nesterov": lambda: mlp.SGD(lr=0.05, momentum=0.9, nesterov=True),
                 "adam": lambda: mlp.Adam(lr=0.01)}
        for kind, make in makes.items():
            with self.subTest(optimizer=kind):
                runs = []
                for chunk in (mlp.Optimizer.chunk, 1 << 20):
                    net, optimizer = mlp.Network([300, 220, 10], hidden="tanh", seed=7), make()
                    start = net._params.copy()
                    optimizer.chunk = chunk
                    net.fit(X, y, epochs=2, batch_size=16, optimizer=optimizer, verbose=0)
                    runs.append((net._params, optimizer._state))
                (chunked, chunked_state), (whole, whole_state) = runs
                self.assertGreater(len(whole), mlp.Optimizer.chunk)
                self.assertTrue(np.all(whole != start))  # every parameter moved
                np.testing.assert_array_equal(chunked, whole)
                for s, s_whole in zip(chunked_state, whole_state):
                    np.testing.assert_array_equal(s, s_whole)

    def test_moments_do_not_stick_among_the_subnormal_floats(self):
        # One gradient, then none: the moment decays by 0.9 a step, reaches the subnormal floats
        # (below 1.2e-38) after ~830 steps and, left alone, stays there (0.9 times the smallest
        # of them rounds back to it), where arithmetic is slow. By step 1000 it must be 0 again,
        # and the weights must be exactly those of the same steps without the flushing.
        def train(optimizer):
            params = np.ones(3, np.float32)
            optimizer.step(params, np.array([1, 0, 0], np.float32))
            for _ in range(999):
                optimizer.step(params, np.zeros(3, np.float32))
            return params, optimizer._state  # m, v, scratch (Adam); velocity, scratch (SGD)

        def subnormal(a):
            return (a != 0) & (np.abs(a) < np.finfo(a.dtype).tiny)

        for make in (mlp.Adam, lambda: mlp.SGD(momentum=0.9)):
            params, moments = train(make())
            for moment in moments:
                self.assertFalse(np.any(subnormal(moment)), moment)
            with mock.patch.object(mlp.Optimizer, "_flush_subnormals", lambda self, *moments: None):
                unflushed_params, unflushed_moments = train(make())
            self.assertTrue(subnormal(unflushed_moments[0])[0])  # what the flushing prevents
            np.testing.assert_array_equal(params, unflushed_params)

    def test_an_optimizer_instance_keeps_its_state_across_fit_calls(self):
        X, y = spiral(30)
        one, two = (mlp.Network([2, 16, 3], seed=5) for _ in range(2))
        one.fit(X, y, epochs=3, batch_size=16, optimizer=mlp.Adam(), verbose=0)
        adam = mlp.Adam()
        for _ in range(3):
            two.fit(X, y, epochs=1, batch_size=16, optimizer=adam, verbose=0)
        self.assertEqual(adam.t, 3 * 6)
        for W1, W2 in zip(one.weights + one.biases, two.weights + two.biases):
            np.testing.assert_array_equal(W1, W2)

    def test_one_optimizer_cannot_train_two_networks(self):
        X, y = spiral(10)
        adam = mlp.Adam()
        mlp.Network([2, 4, 3], seed=0).fit(X, y, epochs=1, optimizer=adam, verbose=0)
        with self.assertRaisesRegex(ValueError, "another network"):
            mlp.Network([2, 4, 3], seed=0).fit(X, y, epochs=1, optimizer=adam, verbose=0)

    def test_lr_overrides_and_schedules_scale_the_rate(self):
        X, y = spiral(10)
        net = mlp.Network([2, 4, 3], seed=0)
        before = net.weights[0].copy()
        net.fit(X, y, epochs=2, optimizer=mlp.SGD(lr=0.1), schedule=lambda progress: 0.0, verbose=0)
        np.testing.assert_array_equal(net.weights[0], before)
        seen = []
        net.fit(X, y, epochs=3, batch_size=10, optimizer="sgd", lr=1e-9,
                schedule=lambda progress: seen.append(progress) or 1.0, verbose=0)
        self.assertEqual(seen, [i / 9 for i in range(9)])
        self.assertEqual(mlp.cosine(0.0), 1.0)
        self.assertAlmostEqual(mlp.cosine(1 / 3), 0.75)   # (1 + cos(pi/3)) / 2
        self.assertAlmostEqual(mlp.cosine(0.5), 0.5)
        self.assertAlmostEqual(mlp.cosine(1.0), 0.0)
        self.assertEqual(mlp.onecycle(0.0), 0.0)
        self.assertAlmostEqual(mlp.onecycle(0.125), 0.5)  # halfway up the warm-up
        self.assertEqual(mlp.onecycle(0.25), 1.0)
        self.assertAlmostEqual(mlp.onecycle(0.5), 0.75)   # a third of the way down the cosine
        self.assertAlmostEqual(mlp.onecycle(1.0), 0.0)


class Training(unittest.TestCase):
    """fit: determinism, history, validation, early stopping, Ctrl-C, divergence, dtypes."""

    def test_same_seed_same_data_gives_bit_identical_weights(self):
        X, y = spiral(40)
        nets = [mlp.Network([2, 16, 16, 3], seed=7) for _ in range(3)]
        for net in nets[:2]:
            net.fit(X, y, epochs=3, batch_size=16, dropout=0.3, validation_split=0.2,
                    augment=lambda xb, rng: xb + rng.normal(0, 0.01, xb.shape), verbose=0)
        for W1, W2 in zip(nets[0].weights + nets[0].biases, nets[1].weights + nets[1].biases):
            np.testing.assert_array_equal(W1, W2)
        other = mlp.Network([2, 16, 16, 3], seed=8)
        self.assertFalse(np.array_equal(nets[2].weights[0], other.weights[0]))

    def test_no_global_random_state_is_used(self):
        np.random.seed(123)
        state = np.random.get_state()[1].copy()
        X, y = spiral(20)
        net = mlp.Network([2, 8, 3], seed=None)
        net.fit(X, y, epochs=2, dropout=0.5, validation_split=0.3, verbose=0)
        np.testing.assert_array_equal(np.random.get_state()[1], state)

    def test_float32_by_default_and_float64_on_request(self):
        X, y = spiral(20)
        for dtype in ("float32", "float64"):
            net = mlp.Network([2, 8, 3], seed=0, dtype=dtype)
            net.fit(X.astype(np.float64), y, epochs=1, dropout=0.1, verbose=0)
            zs, activations = net.feedforward(X)
            grads = sum(net.backprop(X, y, 0.1), [])
            for array in net.weights + net.biases + zs + activations[1:] + grads + [net.predict_proba(X)]:
                self.assertEqual(array.dtype, np.dtype(dtype))

    def test_history_holds_what_was_asked_for(self):
        X, y = spiral(20)
        net = mlp.Network([2, 8, 3], seed=0)
        history = net.fit(X, y, epochs=3, validation_data=(X, y), verbose=0)
        self.assertEqual(set(history), {"loss", "accuracy", "val_loss", "val_accuracy", "time"})
        self.assertTrue(all(len(values) == 3 for values in history.values()))
        self.assertAlmostEqual(history["val_loss"][-1], net.evaluate(X, y)["loss"], places=6)
        # The training loss and accuracy are those of all the epoch's rows (60 here, in batches
        # of 16, the last one of 12), not of its last batch: at a rate too small to move the
        # weights, they are the network's loss and accuracy on the training set.
        still = mlp.Network([2, 8, 3], hidden="tanh", seed=0, dtype="float64")  # no ties among outputs
        history = still.fit(X, y, epochs=1, batch_size=16, optimizer=mlp.SGD(lr=1e-12, momentum=0.0), verbose=0)
        score = still.evaluate(X, y)
        self.assertAlmostEqual(history["loss"][0], score["loss"], places=9)
        self.assertAlmostEqual(history["accuracy"][0], score["accuracy"], places=9)
        regression = mlp.Network([2, 4, 1], output="identity", seed=0)
        history = regression.fit(X, X[:, 0], epochs=2, verbose=0)
        self.assertEqual(set(history), {"loss", "time"})

    def test_verbose_prints_one_line_per_epoch_and_quiet_prints_nothing(self):
        X, y = spiral(20)
        for verbose, lines in ((0, 0), (1, 3)):
            out = io.StringIO()
            with contextlib.redirect_stdout(out):
                history = mlp.Network([2, 8, 3], seed=0).fit(X, y, epochs=3, validation_split=0.2, verbose=verbose)
            printed = out.getvalue().splitlines()
            self.assertEqual(len(printed), lines)
            for epoch, line in enumerate(printed):
                self.assertRegex(line, r"^epoch \d/3 .*loss .*accuracy .*val_loss .*val_accuracy .*samples/s$")
                # the figures are the history's, the accuracies in percent
                for key in ("loss", "accuracy", "val_loss", "val_accuracy"):
                    shown = float(re.search(rf"(?<![a-z_]){key} ([\d.]+)", line).group(1))
                    scale = 100 if "accuracy" in key else 1
                    self.assertAlmostEqual(shown, scale * history[key][epoch], delta=0.006, msg=(key, line))

    def test_validation_split_is_random_not_the_last_rows(self):
        # The last quarter of the rows is the only place class 2 occurs: a split that took the
        # last rows would validate on a class the network never saw.
        rng = np.random.default_rng(0)
        y = np.r_[rng.integers(0, 2, 300), np.full(100, 2)]
        X = np.eye(3)[y] + rng.normal(0, 0.1, (400, 3))
        net = mlp.Network([3, 8, 3], seed=0)
        history = net.fit(X, y, epochs=20, batch_size=16, validation_split=0.25, lr=0.01, verbose=0)
        self.assertGreater(history["val_accuracy"][-1], 0.95)

    def test_early_stopping_restores_the_best_weights(self):
        # Random labels: the network memorises the training half, so validation loss rises.
        rng = np.random.default_rng(0)
        X, y = rng.standard_normal((80, 10)), rng.integers(0, 3, 80)
        net = mlp.Network([10, 64, 64, 3], seed=0)
        history = net.fit(X[:40], y[:40], epochs=200, batch_size=8, lr=0.01,
                          validation_data=(X[40:], y[40:]), early_stopping=3, verbose=0)
        best = int(np.argmin(history["val_loss"]))
        self.assertLess(len(history["val_loss"]), 200)
        self.assertEqual(len(history["val_loss"]), best + 1 + 3)
        self.assertEqual(net.evaluate(X[40:], y[40:])["loss"], history["val_loss"][best])
        # The same run, given only 2 epochs past the best: the epochs run out before the
        # patience does, and the best weights still come back.
        net = mlp.Network([10, 64, 64, 3], seed=0)
        history = net.fit(X[:40], y[:40], epochs=best + 3, batch_size=8, lr=0.01,
                          validation_data=(X[40:], y[40:]), early_stopping=3, verbose=0)
        self.assertEqual(int(np.argmin(history["val_loss"])), best)
        self.assertNotEqual(history["val_loss"][-1], history["val_loss"][best])
        self.assertEqual(net.evaluate(X[40:], y[40:])["loss"], history["val_loss"][best])
        # Said when it happens, and only then: not when the best epoch is the last one.
        for epochs, said in ((best + 3, f"restored the weights of epoch {best + 1} "), (best + 1, None)):
            with contextlib.redirect_stdout(io.StringIO()) as out:
                mlp.Network([10, 64, 64, 3], seed=0).fit(X[:40], y[:40], epochs=epochs, batch_size=8, lr=0.01,
                                                        validation_data=(X[40:], y[40:]), early_stopping=3)
            restored = [line for line in out.getvalue().splitlines() if line.startswith("restored")]
            self.assertEqual(restored, [line for line in restored if said and line.startswith(said)])
            self.assertEqual(len(restored), 1 if said else 0)

    def test_ctrl_c_keeps_the_weights_and_returns_the_history_so_far(self):
        X, y = spiral(40)  # 120 rows: 8 batches of 16 per epoch
        net = mlp.Network([2, 8, 3], seed=0)
        adam = mlp.Adam()
        batches = []

        def press_ctrl_c_in_epoch_2(x_batch, rng):
            batches.append(len(x_batch))
            if len(batches) == 8 + 3:
                signal.raise_signal(signal.SIGINT)
            return x_batch

        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            history = net.fit(X, y, epochs=5, batch_size=16, optimizer=adam,
                              augment=press_ctrl_c_in_epoch_2)
        self.assertEqual(len(history["loss"]), 1)
        self.assertEqual(adam.t, 11)  # the batch during which Ctrl-C came was finished
        self.assertIn("interrupted in epoch 2", out.getvalue())
        self.assertIs(signal.getsignal(signal.SIGINT), signal.default_int_handler)
        self.assertTrue(all(np.isfinite(W).all() for W in net.weights))

    def test_ctrl_c_in_the_first_epoch_and_a_second_ctrl_c_or_an_exception_that_stops_at_once(self):
        X, y = spiral(40)
        for how in ("signal", "twice", "exception"):
            net = mlp.Network([2, 8, 3], seed=0)
            before = net.weights[0].copy()

            def interrupt(x_batch, rng):
                if how == "exception":
                    raise KeyboardInterrupt
                signal.raise_signal(signal.SIGINT)      # fit finishes this batch, then stops ...
                if how == "twice":
                    signal.raise_signal(signal.SIGINT)  # ... but a second Ctrl-C stops it here
                return x_batch

            history = net.fit(X, y, epochs=3, augment=interrupt, validation_split=0.2,
                              early_stopping=2, verbose=0)
            self.assertEqual(history["loss"], [])
            self.assertEqual(history["val_loss"], [])
            self.assertEqual(np.array_equal(net.weights[0], before), how != "signal")  # no step taken
            self.assertIs(signal.getsignal(signal.SIGINT), signal.default_int_handler)

    def test_a_diverging_loss_stops_with_a_clear_error_and_keeps_finite_weights(self):
        X = np.linspace(-1, 1, 64).reshape(-1, 1)
        y = 5 * X[:, 0]

        def network(epochs=0):
            net = mlp.Network([1, 16, 1], hidden="relu", output="identity", seed=0)
            if epochs:
                net.fit(X, y, epochs=epochs, batch_size=16, optimizer=mlp.SGD(lr=10.0), verbose=0)
            return net

        # numpy warns of the overflow, or raises FloatingPointError itself under "raise"
        for errors in ("ignore", "raise"):
            with self.subTest(errors=errors), np.errstate(all=errors):
                net = network()
                with self.assertRaisesRegex(FloatingPointError, r"diverged in epoch \d+.*smaller learning rate") as caught:
                    net.fit(X, y, epochs=50, batch_size=16, optimizer=mlp.SGD(lr=10.0), verbose=0)
                epoch = int(re.search(r"epoch (\d+)", str(caught.exception)).group(1))
                self.assertGreater(epoch, 1)
                # The same seed replays the run: the weights kept are those of the epoch before.
                replay = network(epoch - 1)
                for W, W_replay in zip(net.weights + net.biases, replay.weights + replay.biases):
                    np.testing.assert_array_equal(W, W_replay)
        # The last update of an epoch overflows the weights: the epoch's loss, that of the
        # outputs before the update, is finite, but the weights are not. One batch, so one
        # update, at a rate that takes a gradient above 1.2 past float32's largest number.
        net = network()
        before = [W.copy() for W in net.weights + net.biases]
        with np.errstate(all="ignore"), self.assertRaisesRegex(
                FloatingPointError, "diverged in epoch 1: the weights overflowed. The weights are "
                                    "those fit started from"):
            net.fit(X, y, epochs=1, batch_size=64, optimizer=mlp.SGD(lr=3e38), verbose=0)
        for W, W_before in zip(net.weights + net.biases, before):
            np.testing.assert_array_equal(W, W_before)

    def test_a_second_ctrl_c_inside_an_update_keeps_the_last_whole_epoch(self):
        # The second Ctrl-C raises KeyboardInterrupt wherever the code is: here, between two
        # slices of an optimizer step, which leaves that step half done. fit gives the epoch up.
        X, y = spiral(40)
        for make in (mlp.Adam, mlp.SGD):
            net, replay = mlp.Network([2, 8, 3], seed=0), mlp.Network([2, 8, 3], seed=0)
            optimizer, replay_optimizer = make(), make()
            optimizer.chunk = replay_optimizer.chunk = 20  # 59 parameters: three slices
            replay.fit(X, y, epochs=1, batch_size=16, optimizer=replay_optimizer, verbose=0)
            real_update, calls = optimizer._update, []

            def update(*args):
                calls.append(1)
                if len(calls) == 8 * 3 + 2 * 3 + 2:  # epoch 2, step 3, slice 2
                    raise KeyboardInterrupt
                real_update(*args)

            optimizer._update = update
            history = net.fit(X, y, epochs=3, batch_size=16, optimizer=optimizer, verbose=0)
            with self.subTest(optimizer=make.__name__):
                self.assertEqual(len(history["loss"]), 1)
                self.assertEqual(optimizer.t, replay_optimizer.t)
                for W, W_replay in zip(net.weights + net.biases, replay.weights + replay.biases):
                    np.testing.assert_array_equal(W, W_replay)
                for s, s_replay in zip(optimizer._state, replay_optimizer._state):
                    np.testing.assert_array_equal(s, s_replay)

    def test_ctrl_c_while_an_epoch_is_scored_is_not_lost(self):
        X, y = spiral(40)
        replay = mlp.Network([2, 8, 3], seed=0)
        replay_optimizer = mlp.Adam()
        replay.fit(X, y, epochs=2, batch_size=16, optimizer=replay_optimizer, validation_split=0.25, verbose=0)
        # A first Ctrl-C while the last epoch's validation rows are scored: that epoch's steps
        # all ran, but it is not reported, so that a caller (the command line) sees it stopped.
        net = mlp.Network([2, 8, 3], seed=0)
        real_metrics, calls = net._metrics, []

        def metrics(*args):
            calls.append(1)
            if len(calls) == 2:
                signal.raise_signal(signal.SIGINT)
            return real_metrics(*args)

        net._metrics = metrics
        history = net.fit(X, y, epochs=2, batch_size=16, optimizer=mlp.Adam(), validation_split=0.25, verbose=0)
        self.assertEqual(len(history["loss"]), 1)
        for W, W_replay in zip(net.weights + net.biases, replay.weights + replay.biases):
            np.testing.assert_array_equal(W, W_replay)
        # A second Ctrl-C while an interrupted epoch's outputs are scored: back to the last whole epoch.
        replay = mlp.Network([2, 8, 3], seed=0)
        replay_optimizer = mlp.Adam()
        replay.fit(X, y, epochs=1, batch_size=16, optimizer=replay_optimizer, verbose=0)
        net, optimizer = mlp.Network([2, 8, 3], seed=0), mlp.Adam()
        real_score, batches, scores = net._score, [], []

        def first_ctrl_c(x_batch, rng):
            batches.append(1)
            if len(batches) == 8 + 2:  # epoch 2, batch 2
                signal.raise_signal(signal.SIGINT)
            return x_batch

        def score(*args):
            scores.append(1)
            if len(scores) == 2:  # epoch 2's
                raise KeyboardInterrupt  # what the second Ctrl-C raises, wherever the code is
            return real_score(*args)

        net._score = score
        history = net.fit(X, y, epochs=3, batch_size=16, optimizer=optimizer, augment=first_ctrl_c, verbose=0)
        self.assertEqual(len(history["loss"]), 1)
        self.assertEqual(optimizer.t, replay_optimizer.t)
        for W, W_replay in zip(net.weights + net.biases, replay.weights + replay.biases):
            np.testing.assert_array_equal(W, W_replay)

    def test_ctrl_c_in_a_diverging_epoch_still_raises_and_keeps_the_last_finite_epoch(self):
        X = np.linspace(-1, 1, 64).reshape(-1, 1)
        y = 5 * X[:, 0]
        net = mlp.Network([1, 16, 1], hidden="relu", output="identity", seed=0)
        net.fit(X, y, epochs=1, batch_size=16, optimizer=mlp.SGD(lr=0.01), verbose=0)
        finite = [W.copy() for W in net.weights + net.biases]
        calls = []

        def blow_up_then_ctrl_c(x_batch, rng):
            calls.append(1)
            if len(calls) == 3:
                signal.raise_signal(signal.SIGINT)
            return x_batch * 1e30  # overflows to inf within the epoch's first batches

        with np.errstate(all="ignore"), self.assertRaisesRegex(FloatingPointError, "diverged in epoch 1"):
            net.fit(X, y, epochs=3, batch_size=16, optimizer=mlp.SGD(lr=10.0),
                    augment=blow_up_then_ctrl_c, verbose=0)
        self.assertEqual(len(calls), 3)  # stopped after the batch in which Ctrl-C came
        for W, W_finite in zip(net.weights + net.biases, finite):
            np.testing.assert_array_equal(W, W_finite)

    def test_a_divergence_rolls_the_optimizer_back_with_the_weights(self):
        X = np.linspace(-1, 1, 64).reshape(-1, 1)
        y = 5 * X[:, 0]
        for make in (lambda: mlp.Adam(lr=1e-3), lambda: mlp.SGD(lr=1e-3)):
            net = mlp.Network([1, 16, 1], hidden="relu", output="identity", seed=0)
            optimizer = make()
            net.fit(X, y, epochs=2, batch_size=16, optimizer=optimizer, verbose=0)
            state = [s.copy() for s in optimizer._state]
            with np.errstate(all="ignore"), self.assertRaises(FloatingPointError):
                net.fit(X, y, epochs=5, batch_size=16, optimizer=optimizer, lr=1e30, verbose=0)
            self.assertEqual(optimizer.t, 8)  # the steps of the two finite epochs
            for s, s_before in zip(optimizer._state, state):
                np.testing.assert_array_equal(s, s_before)
            # and the same optimizer trains on at a sane rate, from where it was
            before = net.loss(X, y)
            net.fit(X, y, epochs=3, batch_size=16, optimizer=optimizer, lr=1e-3, verbose=0)
            self.assertLess(net.loss(X, y), before)

    def test_a_copy_trains_on_its_own(self):
        # People keep a model's best weights with copy.deepcopy: the copy must train, and the
        # original must not move when it does.
        X, y = spiral(30)
        net = mlp.Network([2, 16, 3], seed=0)
        net.fit(X, y, epochs=2, verbose=0)
        for copied in (copy.deepcopy(net), pickle.loads(pickle.dumps(net))):
            before = [W.copy() for W in net.weights + net.biases]
            loss = copied.loss(X, y)
            copied.fit(X, y, epochs=5, lr=0.01, verbose=0)
            self.assertLess(copied.loss(X, y), 0.9 * loss)
            for W in copied.weights + copied.biases:
                self.assertTrue(np.shares_memory(W, copied._params))
            for W, W_before in zip(net.weights + net.biases, before):
                np.testing.assert_array_equal(W, W_before)

    def test_dropout_scales_what_it_keeps_and_keeps_one_minus_p(self):
        # Sigmoid units are never exactly 0, so a 0 in training is a dropped unit.
        net = mlp.Network([20, 400, 2], hidden="sigmoid", seed=0)
        X = np.random.default_rng(0).standard_normal((500, 20))
        x = net._inputs(X)
        plain = net._forward(x)[1][1]
        for p in (0.2, 0.5, 0.7):
            with self.subTest(p=p):
                dropped = net._forward(x, train=True, dropout=p)[1][1]
                self.assertAlmostEqual(float(np.mean(dropped == 0)), p, delta=0.01)
                kept = dropped != 0  # the kept units are scaled by 1 / (1 - p) ...
                np.testing.assert_allclose(dropped[kept], plain[kept] / (1 - p), rtol=1e-6)
                # ... so that the mean activation is that of the network without dropout
                self.assertAlmostEqual(float(dropped.mean() / plain.mean()), 1.0, delta=0.02)

    def test_dropout_is_off_when_predicting(self):
        X, y = spiral(30)
        net = mlp.Network([2, 32, 32, 3], seed=0)
        net.fit(X, y, epochs=3, dropout=0.5, verbose=0)
        first, second = net.predict_proba(X), net.predict_proba(X)
        np.testing.assert_array_equal(first, second)
        W1, W2, W3 = net.weights
        b1, b2, b3 = net.biases
        hidden = np.maximum(np.maximum(X @ W1 + b1, 0) @ W2 + b2, 0)
        np.testing.assert_allclose(first, mlp.softmax(hidden @ W3 + b3), rtol=1e-5, atol=1e-7)
        np.testing.assert_array_equal(net.feedforward(X)[1][-1], first)
        self.assertEqual(net.evaluate(X, y), net.evaluate(X, y))

    def test_each_epoch_visits_every_training_row_once_in_a_new_order(self):
        X = np.arange(40, dtype=float).reshape(-1, 1)  # row i holds the value i
        y = np.arange(40) % 2
        for validation_split, n_train in ((0.0, 40), (0.25, 30)):
            seen = []
            net = mlp.Network([1, 4, 2], seed=0)
            net.fit(X, y, epochs=3, batch_size=8, validation_split=validation_split,
                    augment=lambda x_batch, rng: seen.append(x_batch[:, 0].copy()) or x_batch,
                    verbose=0)
            epochs = np.concatenate(seen).reshape(3, n_train)
            with self.subTest(validation_split=validation_split):
                training_rows = set(epochs[0])
                self.assertEqual(len(training_rows), n_train)  # each row once, and no held-out row
                if validation_split:  # held out at random: neither the first rows nor the last
                    held_out = set(range(40)) - training_rows
                    self.assertNotIn(held_out, (set(range(10)), set(range(30, 40))))
                for epoch in epochs:
                    self.assertEqual(sorted(epoch), sorted(training_rows))
                self.assertFalse(np.array_equal(epochs[0], epochs[1]))
                self.assertFalse(np.array_equal(epochs[1], epochs[2]))

    def test_initial_weight_spread_is_he_for_relus_and_glorot_otherwise(self):
        for hidden, std in (("relu", math.sqrt(2 / 784)), ("elu", math.sqrt(2 / 784)),
                            ("tanh", math.sqrt(2 / (784 + 512))), ("sigmoid", math.sqrt(2 / (784 + 512)))):
            with self.subTest(hidden=hidden):
                net = mlp.Network([784, 512, 10], hidden=hidden, seed=0)
                self.assertAlmostEqual(float(net.weights[0].std()) / std, 1.0, delta=0.01)
                self.assertAlmostEqual(float(net.weights[0].mean()), 0.0, delta=0.01 * std)
                np.testing.assert_array_equal(net.biases[0], 0)
        # the layer after ReLUs is He's, whatever the output: its inputs are half zero
        net = mlp.Network([100, 400, 300], hidden="relu", output="sigmoid", seed=0)
        self.assertAlmostEqual(float(net.weights[1].std()) / math.sqrt(2 / 400), 1.0, delta=0.01)

    def test_augment_sees_training_batches_only_and_the_callers_data_is_untouched(self):
        X, y = spiral(40)
        X_val, y_val = X + 100.0, y  # far from every training row
        seen = []

        def augment(x_batch, rng):
            seen.append(x_batch.copy())
            x_batch += 1.0  # changing the batch in place must not reach the caller
            return x_batch

        X_copy, y_copy, X_val_copy = X.copy(), y.copy(), X_val.copy()
        net = mlp.Network([2, 8, 3], seed=0)
        net.fit(X, y, epochs=2, batch_size=16, augment=augment, validation_data=(X_val, y_val), verbose=0)
        self.assertTrue(all(np.abs(batch).max() < 50 for batch in seen))
        self.assertEqual(sum(len(batch) for batch in seen), 2 * len(X))
        for a, b in ((X, X_copy), (y, y_copy), (X_val, X_val_copy)):
            np.testing.assert_array_equal(a, b)

    def test_callers_arrays_are_never_modified(self):
        rng = np.random.default_rng(0)
        for dtype in (np.float32, np.float64):
            X = rng.standard_normal((50, 4)).astype(dtype)
            y = np.eye(3, dtype=dtype)[rng.integers(0, 3, 50)]
            X_copy, y_copy = X.copy(), y.copy()
            net = mlp.Network([4, 8, 3], seed=0)
            net.fit(X, y, epochs=2, dropout=0.5, l2=0.1, validation_split=0.2, verbose=0)
            net.predict(X), net.predict_proba(X), net.evaluate(X, y)
            net.loss(X, y, 0.1), net.backprop(X, y), net.feedforward(X)
            np.testing.assert_array_equal(X, X_copy)
            np.testing.assert_array_equal(y, y_copy)

    def test_predict_shapes_and_kinds(self):
        rng = np.random.default_rng(0)
        X = rng.standard_normal((7, 3))
        cases = [("softmax", 4, (7,)), ("sigmoid", 1, (7,)), ("sigmoid", 2, (7, 2)), ("identity", 2, (7, 2))]
        for output, k, shape in cases:
            net = mlp.Network([3, 5, k], output=output, seed=0)
            prediction = net.predict(X)
            self.assertEqual(prediction.shape, shape)
            proba = net.predict_proba(X)
            if output == "softmax":
                np.testing.assert_array_equal(prediction, proba.argmax(axis=1))
                np.testing.assert_allclose(proba.sum(axis=1), 1, rtol=1e-6)
            elif output == "sigmoid":
                np.testing.assert_array_equal(prediction.reshape(7, k), (proba > 0.5).astype(int))
            else:
                np.testing.assert_array_equal(prediction, proba)
        # predict_proba runs 4,096 rows at a time: every row comes back, in its place
        many = rng.standard_normal((2 * 4096 + 100, 3))
        net = mlp.Network([3, 5, 4], seed=0, dtype="float64")
        np.testing.assert_allclose(net.predict_proba(many), net.feedforward(many)[1][-1], rtol=1e-12)
        net = mlp.Network([3, 5, 2], output="identity", seed=0)
        self.assertEqual(set(net.evaluate(X, rng.standard_normal((7, 2)))), {"loss"})
        net = mlp.Network([3, 5, 2], seed=0)
        self.assertEqual(set(net.evaluate(X, [0, 1, 0, 1, 0, 1, 0])), {"loss", "accuracy"})

    def test_assigning_a_weight_matrix_copies_it_into_the_parameters(self):
        net = mlp.Network([2, 3, 2], seed=0)
        net.weights[0] = np.ones((2, 3))
        net.weights[1] += 1.0
        np.testing.assert_array_equal(net._params[:6], 1.0)
        with self.assertRaisesRegex(ValueError, "shape"):
            net.biases[0] = np.ones(4)
        with self.assertRaises(AttributeError):
            net.weights = []


class Errors(unittest.TestCase):
    """Bad input raises an error that names the argument."""

    def setUp(self):
        self.net = mlp.Network([4, 5, 3], seed=0)
        self.X = np.zeros((6, 4))
        self.y = np.array([0, 1, 2, 0, 1, 2])

    def fits(self, **kwargs):
        arguments = dict(X=self.X, y=self.y, epochs=1, verbose=0)
        arguments.update(kwargs)
        return self.net.fit(**arguments)

    def test_bad_inputs_name_what_was_wrong(self):
        X, y = self.X, self.y
        nan_X = X.copy()
        nan_X[2, 1] = np.nan
        inf_y = np.zeros((6, 3))
        inf_y[0, 0] = np.inf
        cases = [
            (ValueError, r"X must be 2-D.*\(4,\).*x\.reshape\(1, -1\)", lambda: self.net.predict(np.zeros(4))),
            (ValueError, r"X must be 2-D.*\(2, 3, 4\)", lambda: self.net.predict(np.zeros((2, 3, 4)))),
            (ValueError, r"X has 5 columns.*sizes\[0\] = 4", lambda: self.net.predict(np.zeros((6, 5)))),
            (ValueError, r"X and y have different lengths: 6 and 5", lambda: self.fits(y=y[:5])),
            (ValueError, r"X contains NaN or inf", lambda: self.fits(X=nan_X)),
            (ValueError, r"y contains NaN or inf", lambda: self.fits(y=inf_y)),
            (ValueError, r"y holds the label 3, outside the integers \[0, 3\)", lambda: self.fits(y=y + 1)),
            (ValueError, r"y holds the label -1", lambda: self.fits(y=y - 1)),
            (ValueError, r"y holds the label 0\.5", lambda: self.fits(y=y * 0.5)),
            (ValueError, r"one-hot y has width 4, but the output layer has 3", lambda: self.fits(y=np.eye(4)[y])),
            (ValueError, r"every row of one-hot y must sum to 1", lambda: self.fits(y=np.ones((6, 3)))),
            (ValueError, r"X is empty", lambda: self.fits(X=np.zeros((0, 4)), y=[])),
            (TypeError, r"X must hold numbers", lambda: self.net.predict([["a", "b", "c", "d"]])),
            (ValueError, r"epochs must be a positive integer; got 0", lambda: self.fits(epochs=0)),
            (TypeError, r"epochs must be an integer; got 2\.5", lambda: self.fits(epochs=2.5)),
            (TypeError, r"epochs must be an integer; got True", lambda: self.fits(epochs=True)),
            (ValueError, r"batch_size must be a positive integer; got -1", lambda: self.fits(batch_size=-1)),
            (ValueError, r"lr must be positive; got 0", lambda: self.fits(lr=0)),
            (ValueError, r"lr must be positive; got -0\.1", lambda: mlp.SGD(lr=-0.1)),
            (ValueError, r"lr must be finite", lambda: self.fits(lr=float("nan"))),
            (ValueError, r"dropout must be in \[0, 1\); got 1", lambda: self.fits(dropout=1)),
            (ValueError, r"dropout must be in \[0, 1\); got -0\.1", lambda: self.fits(dropout=-0.1)),
            (ValueError, r"l2 must be 0 or more", lambda: self.fits(l2=-1)),
            (ValueError, r"validation_split must be in \[0, 1\)", lambda: self.fits(validation_split=1.5)),
            (ValueError, r"validation_split=0\.01 of 6 rows leaves 0", lambda: self.fits(validation_split=0.01)),
            (ValueError, r"validation_data or validation_split, not both",
             lambda: self.fits(validation_split=0.5, validation_data=(X, y))),
            (ValueError, r"X_val has 3 columns", lambda: self.fits(validation_data=(np.zeros((2, 3)), [0, 1]))),
            (ValueError, r"early_stopping needs validation", lambda: self.fits(early_stopping=2)),
            (ValueError, r"unknown optimizer 'rmsprop'", lambda: self.fits(optimizer="rmsprop")),
            (TypeError, r"optimizer must be", lambda: self.fits(optimizer=3)),
            (ValueError, r"unknown schedule 'linear'", lambda: self.fits(schedule="linear")),
            (TypeError, r"augment must be a function", lambda: self.fits(augment="shift")),
            (ValueError, r"augment must return an array of its batch's shape \(6, 4\); got \(5, 4\)",
             lambda: self.fits(augment=lambda x_batch, rng: x_batch[1:])),
            (TypeError, r"shuffle must be True or False; got 'no'", lambda: self.fits(shuffle="no")),
            (ValueError, r"verbose must be True or False; got 2", lambda: self.fits(verbose=2)),
            (TypeError, r"nesterov must be True or False; got 'no'", lambda: mlp.SGD(nesterov="no")),
            (TypeError, r"download must be True or False; got 'no'", lambda: mlp.load_mnist(download="no")),
            (ValueError, r"unknown activation 'rellu' for hidden", lambda: mlp.Network([2, 3, 2], hidden="rellu")),
            (ValueError, r"unknown activation 'soft' for output", lambda: mlp.Network([2, 3, 2], output="soft")),
            (ValueError, r"softmax can only be the output activation",
             lambda: mlp.Network([2, 3, 2], hidden="softmax")),
            (ValueError, r"hidden names 1 activations, but sizes has 2 hidden layers",
             lambda: mlp.Network([2, 3, 3, 2], hidden=["relu"])),
            (ValueError, r"unknown loss 'hinge'", lambda: mlp.Network([2, 3, 2], loss="hinge")),
            (ValueError, r"loss='cross_entropy'.*probabilities",
             lambda: mlp.Network([2, 3, 2], output="tanh", loss="cross_entropy")),
            (ValueError, r"softmax output needs at least 2 units", lambda: mlp.Network([2, 3, 1])),
            (ValueError, r"sizes needs at least 2 entries", lambda: mlp.Network([784])),
            (ValueError, r"every entry of sizes must be at least 1", lambda: mlp.Network([784, 0, 10])),
            (TypeError, r"sizes must hold integers", lambda: mlp.Network([784, 12.5, 10])),
            (TypeError, r"sizes must be a list", lambda: mlp.Network(784)),
            (ValueError, r"dtype must be 'float32' or 'float64'; got 'int32'", lambda: mlp.Network([2, 2], dtype="int32")),
            (ValueError, r"y must hold values in \[0, 1\] for binary_cross_entropy",
             lambda: mlp.Network([4, 2], output="sigmoid").fit(X, np.full((6, 2), 2.0), verbose=0)),
            (ValueError, r"y has shape \(6,\) but the network has 2 outputs",
             lambda: mlp.Network([4, 2], output="identity").fit(X, np.zeros(6), verbose=0)),
            (TypeError, r"hidden must be an activation name or a list of them; got None",
             lambda: mlp.Network([4, 3, 2], hidden=None)),
            (ValueError, r"dtype must be 'float32' or 'float64'; got None", lambda: mlp.Network([2, 2], dtype=None)),
            (ValueError, r"dtype must be 'float32' or 'float64'; got dtype\('>f4'\)",
             lambda: mlp.Network([2, 2], dtype=np.dtype(">f4"))),
            (ValueError, r"seed must be 0 or more; got -1", lambda: mlp.Network([2, 2], seed=-1)),
            (TypeError, r"seed must be None or an integer; got 1.5", lambda: mlp.Network([2, 2], seed=1.5)),
            (ValueError, r"X holds values too large for float32 \(up to 1e\+39\)",
             lambda: self.net.predict(np.full((5, 4), 1e39))),
            (ValueError, r"y holds values too large for float32",
             lambda: mlp.Network([4, 2], output="identity").fit(X, np.full((6, 2), -1e39), verbose=0)),
        ]
        for error, pattern, call in cases:
            with self.subTest(pattern=pattern):
                with self.assertRaisesRegex(error, pattern):
                    call()

    def test_an_output_that_overflows_is_an_error_that_names_x(self):
        # Finite float32 inputs can still overflow inside the network: say so, do not predict 0.
        net = mlp.Network([8, 16, 3], seed=0)
        for X in (np.full((5, 8), 3e38, np.float32), np.full((5, 8), -3e38)):
            for call in (net.predict, net.predict_proba, lambda X: net.evaluate(X, [0] * 5),
                         lambda X: net.loss(X, [0] * 5)):
                with self.subTest(X=X[0, 0], call=call), np.errstate(all="raise"), \
                        self.assertRaisesRegex(ValueError, r"output for X is not finite: its values, up to 3e\+38"):
                    call(X)

    def test_accuracy_of_several_sigmoid_units_counts_rows_with_every_unit_right(self):
        net = mlp.Network([2, 2], output="sigmoid", seed=0)
        net.weights[0] = [[10.0, 0.0], [0.0, 10.0]]  # output k is sigmoid(10 x_k)
        X = np.array([[1.0, 1.0], [1.0, -1.0], [-1.0, -1.0], [-1.0, 1.0]])
        Y = np.array([[1, 1], [1, 1], [0, 0], [1, 1]])  # rows 0 and 2 right; 1 and 3 half right
        self.assertEqual(net.evaluate(X, Y)["accuracy"], 0.5)
        history = net.fit(X, Y, epochs=1, batch_size=4, lr=1e-12, verbose=0)
        self.assertEqual(history["accuracy"], [0.5])

    def test_a_failed_call_changes_nothing(self):
        before = self.net._params.copy()
        with self.assertRaises(ValueError):
            self.fits(y=self.y + 1)
        np.testing.assert_array_equal(self.net._params, before)

    def test_the_finite_check_sees_inf_and_nan_but_not_a_sum_that_overflows(self):
        net = mlp.Network([4, 3], seed=0)
        net.weights[0] = np.zeros((4, 3))
        huge = np.full((2, 4), 3e38, np.float32)  # finite, but their float32 sum is inf
        with np.errstate(all="raise"):
            np.testing.assert_array_equal(net.predict(huge), [0, 0])
        for bad in ([np.inf, -np.inf, 0, 0], [np.inf, 0, 0, 0], [-np.inf, 0, 0, 0], [0, np.nan, 0, 0]):
            X = np.array([bad, [0, 0, 0, 0]], np.float32)
            with self.subTest(bad=bad), self.assertRaisesRegex(ValueError, "X contains NaN or inf"):
                net.predict(X)


def write_npz(path, **arrays):
    with open(path, "wb") as f:
        np.savez(f, **arrays)


class Saving(unittest.TestCase):

    def setUp(self):
        self.folder = tempfile.TemporaryDirectory()
        self.path = os.path.join(self.folder.name, "model.npz")

    def tearDown(self):
        self.folder.cleanup()

    def test_round_trip_gives_identical_predictions(self):
        X, y = spiral(20)
        cases = (("float32", ["tanh", "relu"], "softmax", None), ("float64", ["elu", "sigmoid"], "sigmoid", None),
                 ("float32", ["relu", "relu"], "sigmoid", "mse"))  # not the output's natural loss
        for dtype, hidden, output, loss in cases:
            net = mlp.Network([2, 6, 5, 3], hidden=hidden, output=output, loss=loss, seed=0, dtype=dtype)
            net.fit(X, np.eye(3)[y], epochs=2, verbose=0)
            net.save(self.path)
            loaded = mlp.Network.load(self.path)
            self.assertEqual(repr(loaded), repr(net))
            np.testing.assert_array_equal(loaded.predict_proba(X), net.predict_proba(X))
            self.assertEqual(loaded.evaluate(X, np.eye(3)[y]), net.evaluate(X, np.eye(3)[y]))
            self.assertEqual(os.listdir(self.folder.name), ["model.npz"])
        net = mlp.Network([3, 2], output="identity", seed=0)  # no hidden layer at all
        net.save(self.path)
        self.assertEqual(mlp.Network.load(self.path).hidden, [])

    def test_a_failed_save_leaves_the_old_file(self):
        mlp.Network([2, 3, 2], seed=0).save(self.path)
        with open(self.path, "rb") as f:
            old = f.read()

        def fail_halfway(f, **arrays):
            f.write(b"PK half a file")
            raise OSError("disk full")

        with mock.patch.object(np, "savez", fail_halfway), self.assertRaisesRegex(OSError, "disk full"):
            mlp.Network([2, 3, 2], seed=1).save(self.path)
        with open(self.path, "rb") as f:
            self.assertEqual(f.read(), old)
        self.assertEqual(os.listdir(self.folder.name), ["model.npz"])

    def test_load_rejects_pickles_and_malformed_files(self):
        good = mlp.Network([2, 3, 2], seed=0)
        good.save(self.path)
        with mock.patch.object(np.lib.format, "read_array", wraps=np.lib.format.read_array) as read:
            mlp.Network.load(self.path)
        self.assertEqual(read.call_count, 8)  # every array, each read with allow_pickle=False
        self.assertTrue(all(call.kwargs.get("allow_pickle") is False for call in read.call_args_list))
        with np.load(self.path) as data:
            arrays = dict(data)

        def variant(**changes):
            new = dict(arrays, **changes)
            write_npz(self.path, **{k: v for k, v in new.items() if v is not None})

        def write(data):
            with open(self.path, "wb") as f:
                f.write(data)

        npy = io.BytesIO()
        np.save(npy, np.zeros(3))
        cases = [
            (lambda: write(pickle.dumps(good)), r"not a model saved by Network.save"),
            (lambda: write(b"garbage" * 10), r"not a model saved"),
            (lambda: write(b"PK\x03\x04" + b"broken zip" * 10), r"not a model saved"),
            (lambda: variant(sizes=np.array([5])), r"sizes must be a 1-D integer array of 2 or more"),
            (lambda: write(npy.getvalue()), r"not a model saved"),
            (lambda: variant(weights_1=None), r"which take 8 arrays; found 7: \['biases_0'"),
            (lambda: variant(extra=np.zeros(2)), r"which take 8 arrays; found 9: .*'extra'"),
            (lambda: variant(weights_0=np.zeros((3, 3), np.float32)), r"weights_0 has shape \(3, 3\)"),
            (lambda: variant(biases_1=np.array([np.nan, 0], np.float32)), r"biases_1 holds NaN"),
            (lambda: variant(hidden=np.array(["banana"])), r"unknown activation 'banana'"),
            (lambda: variant(sizes=np.array([2.0, 3.0, 2.0])), r"sizes must be a 1-D integer array"),
            (lambda: variant(output=np.array([object()], dtype=object)), r"not a model saved"),
        ]
        for make, pattern in cases:
            with self.subTest(pattern=pattern):
                make()
                with self.assertRaisesRegex(ValueError, pattern):
                    mlp.Network.load(self.path)
        with self.assertRaises(FileNotFoundError):
            mlp.Network.load(os.path.join(self.folder.name, "missing.npz"))

    def test_load_checks_what_a_hostile_file_declares_before_reading_or_allocating(self):
        def npy(array, shape=None):
            """An .npy file of array, whose header may declare another shape."""
            f = io.BytesIO()
            np.save(f, array)
            data = f.getvalue()
            if shape is not None:
                data = data.replace(repr(array.shape).encode(), repr(shape).encode().ljust(len(repr(array.shape))), 1)
            return data

        def archive(members, compression=zipfile.ZIP_STORED):
            with zipfile.ZipFile(self.path, "w", compression) as z:
                for name, data in members.items():
                    if data is not None:  # None: left out
                        z.writestr(name + ".npy", data)

        names = {"sizes": npy(np.array([3, 4, 2])), "hidden": npy(np.array(["relu"])),
                 "output": npy(np.array("softmax")), "loss": npy(np.array("cross_entropy")),
                 "weights_0": npy(np.zeros((3, 4), np.float32)), "biases_0": npy(np.zeros(4, np.float32)),
                 "weights_1": npy(np.zeros((4, 2), np.float32)), "biases_1": npy(np.zeros(2, np.float32))}
        archive(names)
        self.assertEqual(mlp.Network.load(self.path).sizes, [3, 4, 2])  # the honest file loads
        big = np.array([100000, 100000, 3])
        cases = [
            # 37 GiB of weights declared in a few KB: the headers disagree with sizes
            (dict(names, sizes=npy(big)), r"weights_0 has shape \(3, 4\) .* expected \(100000, 100000\)"),
            # a header that matches sizes but a member that does not hold the data
            (dict(names, sizes=npy(big), weights_0=npy(np.zeros((3, 4), np.float32), (100000, 100000))),
             r"weights_0 declares \(100000, 100000\) of float32 but holds \d+ bytes"),
            (dict(names, weights_1=npy(np.zeros((4, 2), np.float32), (100000, 100000))),
             r"weights_1 declares \(100000, 100000\) of float32 but holds \d+ bytes"),
            (dict(names, extra=npy(np.zeros(10))), r"take 8 arrays; found 9: .*'extra'"),
            (dict(names, extra=npy(np.zeros(10)), weights_1=None), r"expected the arrays .* found .*'extra'"),
            (dict(names, output=npy(np.array(["softmax", "relu"]))), r"output has shape \(2,\) and dtype <U7; expected \(\) of text"),
            (dict(names, weights_0=npy(np.zeros((3, 4)))), r"share one dtype"),
        ]
        real_open = zipfile.ZipFile.open
        for members, pattern in cases:
            with self.subTest(pattern=pattern):
                archive(members)
                opened = []
                with mock.patch.object(zipfile.ZipFile, "open", lambda z, name, *a, **k:
                                       opened.append(getattr(name, "filename", name)) or real_open(z, name, *a, **k)), \
                        mock.patch.object(np.lib.format, "read_array", wraps=np.lib.format.read_array) as read, \
                        mock.patch.object(mlp.Network, "__init__", side_effect=AssertionError("allocated")):
                    with self.assertRaisesRegex(ValueError, pattern):
                        mlp.Network.load(self.path)
                self.assertNotIn("extra.npy", opened)
                self.assertLessEqual(read.call_count, 1)  # sizes at most: no weights were read
        # A zip bomb: a deflated member whose header and zip entry agree on 4 GB of weights, in a
        # file of 2 KB. Deflate expands at most ~1032 times, so it is refused before allocating.
        sizes = np.array([25000, 40000, 2])
        archive(dict(names, sizes=npy(sizes), weights_0=npy(np.zeros((3, 4), np.float32), (25000, 40000)),
                     weights_1=npy(np.zeros((40000, 2), np.float32)), biases_0=npy(np.zeros(40000, np.float32))),
                zipfile.ZIP_DEFLATED)
        with zipfile.ZipFile(self.path) as z:
            info = z.getinfo("weights_0.npy")
        with open(self.path, "rb") as f:
            data = bytearray(f.read())
        entry = data.index(b"PK\x01\x02")  # the central directory: an entry per member
        while data[entry + 46:entry + 46 + len(b"weights_0.npy")] != b"weights_0.npy":
            entry = data.index(b"PK\x01\x02", entry + 4)
        header_length = info.file_size - 3 * 4 * 4
        struct.pack_into("<I", data, entry + 24, header_length + 25000 * 40000 * 4)
        with open(self.path, "wb") as f:
            f.write(data)
        with mock.patch.object(mlp.Network, "__init__", side_effect=AssertionError("allocated")), \
                self.assertRaisesRegex(ValueError, r"weights_0 declares \(25000, 40000\) of float32 but holds "
                                                   r"4000000\d+ bytes \(\d+ compressed\)"):
            mlp.Network.load(self.path)

    def test_load_reads_every_member_through_before_allocating_and_names_any_zip_failure(self):
        def npy(array):
            f = io.BytesIO()
            np.save(f, array)
            return f.getvalue()

        def header_only(shape):  # an .npy header that declares shape, and no data after it
            f = io.BytesIO()
            np.lib.format.write_array_header_1_0(f, {"descr": "<f4", "fortran_order": False, "shape": shape})
            return f.getvalue()

        n = 5 * 10**7
        text = {"hidden": npy(np.array([], "<U4")), "output": npy(np.array("softmax")),
                "loss": npy(np.array("cross_entropy"))}
        # 1 KB whose zip entries claim 200 MB each, with the CRCs of what they really hold
        with zipfile.ZipFile(self.path, "w", zipfile.ZIP_DEFLATED) as z:
            for name, data in dict(text, sizes=npy(np.array([1, n]))).items():
                z.writestr(name + ".npy", data)
            for name, shape in (("weights_0", (1, n)), ("biases_0", (n,))):
                z.writestr(name + ".npy", header_only(shape))
                info = z.getinfo(name + ".npy")
                info.file_size = info.file_size + 4 * n
                info.compress_size = info.file_size // 1000
        with mock.patch.object(mlp.Network, "__init__", side_effect=AssertionError("allocated")), \
                self.assertRaisesRegex(ValueError, r"weights_0 declares \(1, 50000000\) of float32 but holds 128 bytes$"):
            mlp.Network.load(self.path)
        # sizes of a million widths in a few KB: refused by counting, not by listing the names
        archive = dict(text, sizes=npy(np.ones(10**6, np.int64)))
        with zipfile.ZipFile(self.path, "w", zipfile.ZIP_DEFLATED) as z:
            for name, data in archive.items():
                z.writestr(name + ".npy", data)
        with self.assertRaisesRegex(ValueError, r"sizes declares 999999 layers, which take 2000002 arrays; found 4: "):
            mlp.Network.load(self.path)
        # a name of a million characters
        good = mlp.Network([4, 3, 2], seed=0)
        good.save(self.path)
        with zipfile.ZipFile(self.path) as z:
            members = {name: z.read(name) for name in z.namelist()}
        members["hidden.npy"] = npy(np.array(["relu"], "<U1000000"))
        with zipfile.ZipFile(self.path, "w", zipfile.ZIP_DEFLATED) as z:
            for name, data in members.items():
                z.writestr(name, data)
        with self.assertRaisesRegex(ValueError, "hidden holds text of 1000000 characters"):
            mlp.Network.load(self.path)
        # an encrypted member, and one of a compression zipfile cannot read: ValueError, not RuntimeError
        good.save(self.path)
        with open(self.path, "rb") as f:
            data = f.read()
        for offset, value, pattern in ((6, b"\x01", "encrypted"), (8, b"\x06", "compressed with method 6")):
            forged = bytearray(data)
            for signature, at in ((b"PK\x03\x04", offset), (b"PK\x01\x02", offset + 2)):
                i = forged.find(signature)
                while i != -1:
                    forged[i + at] |= value[0]
                    i = forged.find(signature, i + 4)
            with self.subTest(pattern=pattern):
                with open(self.path, "wb") as f:
                    f.write(forged)
                with self.assertRaisesRegex(ValueError, pattern):
                    mlp.Network.load(self.path)
        # bzip2: zipfile would decompress a whole read at once, however much it makes
        with zipfile.ZipFile(self.path, "w", zipfile.ZIP_BZIP2) as z:
            for name, data in members.items():
                z.writestr(name, data)
        with self.assertRaisesRegex(ValueError, "compressed with method 12, which save never uses"):
            mlp.Network.load(self.path)
        # what is not a regular file is never read (a FIFO would wait forever, /dev/zero never end)
        fifo = os.path.join(self.folder.name, "fifo")
        if hasattr(os, "mkfifo"):
            os.mkfifo(fifo)
        for path in (self.folder.name, os.devnull, fifo):
            with self.subTest(path=path), self.assertRaisesRegex(ValueError, "not a regular file"):
                mlp.Network.load(path)
        # and a path given as bytes, as save takes it
        good.save(os.fsencode(self.path))
        self.assertEqual(mlp.Network.load(os.fsencode(self.path)).sizes, [4, 3, 2])

    def test_load_accepts_big_endian_weights(self):
        net = mlp.Network([3, 4, 2], seed=0)
        arrays = {"sizes": np.array(net.sizes), "hidden": np.array(net.hidden), "output": np.array("softmax"),
                  "loss": np.array("cross_entropy")}
        for l, (W, b) in enumerate(zip(net.weights, net.biases)):
            arrays[f"weights_{l}"], arrays[f"biases_{l}"] = W.astype(">f4"), b.astype(">f4")
        write_npz(self.path, **arrays)
        loaded = mlp.Network.load(self.path)
        self.assertEqual(loaded.dtype, np.float32)
        for W, W_loaded in zip(net.weights, loaded.weights):
            np.testing.assert_array_equal(W, W_loaded)

    def test_save_replaces_only_a_regular_file_and_never_writes_through_a_link(self):
        victim = os.path.join(self.folder.name, "victim")
        with open(victim, "w") as f:
            f.write("precious")
        link = os.path.join(self.folder.name, "link.npz")
        os.symlink(victim, link)
        fifo = os.path.join(self.folder.name, "fifo")
        os.mkfifo(fifo)
        net = mlp.Network([2, 3, 2], seed=0)
        for path in (link, fifo, self.folder.name):
            with self.subTest(path=path), self.assertRaisesRegex(ValueError, "is not a regular file: refusing"):
                net.save(path)
        # A link planted where the temporary file will be made is not written through either.
        tokens = iter([b"\x00\x01\x02\x03", b"\x04\x05\x06\x07"])
        os.symlink(victim, self.path + ".00010203.part")
        with mock.patch.object(mlp.os, "urandom", lambda n: next(tokens)):
            net.save(self.path)
        with open(victim) as f:
            self.assertEqual(f.read(), "precious")
        self.assertEqual(mlp.Network.load(self.path).sizes, [2, 3, 2])
        umask = os.umask(0o022)
        os.umask(umask)
        self.assertEqual(os.stat(self.path).st_mode & 0o777, 0o666 & ~umask)
        # a bytes path works, and a folder that is not there is named
        net.save(os.fsencode(self.path))
        with self.assertRaisesRegex(FileNotFoundError, r"cannot write .*missing/model.npz: there is no folder"):
            net.save(os.path.join(self.folder.name, "missing", "model.npz"))
        self.assertEqual(sorted(os.listdir(self.folder.name)),
                         ["fifo", "link.npz", "model.npz", "model.npz.00010203.part", "victim"])


# ============================================================================ MNIST loader

def idx_bytes(array, magic):
    """An IDX file: big-endian magic number, dimensions, then the bytes."""
    return struct.pack(f">I{array.ndim}I", magic, *array.shape) + array.astype(np.uint8).tobytes()


def fake_mnist(n_train=30, n_test=10, seed=0):
    """Small random IDX files under the standard names, uncompressed: {name: payload}."""
    rng = np.random.default_rng(seed)
    arrays = {
        "train-images-idx3-ubyte": rng.integers(0, 256, (n_train, 28, 28)),
        "train-labels-idx1-ubyte": rng.integers(0, 10, n_train),
        "t10k-images-idx3-ubyte": rng.integers(0, 256, (n_test, 28, 28)),
        "t10k-labels-idx1-ubyte": rng.integers(0, 10, n_test),
    }
    return {name: idx_bytes(a, 2051 if "images" in name else 2049) for name, a in arrays.items()}, arrays


def sha256(data):
    return hashlib.sha256(data).hexdigest()


def gzip_bomb(announced, zeros):
    """A small gzip file that inflates to an IDX images header announcing `announced` images,
    then `zeros` zero bytes."""
    return gzip.compress(struct.pack(">4I", 2051, announced, 28, 28) + bytes(zeros), 1)


def trickle(data, pause):
    """A body sent one byte at a time, pause seconds apart."""
    for i in range(len(data)):
        time.sleep(pause)
        yield data[i:i + 1]


class Server:
    """An HTTP server on 127.0.0.1 serving {path: (status, body)} or {path: (status, body,
    headers)}; it records every request. body is bytes, or an iterable of byte strings sent one
    after the other (to trickle or stall); headers replace the default, the Content-Length of a
    bytes body, to lie about the length or leave it out."""

    def __init__(self, routes):
        self.routes, self.requests, self.agents = routes, [], []
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                outer.requests.append(self.path)
                outer.agents.append(self.headers.get("User-Agent", ""))
                status, body, *headers = outer.routes.get(self.path, (404, b"<html>404 Not Found</html>"))
                self.send_response(status)
                for key, value in (headers[0] if headers else {"Content-Length": len(body)}).items():
                    self.send_header(key, str(value))
                self.end_headers()
                try:
                    for chunk in [body] if isinstance(body, bytes) else body:
                        self.wfile.write(chunk)
                except OSError:  # the client hung up
                    pass

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        # A short poll interval: close() waits for one.
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


class MnistLoader(unittest.TestCase):

    def setUp(self):
        self.payloads, self.arrays = fake_mnist()
        self.gz = {name + ".gz": gzip.compress(data, mtime=0) for name, data in self.payloads.items()}
        checksums = {name: sha256(data) for name, data in self.gz.items()}
        self.checksums = mock.patch.dict(mlp.SHA256, {"mnist": checksums})
        self.checksums.start()
        self.folder = tempfile.TemporaryDirectory()
        self.cache = os.path.join(self.folder.name, "cache")
        self.servers = []

    def tearDown(self):
        self.checksums.stop()
        for server in self.servers:
            server.close()
        self.folder.cleanup()

    def serve(self, **bodies):
        """A server for one mirror: default good files, overridden per file name."""
        routes = {f"/m/{name}": (200, data) for name, data in self.gz.items()}
        routes.update({f"/m/{name.replace('_', '-')}.gz": body for name, body in bodies.items()})
        server = Server(routes)
        self.servers.append(server)
        return server

    def mirrors(self, *urls):
        return mock.patch.dict(mlp.MIRRORS, {"mnist": list(urls)})

    def limits(self, **values):
        """The download limits (DOWNLOAD_BYTES, READ_TIMEOUT, DOWNLOAD_DEADLINE) set to values."""
        return mock.patch.multiple(mlp, **values)

    def place(self, folder, **files):
        """Write {filename: bytes} in folder (made if need be)."""
        os.makedirs(folder, exist_ok=True)
        for filename, data in files.items():
            with open(os.path.join(folder, filename), "wb") as f:
                f.write(data)

    def assert_loaded(self, data):
        (X, y), (X_test, y_test) = data
        self.assertEqual((X.shape, X.dtype, y.dtype), ((30, 784), np.float32, np.int64))
        np.testing.assert_array_equal(X, self.arrays["train-images-idx3-ubyte"].reshape(30, 784).astype(np.float32) / 255)
        np.testing.assert_array_equal(y, self.arrays["train-labels-idx1-ubyte"])
        np.testing.assert_array_equal(np.round(X_test * 255), self.arrays["t10k-images-idx3-ubyte"].reshape(10, 784))
        np.testing.assert_array_equal(y_test, self.arrays["t10k-labels-idx1-ubyte"])

    def assert_nothing_kept(self):
        self.assertFalse(os.path.exists(self.cache) and os.listdir(self.cache))

    def test_download_then_parse(self):
        server = self.serve()
        with self.mirrors(server.url + "/m/"):
            self.assert_loaded(mlp.load_mnist(self.cache))
        self.assertEqual(sorted(os.listdir(self.cache)), sorted(self.gz))
        self.assertTrue(all(agent.startswith("mlp.py") for agent in server.agents))
        for name, data in self.gz.items():
            with open(os.path.join(self.cache, name), "rb") as f:
                self.assertEqual(f.read(), data)

    def test_a_corrupt_mirror_is_skipped_and_its_bytes_not_kept(self):
        bad = self.serve(train_images_idx3_ubyte=(200, self.gz["train-images-idx3-ubyte.gz"][:-7] + b"garbage"))
        good = self.serve()
        with self.mirrors(bad.url + "/m/", good.url + "/m/"):
            self.assert_loaded(mlp.load_mnist(self.cache))
        self.assertEqual(good.requests, ["/m/train-images-idx3-ubyte.gz"])
        self.assertEqual(sorted(os.listdir(self.cache)), sorted(self.gz))

    def test_an_html_error_page_is_not_taken_for_data(self):
        page = (200, b"<!DOCTYPE html><html><body>404 Not Found</body></html>")
        server = self.serve(**{name.replace("-", "_"): page for name in self.payloads})
        with self.mirrors(server.url + "/m/"), self.assertRaisesRegex(OSError, "checksum differs"):
            mlp.load_mnist(self.cache)
        self.assert_nothing_kept()

    def test_when_every_mirror_fails_the_error_lists_them_and_nothing_is_kept(self):
        missing = self.serve(train_images_idx3_ubyte=(404, b"<html>not here</html>"))
        corrupt = self.serve(train_images_idx3_ubyte=(200, b"\x1f\x8b not gzip"))
        closed = "http://127.0.0.1:9/m/"  # the discard port: nothing listens there
        with self.mirrors(missing.url + "/m/", corrupt.url + "/m/", closed):
            with self.assertRaises(OSError) as caught:
                mlp.load_mnist(self.cache)
        message = str(caught.exception)
        for mirror in (missing.url + "/m/", corrupt.url + "/m/", closed):
            self.assertIn(mirror + "train-images-idx3-ubyte.gz: ", message)
        self.assertIn("HTTP Error 404", message)
        self.assertIn("checksum differs", message)
        self.assertIn("by hand", message)
        self.assertNotIn("\n", message)
        self.assert_nothing_kept()

    def test_an_interrupted_download_leaves_nothing(self):
        server = self.serve()
        real_urlopen = mlp.urllib.request.urlopen

        def urlopen(request, timeout):
            response = real_urlopen(request, timeout=timeout)
            response.read1 = mock.Mock(side_effect=[b"\x1f\x8b partial", KeyboardInterrupt])
            return response

        with self.mirrors(server.url + "/m/"), mock.patch.object(mlp.urllib.request, "urlopen", urlopen):
            with self.assertRaises(KeyboardInterrupt):
                mlp.load_mnist(self.cache)
        self.assert_nothing_kept()

    def test_files_already_there_need_no_network(self):
        os.makedirs(self.cache)
        for name, data in self.gz.items():
            with open(os.path.join(self.cache, name), "wb") as f:
                f.write(data)
        server = self.serve()
        with self.mirrors(server.url + "/m/"), warnings.catch_warnings():
            warnings.simplefilter("error")
            self.assert_loaded(mlp.load_mnist(self.cache))
            self.assert_loaded(mlp.load_mnist(os.fsencode(self.cache)))  # a bytes path too
            with mock.patch.dict(os.environ, {"MLP_DATA": self.cache}):
                self.assert_loaded(mlp.load_mnist(download=False))
            # data_dir, when given, wins over $MLP_DATA
            with mock.patch.dict(os.environ, {"MLP_DATA": os.path.join(self.folder.name, "elsewhere")}):
                self.assert_loaded(mlp.load_mnist(self.cache, download=False))
        self.assertEqual(server.requests, [])

    def test_both_spellings_gzipped_or_not(self):
        os.makedirs(self.cache)
        # Known payload checksums make raw and recompressed copies trusted too.
        payload_checksums = {name: sha256(data) for name, data in self.payloads.items()}
        spellings = {"train-images-idx3-ubyte": "train-images.idx3-ubyte",           # dotted, raw
                     "train-labels-idx1-ubyte": "train-labels-idx1-ubyte",           # raw
                     "t10k-images-idx3-ubyte": "t10k-images.idx3-ubyte.gz",          # dotted, gzipped
                     "t10k-labels-idx1-ubyte": "t10k-labels-idx1-ubyte.gz"}
        for name, filename in spellings.items():
            data = self.payloads[name]
            with open(os.path.join(self.cache, filename), "wb") as f:
                f.write(gzip.compress(data, 1) if filename.endswith(".gz") else data)
        with mock.patch.dict(mlp.SHA256["mnist"], payload_checksums), warnings.catch_warnings():
            warnings.simplefilter("error")
            self.assert_loaded(mlp.load_mnist(self.cache, download=False))
        with self.assertWarnsRegex(UserWarning, "train-images.idx3-ubyte is not the published mnist file"):
            self.assert_loaded(mlp.load_mnist(self.cache, download=False))

    def test_bad_files_are_named(self):
        os.makedirs(self.cache)

        def place(**replacements):
            for name, data in dict(self.payloads, **replacements).items():
                with open(os.path.join(self.cache, name), "wb") as f:
                    f.write(data)

        labels = self.arrays["train-labels-idx1-ubyte"]
        cases = [
            ({"train-labels-idx1-ubyte": idx_bytes(labels, 2051)}, r"train-labels-idx1-ubyte: magic number 2051, but IDX labels have 2049"),
            ({"t10k-images-idx3-ubyte": idx_bytes(np.zeros((10, 28, 27)), 2051)}, r"t10k-images-idx3-ubyte: images of 28x27"),
            ({"t10k-labels-idx1-ubyte": self.payloads["t10k-labels-idx1-ubyte"][:-1]}, r"t10k-labels-idx1-ubyte: 9 bytes of data"),
            ({"train-labels-idx1-ubyte": idx_bytes(labels[:-1], 2049)}, r"train files .* disagree: 30 images but 29 labels"),
            ({"train-images-idx3-ubyte": b"\x1f\x8b\x08 broken"}, r"train-images-idx3-ubyte: not a valid gzip file"),
            ({"train-images-idx3-ubyte": b"abc"}, r"train-images-idx3-ubyte: too short"),
            ({"t10k-images-idx3-ubyte": b"<html><body>404 Not Found</body></html>"},
             r"t10k-images-idx3-ubyte: magic number \d+, but IDX images have 2051"),
            ({"train-labels-idx1-ubyte": idx_bytes(np.where(np.arange(30) == 17, 200, labels), 2049)},
             r"train-labels-idx1-ubyte: labels must be 0-9; found 200 at index 17 \(1 in all\)"),
            ({"t10k-labels-idx1-ubyte": idx_bytes(np.where(np.arange(10) == 3, 10, self.arrays["t10k-labels-idx1-ubyte"]), 2049)},
             r"t10k-labels-idx1-ubyte: labels must be 0-9; found 10 at index 3 \(1 in all\)"),
            ({"t10k-labels-idx1-ubyte": struct.pack(">II", 2049, 10_001) + bytes(10_001)},
             r"t10k-labels-idx1-ubyte: its header announces 10,001 labels; the published file has 10,000"),
        ]
        for replacements, pattern in cases:
            with self.subTest(pattern=pattern):
                place(**replacements)
                with warnings.catch_warnings(), self.assertRaisesRegex(ValueError, pattern):
                    warnings.simplefilter("ignore")
                    mlp.load_mnist(self.cache, download=False)

    def test_mnist_and_fashion_have_their_own_folders_and_checksums(self):
        server = self.serve()
        fashion_checksums = {name: sha256(data) for name, data in self.gz.items()}
        home = os.path.join(self.folder.name, "home")
        with mock.patch.dict(mlp.MIRRORS, {"fashion": [server.url + "/m/"]}), \
                mock.patch.dict(mlp.SHA256, {"fashion": fashion_checksums, "mnist": {}}), \
                mock.patch.dict(os.environ, {"HOME": home}), warnings.catch_warnings():
            os.environ.pop("MLP_DATA", None)
            warnings.simplefilter("error")
            self.assert_loaded(mlp.load_mnist(dataset="fashion"))
            self.assertEqual(sorted(os.listdir(os.path.join(home, ".cache", "mlp", "fashion"))), sorted(self.gz))
            self.assertFalse(os.path.exists(os.path.join(home, ".cache", "mlp", "mnist")))
            # The same files are not the published MNIST ones: with no MNIST checksum they fail.
            with mock.patch.dict(mlp.MIRRORS, {"mnist": [server.url + "/m/"]}), \
                    self.assertRaisesRegex(OSError, "checksum differs"):
                mlp.load_mnist(dataset="mnist")
            # Fashion's files in the folder MNIST is read from (one $MLP_DATA for both, say)
            with self.assertRaisesRegex(ValueError, r"train-images-idx3-ubyte.gz is the published fashion "
                                                    r"file, not the mnist one; give each dataset its own folder"):
                mlp.load_mnist(os.path.join(home, ".cache", "mlp", "fashion"), dataset="mnist", download=False)

    def test_missing_files_without_download(self):
        os.makedirs(self.cache)
        with self.assertRaisesRegex(FileNotFoundError, r"train-images-idx3-ubyte\.gz, .*t10k-labels-idx1-ubyte\.gz not found in .*cache"):
            mlp.load_mnist(self.cache, download=False)
        with self.assertRaisesRegex(ValueError, "unknown dataset 'kmnist'"):
            mlp.load_mnist(self.cache, dataset="kmnist")

    @unittest.skipUnless(os.path.isdir(REAL_MNIST), "the real MNIST files are not beside the project")
    def test_the_real_mnist_files_are_trusted(self):
        self.checksums.stop()
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("error")
                (X, y), (X_test, y_test) = mlp.load_mnist(REAL_MNIST, download=False)
        finally:
            self.checksums.start()
        self.assertEqual((X.shape, y.shape, X_test.shape, y_test.shape), ((60000, 784), (60000,), (10000, 784), (10000,)))
        self.assertEqual((X.min(), X.max(), y.min(), y.max()), (0.0, 1.0, 0, 9))

    @unittest.skipUnless(os.path.isdir(REAL_FASHION), "the real Fashion-MNIST files are not beside the project")
    def test_the_real_fashion_files_are_trusted(self):
        # Debian's recompressed copies: trusted by the checksums of their payloads.
        self.checksums.stop()
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("error")
                (X, y), (X_test, y_test) = mlp.load_mnist(REAL_FASHION, "fashion", download=False)
        finally:
            self.checksums.start()
        self.assertEqual((X.shape, y.shape, X_test.shape, y_test.shape), ((60000, 784), (60000,), (10000, 784), (10000,)))
        self.assertEqual((X.min(), X.max(), y.min(), y.max()), (0.0, 1.0, 0, 9))
        largest = max(os.path.getsize(os.path.join(REAL_FASHION, name)) for name in os.listdir(REAL_FASHION))
        self.assertLess(largest, mlp.DOWNLOAD_BYTES)

    def test_each_dataset_has_its_ten_class_names(self):
        self.assertEqual(sorted(mlp.CLASS_NAMES), sorted(mlp.MIRRORS))
        self.assertEqual(mlp.CLASS_NAMES["mnist"], ("0", "1", "2", "3", "4", "5", "6", "7", "8", "9"))
        self.assertEqual(mlp.CLASS_NAMES["fashion"], ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                                                      "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"))
        self.assertIn("CLASS_NAMES", mlp.__all__)

    def test_a_data_dir_that_is_a_file_is_named_before_any_download(self):
        path = os.path.join(self.folder.name, "data")
        self.place(self.folder.name, data=b"")
        server = self.serve()
        for download in (True, False):
            with self.subTest(download=download), self.mirrors(server.url + "/m/"), \
                    self.assertRaisesRegex(NotADirectoryError, f"^data_dir {re.escape(path)} is a file; expected a folder"):
                mlp.load_mnist(path, download=download)
        self.assertEqual(server.requests, [])

    def test_a_tilde_in_data_dir_or_MLP_DATA_is_the_home_folder(self):
        home = os.path.join(self.folder.name, "home")
        server = self.serve()
        cwd = os.getcwd()
        os.chdir(self.folder.name)  # where a folder named ~ would appear
        try:
            with self.mirrors(server.url + "/m/"), mock.patch.dict(os.environ, {"HOME": home}):
                self.assert_loaded(mlp.load_mnist("~/data"))
                with mock.patch.dict(os.environ, {"MLP_DATA": "~/env"}):
                    self.assert_loaded(mlp.load_mnist())
        finally:
            os.chdir(cwd)
        self.assertEqual(sorted(os.listdir(os.path.join(home, "data"))), sorted(self.gz))
        self.assertEqual(sorted(os.listdir(os.path.join(home, "env"))), sorted(self.gz))
        self.assertFalse(os.path.exists(os.path.join(self.folder.name, "~")))

    def test_progress_is_shown_on_stderr_only_when_it_is_a_terminal(self):
        class Terminal(io.StringIO):
            def isatty(self):
                return True

        server = self.serve()
        terminal, file = Terminal(), io.StringIO()
        for stderr in (terminal, file):
            with self.mirrors(server.url + "/m/"), contextlib.redirect_stderr(stderr):
                self.assert_loaded(mlp.load_mnist(os.path.join(self.cache, type(stderr).__name__)))
        self.assertIn(f"\rdownloading {server.url}/m/train-images-idx3-ubyte.gz: 100%\n", terminal.getvalue())
        self.assertEqual(file.getvalue(), "")

    def test_a_downloaded_file_is_verified_before_it_is_decompressed(self):
        bomb = gzip_bomb(30, 30_000_000)  # 0.1 MB that inflate to 30 MB
        server = self.serve(train_images_idx3_ubyte=(200, bomb))
        with self.mirrors(server.url + "/m/"), \
                mock.patch.object(gzip, "GzipFile", side_effect=AssertionError("decompressed")), \
                self.assertRaisesRegex(OSError, "checksum differs"):
            mlp.load_mnist(self.cache)
        self.assert_nothing_kept()

    def test_a_body_above_the_cap_is_refused_announced_or_not(self):
        cap = 100_000  # the fake files are 25 kB at most
        body = np.random.default_rng(0).bytes(4 * cap)
        announced = self.serve(train_images_idx3_ubyte=(200, body[:10], {"Content-Length": 10 ** 12}))
        unannounced = self.serve(train_images_idx3_ubyte=(200, body, {}))  # no Content-Length
        with self.mirrors(announced.url + "/m/", unannounced.url + "/m/"), self.limits(DOWNLOAD_BYTES=cap), \
                self.assertRaises(OSError) as caught:
            mlp.load_mnist(self.cache)
        message = str(caught.exception)
        self.assertIn(f"{announced.url}/m/train-images-idx3-ubyte.gz: announces 1,000,000,000,000 bytes; "
                      f"no published file has more than 100,000", message)
        self.assertIn(f"{unannounced.url}/m/train-images-idx3-ubyte.gz: sent more than 100,000 bytes", message)
        self.assert_nothing_kept()

    def test_a_trickling_mirror_is_left_at_the_deadline_for_the_next(self):
        gz = self.gz["train-images-idx3-ubyte.gz"]
        # A byte every 0.05 s, each read well within the read timeout: 100 bytes take 5 s.
        slow = self.serve(train_images_idx3_ubyte=(200, trickle(gz[:100], 0.05), {"Content-Length": len(gz)}))
        good = self.serve()
        start = time.monotonic()
        with self.mirrors(slow.url + "/m/", good.url + "/m/"), self.limits(DOWNLOAD_DEADLINE=1.0):
            self.assert_loaded(mlp.load_mnist(self.cache))
        self.assertLess(time.monotonic() - start, 3.5)
        self.assertEqual(good.requests, ["/m/train-images-idx3-ubyte.gz"])
        self.assertEqual(sorted(os.listdir(self.cache)), sorted(self.gz))

    def test_every_kind_of_failure_moves_on_to_the_next_mirror(self):
        gz = self.gz["train-images-idx3-ubyte.gz"]

        def stall(seconds):
            time.sleep(seconds)
            yield b""

        mirrors = {
            "the connection closed after 100 of": (200, gz[:100], {"Content-Length": len(gz)}),
            "IncompleteRead": (200, b"ffff\r\n" + gz[:100], {"Transfer-Encoding": "chunked"}),
            "timed out": (200, stall(3), {"Content-Length": len(gz)}),
            "HTTP Error 500": (500, b"<html>oops</html>"),
            "not done after 0.5 s": (200, trickle(gz[:100], 0.05), {"Content-Length": len(gz)}),
        }
        servers = [self.serve(train_images_idx3_ubyte=route) for route in mirrors.values()]
        with self.mirrors(*(server.url + "/m/" for server in servers)), \
                self.limits(READ_TIMEOUT=1.0, DOWNLOAD_DEADLINE=0.5), self.assertRaises(OSError) as caught:
            mlp.load_mnist(self.cache)
        message = str(caught.exception)
        for server, reason in zip(servers, mirrors):
            self.assertIn(f"{server.url}/m/train-images-idx3-ubyte.gz: ", message)
            self.assertIn(reason, message)
        self.assertNotIn("\n", message)
        self.assert_nothing_kept()

    def test_a_bomb_on_disk_is_not_decompressed_past_its_header(self):
        header = struct.pack(">4I", 2051, 30, 28, 28)
        cases = {
            "inflates past its header": ("train-images-idx3-ubyte.gz", gzip_bomb(30, 30_000_000),
                                         "more bytes of data, but its header announces 23520 (30 x 28 x 28)"),
            "announces 10^12 bytes": ("train-images-idx3-ubyte.gz", gzip_bomb(1_275_510_204, 0),
                                      "its header announces 1,275,510,204 images; the published file has 60,000"),
            "raw, longer than its header": ("train-images-idx3-ubyte", header + bytes(30_000_000),
                                            "more bytes of data, but its header announces 23520"),
        }
        others = {name: data for name, data in self.gz.items() if not name.startswith("train-images")}
        for case, (filename, data, reason) in cases.items():
            with self.subTest(case):
                folder = os.path.join(self.folder.name, case)
                self.place(folder, **others, **{filename: data})
                tracemalloc.start()
                try:
                    with warnings.catch_warnings(), \
                            self.assertRaisesRegex(ValueError, re.escape(f"{filename}: {reason}")):
                        warnings.simplefilter("ignore")
                        mlp.load_mnist(folder, download=False)
                    peak = tracemalloc.get_traced_memory()[1]
                finally:
                    tracemalloc.stop()
                self.assertLess(peak, 5_000_000)


class RandomShift(unittest.TestCase):

    def test_each_image_moves_by_at_most_max_shift_with_zero_fill(self):
        rng = np.random.default_rng(0)
        images = rng.uniform(1, 2, (500, 6, 5)).astype(np.float32)  # no zeros: every move is visible
        X = images.reshape(500, 30)
        original = X.copy()
        moved = mlp.random_shift((6, 5), max_shift=2)(X, rng).reshape(500, 6, 5)
        np.testing.assert_array_equal(X, original)
        self.assertEqual(moved.dtype, np.float32)
        used = set()
        for image, result in zip(images, moved):
            matches = []
            for dy in range(-2, 3):
                for dx in range(-2, 3):
                    expected = np.zeros_like(image)
                    expected[max(dy, 0):6 + min(dy, 0), max(dx, 0):5 + min(dx, 0)] = \
                        image[max(-dy, 0):6 + min(-dy, 0), max(-dx, 0):5 + min(-dx, 0)]
                    if np.array_equal(result, expected):
                        matches.append((dy, dx))
            self.assertEqual(len(matches), 1)
            used.add(matches[0])
        self.assertEqual(len(used), 25)  # every move happens

    def test_no_shift_is_the_identity_and_bad_arguments_are_named(self):
        X = np.random.default_rng(0).random((3, 784))
        np.testing.assert_array_equal(mlp.random_shift(max_shift=0)(X, np.random.default_rng(0)), X)
        with self.assertRaisesRegex(ValueError, "max_shift must be in"):
            mlp.random_shift(max_shift=28)
        with self.assertRaisesRegex(ValueError, "shape must be"):
            mlp.random_shift(shape=(28,))
        with self.assertRaisesRegex(ValueError, r"needs rows of 784 pixels"):
            mlp.random_shift()(np.zeros((2, 10)), np.random.default_rng(0))


class RandomFlip(unittest.TestCase):

    def test_each_image_is_kept_or_mirrored_left_to_right(self):
        rng = np.random.default_rng(0)
        X = rng.uniform(0, 1, (200, 6 * 5)).astype(np.float32)  # random pixels: no image is its own mirror
        original = X.copy()
        flipped = mlp.random_flip((6, 5))(X, rng)
        np.testing.assert_array_equal(X, original)
        self.assertEqual((flipped.shape, flipped.dtype), (X.shape, np.float32))
        images, results = X.reshape(-1, 6, 5), flipped.reshape(-1, 6, 5)
        kept = [np.array_equal(result, image) for image, result in zip(images, results)]
        mirrored = [np.array_equal(result, image[:, ::-1]) for image, result in zip(images, results)]
        self.assertEqual([k + m for k, m in zip(kept, mirrored)], [1] * 200)  # one or the other
        self.assertTrue(60 < sum(mirrored) < 140)  # about half of 200 (sd 7)
        flipped[:] = 0
        np.testing.assert_array_equal(X, original)  # the result is a copy, not a view of X

    def test_bad_arguments_are_named(self):
        for shape in [(28,), (0, 28), (28.0, 28), 784]:
            with self.subTest(shape=shape), self.assertRaisesRegex(ValueError, "shape must be"):
                mlp.random_flip(shape=shape)
        with self.assertRaisesRegex(ValueError, r"random_flip\(28, 28\) needs rows of 784 pixels; got X of shape \(2, 10\)"):
            mlp.random_flip()(np.zeros((2, 10)), np.random.default_rng(0))


# ============================================================================ command line

def decode_png(data):
    """The pixels of an 8-bit grayscale PNG with filter type 0, checking every chunk's CRC."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    position, chunks = 8, {}
    while position < len(data):
        length, kind = struct.unpack(">I4s", data[position:position + 8])
        body = data[position + 8:position + 8 + length]
        crc, = struct.unpack(">I", data[position + 8 + length:position + 12 + length])
        assert crc == zlib.crc32(kind + body), kind
        chunks[kind] = chunks.get(kind, b"") + body
        position += 12 + length
    width, height, depth, color, _, _, _ = struct.unpack(">IIBBBBB", chunks[b"IHDR"])
    assert (depth, color) == (8, 0)
    rows = np.frombuffer(zlib.decompress(chunks[b"IDAT"]), np.uint8).reshape(height, width + 1)
    assert (rows[:, 0] == 0).all()
    return rows[:, 1:]


class CommandLine(unittest.TestCase):

    def setUp(self):
        self.folder = tempfile.TemporaryDirectory()
        self.data = os.path.join(self.folder.name, "data")
        os.makedirs(self.data)
        payloads, self.arrays = fake_mnist(n_train=200, n_test=50)
        for name, data in payloads.items():
            with open(os.path.join(self.data, name + ".gz"), "wb") as f:
                f.write(gzip.compress(data))

    def tearDown(self):
        self.folder.cleanup()

    def run_main(self, *argv):
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            status = mlp.main(list(argv))
        return status, out.getvalue(), err.getvalue()

    def test_the_demo_trains_reports_and_writes_what_it_was_asked_to(self):
        png = os.path.join(self.folder.name, "weights.png")
        model = os.path.join(self.folder.name, "model.npz")
        status, out, err = self.run_main("--data-dir", self.data, "--no-download", "--epochs", "2",
                                         "--hidden", "16", "--weights-png", png, "--save", model)
        self.assertEqual(status, 0, err)
        lines = out.splitlines()
        self.assertRegex(lines[-1], r"^test accuracy: \d{1,3}\.\d\d%$")
        self.assertEqual(sum(line.startswith("epoch ") for line in lines), 2)
        self.assertIn("confusion matrix", out)
        matrix = [line for line in lines if re.match(r"^\s+\d\s+(\d+\s+){9}\d+$", line)]
        self.assertEqual(len(matrix), 10)
        counts = np.array([list(map(int, row.split()[1:])) for row in matrix])
        labels = self.arrays["t10k-labels-idx1-ubyte"]
        np.testing.assert_array_equal(counts.sum(axis=1), np.bincount(labels, minlength=10))  # a row per true class
        # the accuracy is the matrix's diagonal, in percent
        self.assertEqual(lines[-1], f"test accuracy: {100 * np.trace(counts) / len(labels):.2f}%")
        net = mlp.Network.load(model)
        self.assertEqual(net.sizes, [784, 16, 10])
        with open(png, "rb") as f:
            pixels = decode_png(f.read())
        np.testing.assert_array_equal(pixels, mlp._weights_picture(net.weights[0]))
        self.assertEqual(pixels.shape, (4 * 29 + 1, 4 * 29 + 1))

    def test_outputs_are_checked_before_training_and_a_replaced_file_is_announced(self):
        model = os.path.join(self.folder.name, "model.npz")
        for flag, path, message in (("--save", "/nonexistent/x.npz", "there is no folder /nonexistent"),
                                    ("--weights-png", self.folder.name, "is not a regular file"),
                                    ("--save", os.path.join(self.folder.name, "no", "x.npz"), "there is no folder")):
            with self.subTest(flag=flag, path=path):
                status, out, err = self.run_main("--data-dir", self.data, "--no-download", "--epochs", "1",
                                                 "--hidden", "4", flag, path)
                self.assertEqual(status, 1)
                self.assertIn(message, err)
                self.assertNotIn("epoch", out)  # no training was lost to it
        for flags, message in ((["--save", ""], "--save needs a file name; got an empty one"),
                               (["--weights-png", ""], "--weights-png needs a file name; got an empty one"),
                               (["--save", model, "--weights-png", os.path.join(self.folder.name, ".", "model.npz")],
                                f"--save and --weights-png name the same file, {model}")):
            with self.subTest(flags=flags):
                status, out, err = self.run_main("--data-dir", self.data, "--no-download", "--epochs", "1",
                                                 "--hidden", "4", *flags)
                self.assertEqual((status, out), (1, ""))
                self.assertEqual(err, f"mlp.py: error: {message}\n")
                self.assertFalse(os.path.exists(model))
        # a network too big for memory is a one-line error too, not a traceback
        status, out, err = self.run_main("--data-dir", self.data, "--no-download", "--hidden", str(10**12))
        self.assertEqual((status, out), (1, ""))
        self.assertRegex(err, r"^mlp.py: error: .*allocate.*\n$")
        mlp.Network([784, 3, 10], seed=0).save(model)
        status, out, err = self.run_main("--data-dir", self.data, "--no-download", "--epochs", "1",
                                         "--hidden", "4", "--save", model)
        self.assertEqual(status, 0, err)
        self.assertIn(f"saved the network to {model} (it replaced the file that was there)", out)
        self.assertEqual(mlp.Network.load(model).sizes, [784, 4, 10])

    def test_ctrl_c_reports_the_network_so_far_writes_nothing_and_exits_130(self):
        model = os.path.join(self.folder.name, "model.npz")
        mlp.Network([784, 3, 10], seed=0).save(model)
        with open(model, "rb") as f:
            before = f.read()
        process = subprocess.Popen(
            [sys.executable, os.path.join(HERE, "mlp.py"), "--data-dir", self.data, "--no-download",
             "--epochs", "100000", "--hidden", "8", "--save", model], stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True)
        lines = []
        while len([line for line in lines if line.startswith("epoch ")]) < 2:
            line = process.stdout.readline()
            if not line:  # it ended by itself: the checks below say how
                break
            lines.append(line)
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=60)
        lines += out.splitlines()
        self.assertEqual(process.returncode, 130, err)
        self.assertRegex(lines[-1], r"^test accuracy: \d{1,3}\.\d\d%$")
        self.assertIn("confusion matrix", out)
        self.assertRegex(err, r"interrupted in epoch \d+: the results are those of the network so far, "
                              r"and no file was written")
        self.assertNotIn("Traceback", err)
        with open(model, "rb") as f:
            self.assertEqual(f.read(), before)

    def test_fashion_classes_are_named_in_the_confusion_matrix(self):
        status, out, err = self.run_main("--dataset", "fashion", "--data-dir", self.data, "--no-download",
                                         "--epochs", "1", "--hidden", "4")
        self.assertEqual(status, 0, err)
        rows = [line for line in out.splitlines() if re.match(r"^\s+\d [A-Z]", line)]
        self.assertEqual([row.split()[1] for row in rows],
                         ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
                          "Sneaker", "Bag", "Ankle"])
        self.assertTrue(all(len(line) <= 100 for line in out.splitlines()), out)
        self.assertEqual(sum(sum(map(int, row.split()[-10:])) for row in rows), 50)
        self.assertIn("dropout 0.3, l2 0, no shifts, no mirrors", out)  # the recipe, said plainly

    def test_help_gives_each_datasets_recipe(self):
        help_text = mlp._parser().format_help()
        for key, flag in (("epochs", "--epochs"), ("dropout", "--dropout")):
            for dataset, recipe in mlp.RECIPES.items():
                self.assertIn(f"{recipe[key]} for {dataset}", " ".join(help_text.split()))

    def test_a_weights_picture_shows_each_unit_scaled_to_its_own_range(self):
        W = np.zeros((784, 2), np.float32)
        W[0, 0], W[1, 0], W[783, 1] = 1.0, -1.0, 0.5
        picture = mlp._weights_picture(W)
        self.assertEqual(picture.shape, (1 * 29 + 1, 2 * 29 + 1))
        self.assertEqual((picture[1, 1], picture[1, 2], picture[1, 3]), (255, 0, 128))
        self.assertEqual(picture[28, 29 + 28], 255)
        self.assertEqual(picture[0].max(), 0)  # the separating lines are black
        # a picture wider than high (30 x 59 pixels) survives its PNG
        np.testing.assert_array_equal(decode_png(mlp._png(picture)), picture)

    def test_the_confusion_matrix_has_a_row_per_true_class(self):
        # labels 0 0 1 2, predicted 0 1 1 1: class 0 once right and once taken for 1, and so on
        lines = mlp._confusion_lines(np.array([0, 0, 1, 2]), np.array([0, 1, 1, 1]), ("0", "1", "2"))
        self.assertEqual([line.split() for line in lines],
                         [["0", "1", "2"], ["0", "1", "1", "0"], ["1", "0", "1", "0"], ["2", "0", "1", "0"]])

    def test_the_recipe_and_the_flags_that_override_it_reach_fit(self):
        calls = []
        real_fit = mlp.Network.fit

        def fit(net, *args, **kwargs):
            calls.append(kwargs)
            return real_fit(net, *args, **kwargs)

        with mock.patch.object(mlp.Network, "fit", fit):
            for flags in (["--shift", "1", "--flip"], ["--no-flip", "--dropout", "0"]):
                status, out, err = self.run_main("--dataset", "fashion", "--data-dir", self.data, "--no-download",
                                                 "--epochs", "1", "--hidden", "4", *flags)
                self.assertEqual(status, 0, err)
        recipe, flagged, zeroed = mlp.RECIPES["fashion"], *calls
        self.assertEqual((flagged["epochs"], flagged["batch_size"], flagged["dropout"], flagged["l2"]),
                         (1, recipe["batch_size"], recipe["dropout"], recipe["l2"]))
        self.assertTrue(recipe["dropout"] and not recipe["shift"])
        self.assertEqual(zeroed["dropout"], 0.0)  # a flag of 0 overrides the recipe
        self.assertIsNone(zeroed["augment"])      # --no-flip, and the recipe's shift of 0
        # --shift 1 with mirrors: one bright pixel per image, at row 10, column 5,
        # lands one pixel away at most, mirrored (column 22) in about half of the images.
        X = np.zeros((400, 784), np.float32)
        X[:, 10 * 28 + 5] = 1.0
        images = flagged["augment"](X, np.random.default_rng(0)).reshape(-1, 28, 28)
        _, rows, columns = np.nonzero(images)
        self.assertEqual(len(rows), 400)
        self.assertLessEqual(set(rows), {9, 10, 11})
        self.assertLessEqual(set(columns), {4, 5, 6, 21, 22, 23})
        self.assertGreater(len(set(zip(rows, columns))), 9)  # shifts and mirrors both happen
        self.assertTrue(140 < np.sum(columns > 13) < 260)

    def test_bad_flags_and_unusable_data_exit_with_one_line(self):
        empty = os.path.join(self.folder.name, "empty")
        os.makedirs(empty)
        cases = [(["--epochs", "x"], 2, "argument --epochs: invalid int value"),
                 (["--dataset", "cifar"], 2, "invalid choice"),
                 (["--data-dir", empty, "--no-download"], 1, "not found in"),
                 (["--data-dir", self.data, "--no-download", "--epochs", "0"], 1, "epochs must be a positive integer"),
                 (["--data-dir", self.data, "--no-download", "--dropout", "1.5"], 1, "dropout must be in"),
                 # checked before the data is looked for, so not after a long download
                 (["--data-dir", empty, "--epochs", "0"], 1, "--epochs must be a positive integer; got 0"),
                 (["--data-dir", empty, "--batch-size", "0"], 1, "--batch-size must be a positive integer"),
                 (["--data-dir", empty, "--lr", "-1"], 1, "--lr must be positive; got -1"),
                 (["--data-dir", empty, "--l2", "-1"], 1, "--l2 must be 0 or more"),
                 (["--data-dir", empty, "--dropout", "1"], 1, "--dropout must be in [0, 1)"),
                 (["--data-dir", empty, "--validation-split", "1"], 1, "--validation-split must be in [0, 1)"),
                 (["--data-dir", empty, "--shift", "99"], 1, "max_shift must be in [0, 28); got 99"),
                 (["--data-dir", self.data, "--no-download", "--seed", "-1"], 1, "seed must be 0 or more; got -1")]
        for argv, code, message in cases:
            with self.subTest(argv=argv):
                process = subprocess.run([sys.executable, os.path.join(HERE, "mlp.py"), *argv],
                                         capture_output=True, text=True, timeout=120)
                self.assertEqual(process.returncode, code)
                # The fake data files are not the published ones: each gets a warning line.
                lines = [line for line in process.stderr.splitlines() if not line.startswith("warning: ")]
                self.assertEqual(len(lines), 1, process.stderr)
                self.assertIn(message, process.stderr)
                self.assertNotIn("Traceback", process.stderr)


if __name__ == "__main__":
    unittest.main()
