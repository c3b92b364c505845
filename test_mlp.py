"""Tests for mlp.py: gradient checks, the core cut out alone, convergence, the classic tutorial
bugs, the optimizers against the textbook, training as a transaction, input errors, saving and
loading, the MNIST loader (against a local HTTP server) and the command line.

Run with:  python -m unittest -v test_mlp
"""

import _thread
import ast
import contextlib
import copy
import gzip
import hashlib
import http.server
import importlib.util
import inspect
import io
import itertools
import math
import os
import pathlib
import pickle
import re
import signal
import stat
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

HIDDEN = ["identity", "sigmoid", "tanh", "relu", "leaky_relu", "elu"]
# Every output/loss pair the SPEC allows: mse with every output, the log losses with the
# outputs that are probabilities.
OUTPUT_LOSS = ([(out, "mse") for out in [*HIDDEN, "softmax"]]
               + [(out, loss) for out in ("softmax", "sigmoid")
                  for loss in ("cross_entropy", "binary_cross_entropy")])


def targets_for(output, n, k, rng):
    """Random targets of the kind each output takes."""
    if output == "softmax":
        return rng.integers(0, k, n)
    if output == "sigmoid":
        return rng.integers(0, 2, (n, k)).astype(float)
    return rng.standard_normal((n, k))


def numerical_gradient(loss, params, h=1e-6):
    """Central differences of loss() with respect to every entry of the arrays in params."""
    grads = []
    for param in params:
        grad = np.zeros_like(param)
        for i in np.ndindex(param.shape):
            old = param[i]
            param[i] = old + h
            plus = loss()
            param[i] = old - h
            minus = loss()
            param[i] = old
            grad[i] = (plus - minus) / (2 * h)
        grads.append(grad)
    return grads


def relative_error(a, b):
    """Largest difference, relative to the largest entry of either array."""
    return float(np.abs(a - b).max() / max(np.abs(a).max(), np.abs(b).max(), 1e-300))


def gradient_check(net, X, y, l2):
    """The worst relative error of backprop against central differences, over all arrays,
    computed here independently of mlp.gradient_check."""
    grad_weights, grad_biases = net.backprop(X, y, l2)
    numerical = numerical_gradient(lambda: net.loss(X, y, l2), net.weights + net.biases)
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


def flat(gradients):
    """grad_weights + grad_biases."""
    return [*gradients[0], *gradients[1]]


def backward(net, zs, activations, masks, Y):
    """The gradient that the backward pass writes, in new arrays."""
    grad_weights, grad_biases = net._views(np.empty_like(net.params))
    net._backward(zs, activations, masks, Y, 0.0, grad_weights, grad_biases)
    return grad_weights, grad_biases


def params_of(net):
    return [p.copy() for p in net.weights + net.biases]


def assert_same_params(test, net, other):
    for p, q in zip(net.weights + net.biases, other.weights + other.biases if hasattr(other, "weights") else other):
        np.testing.assert_array_equal(p, q)


def assert_same_state(test, optimizer, other):
    test.assertEqual(optimizer.t, other.t)
    for s, o in zip(optimizer.state, other.state):
        np.testing.assert_array_equal(s, o)


class GradientCheck(unittest.TestCase):
    """backprop is the exact gradient of loss, for every activation and loss pair."""

    def check(self, hidden, output, loss, l2, seed=0):
        rng = np.random.default_rng(seed)
        net = mlp.Network([4, 5, 6, 3], hidden=hidden, output=output, loss=loss, seed=seed, dtype="float64")
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
        # The forward pass draws dropout masks; with the random state rewound before every
        # pass, the loss below is a function of the parameters alone, with the same masks.
        rng = np.random.default_rng(5)
        X, Y = rng.standard_normal((8, 4)), np.eye(3)[rng.integers(0, 3, 8)]
        for hidden in ("tanh", "relu"):
            net = mlp.Network([4, 6, 6, 3], hidden=hidden, seed=5, dtype="float64")
            for b in net.biases:  # a row whose units are all dropped has z = b: keep it off 0
                b[...] = rng.choice([-1, 1], b.shape) * rng.uniform(0.1, 0.5, b.shape)
            state = net.rng.bit_generator.state

            def forward(net=net, state=state):
                net.rng.bit_generator.state = state
                return net._forward(X, dropout=0.5)

            def loss(net=net, forward=forward):
                return float(np.mean(net.loss_fn(forward()[1][-1], Y)))

            zs, activations, masks = forward()
            self.assertTrue(all((m == 0).any() for m in masks))  # some units were dropped
            self.assertGreater(min(np.abs(z).min() for z in zs), 1e-5)  # no z at ReLU's kink
            backprop = flat(backward(net, zs, activations, masks, Y))
            numerical = numerical_gradient(loss, net.weights + net.biases)
            without = flat(backward(net, *net._forward(X), Y))  # not the gradient without dropout
            with self.subTest(hidden=hidden):
                self.assertLessEqual(max(map(relative_error, backprop, numerical)), 1e-6)
                self.assertGreater(max(map(relative_error, backprop, without)), 0.1)

    def test_backprop_is_stateless_and_returns_fresh_arrays(self):
        rng = np.random.default_rng(3)
        net = mlp.Network([3, 4, 2], seed=3, dtype="float64")
        X, y = rng.standard_normal((5, 3)), rng.integers(0, 2, 5)
        before = params_of(net)
        first = net.backprop(X, y, 0.1)
        second = net.backprop(X, y, 0.1)
        for a, b in zip(first[0] + first[1], second[0] + second[1]):
            np.testing.assert_array_equal(a, b)
            self.assertFalse(np.shares_memory(a, b))
        assert_same_params(self, net, before)
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

    def test_the_library_gradient_check_agrees_and_catches_a_wrong_derivative(self):
        rng = np.random.default_rng(8)
        X, Y = rng.standard_normal((6, 3)), np.eye(3)[rng.integers(0, 3, 6)]
        net = mlp.Network([3, 4, 4, 3], hidden="tanh", seed=8, dtype="float64")
        errors = mlp.gradient_check(net, X, Y, l2=0.1)
        self.assertEqual(len(errors), 3)
        self.assertLessEqual(max(max(pair) for pair in errors), 1e-6)
        # tanh' taken at the activation, a tutorial's bug: the check says so
        wrong = {**mlp.ACTIVATIONS, "tanh": (mlp.tanh, lambda z: 1 - np.tanh(np.tanh(z)) ** 2)}
        with mock.patch.dict(mlp.ACTIVATIONS, wrong):
            bad = mlp.Network([3, 4, 4, 3], hidden="tanh", seed=8, dtype="float64")
        self.assertGreater(max(max(pair) for pair in mlp.gradient_check(bad, X, Y)), 1e-3)


    def test_the_library_gradient_check_names_the_layer_and_the_array_that_is_wrong(self):
        # kills 44 (layers reported in reverse) and 45 (errors paired as if W1, b1, W2, ...):
        # a wrong gradient in one array shows in that layer's (weights, biases) entry alone.
        rng = np.random.default_rng(9)
        X, Y = rng.standard_normal((6, 3)), np.eye(2)[rng.integers(0, 2, 6)]
        net = mlp.Network([3, 4, 5, 2], hidden="tanh", seed=9, dtype="float64")
        for b in net.biases:
            b[...] = rng.uniform(-0.5, 0.5, b.shape)
        right_weights, right_biases = net.backprop(X, Y)
        for layer in range(3):
            for kind in (0, 1):  # 0: weights, 1: biases
                def wrong(X, Y, l2=0.0, layer=layer, kind=kind):
                    grads = [[g.copy() for g in right_weights], [g.copy() for g in right_biases]]
                    grads[kind][layer] += 0.1
                    return grads[0], grads[1]

                with mock.patch.object(net, "backprop", wrong):
                    errors = mlp.gradient_check(net, X, Y)
                with self.subTest(layer=layer, kind=kind):
                    self.assertEqual(len(errors), 3)
                    for l, pair in enumerate(errors):
                        for k, error in enumerate(pair):
                            if (l, k) == (layer, kind):
                                self.assertGreater(error, 1e-3)
                            else:
                                self.assertLessEqual(error, 1e-6)

def load_core():
    """mlp.py cut at the marker line, imported as a module of its own."""
    with open(os.path.join(HERE, "mlp.py")) as f:
        source = f.read()
    marker = "\n# ===== end of the core =====\n"
    assert source.count(marker) == 1
    cut = source[:source.index(marker)]
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "mlp_core.py")
        with open(path, "w") as f:
            f.write(cut)
        spec = importlib.util.spec_from_file_location("mlp_core", path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    return module, cut


class Core(unittest.TestCase):
    """The file cut at '# ===== end of the core =====' is a whole MLP of its own."""

    @classmethod
    def setUpClass(cls):
        cls.core, cls.source = load_core()

    def test_the_cut_imports_only_numpy_and_the_standard_library_and_defines_no_machinery(self):
        names = set()
        for node in ast.walk(ast.parse(self.source)):
            if isinstance(node, ast.Import):
                names |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom):
                names.add((node.module or "").split(".")[0])
        stdlib = getattr(sys, "stdlib_module_names", None)
        if stdlib is not None:
            self.assertLessEqual(names - {"numpy"}, set(stdlib))
        self.assertFalse(hasattr(self.core, "Network"))
        self.assertTrue(issubclass(mlp.Network, mlp.MLP))

    def test_every_activation_and_loss_pairing_passes_a_gradient_check_in_the_cut(self):
        rng = np.random.default_rng(0)
        for hidden in HIDDEN:
            for output, loss in OUTPUT_LOSS:
                net = self.core.MLP([3, 4, 4, 3], hidden=[hidden, "tanh"], output=output, loss=loss,
                                    seed=0, dtype="float64")
                for b in net.biases:
                    b[...] = rng.uniform(-0.5, 0.5, b.shape)
                X = rng.standard_normal((6, 3))
                for _ in range(100):  # rows whose z keep off ReLU's kink, where differences straddle it
                    if min(np.abs(z).min() for z in net.feedforward(X)[0]) >= 1e-4:
                        break
                    X = rng.standard_normal((6, 3))
                else:
                    self.fail("every draw put a z at the kink: is z clipped in place?")
                y = targets_for(output, 6, 3, rng)
                Y = np.eye(3)[y] if output == "softmax" else y
                with self.subTest(hidden=hidden, output=output, loss=loss):
                    errors = self.core.gradient_check(net, X, Y, l2=0.1)
                    self.assertLessEqual(max(max(pair) for pair in errors), 1e-6)

    def test_the_cut_trains_a_spiral_with_its_plain_fit(self):
        X, y = spiral()
        net = self.core.MLP([2, 64, 64, 3], hidden="relu", output="softmax", seed=0)
        history = net.fit(X.astype(np.float32), np.eye(3, dtype=np.float32)[y], epochs=150, batch_size=32,
                          optimizer=self.core.Adam(lr=0.01))
        self.assertLess(history["loss"][-1], history["loss"][0] / 4)
        self.assertGreaterEqual(np.mean(net.predict(X.astype(np.float32)) == y), 0.95)

    def test_the_cores_fit_visits_every_row_once_per_epoch_in_a_new_order(self):
        # kills 46 (one permutation for all epochs), 47 (no shuffling) and 73 (the last,
        # partial batch skipped): 42 rows in batches of 8 are 5 batches of 8 and one of 2.
        X = np.arange(42, dtype=np.float64).reshape(-1, 1)  # row i holds the value i
        Y = np.eye(2)[np.arange(42) % 2]
        net = self.core.MLP([1, 4, 2], seed=0, dtype="float64")
        seen, real_step = [], net._step

        def step(x, y, *args, **kwargs):
            seen.append(x[:, 0].copy())
            return real_step(x, y, *args, **kwargs)

        with mock.patch.object(net, "_step", step):
            net.fit(X, Y, epochs=3, batch_size=8, optimizer=self.core.SGD(lr=0.01))
        self.assertEqual([len(batch) for batch in seen], [8, 8, 8, 8, 8, 2] * 3)
        epochs = np.concatenate(seen).reshape(3, 42)
        for epoch in epochs:
            self.assertEqual(sorted(epoch), list(range(42)))
        self.assertFalse(np.array_equal(epochs[0], np.arange(42)))
        self.assertFalse(np.array_equal(epochs[0], epochs[1]))
        self.assertFalse(np.array_equal(epochs[1], epochs[2]))

    def test_the_cores_fit_takes_lr_and_reports_the_mean_loss_of_the_epochs_batches(self):
        # kills 71 (lr ignored) and 72 (the history holds the last batch's loss)
        rng = np.random.default_rng(1)
        X, Y = rng.standard_normal((48, 3)), np.eye(3)[rng.integers(0, 3, 48)]
        a, b = (self.core.MLP([3, 5, 3], hidden="tanh", seed=1, dtype="float64") for _ in range(2))
        a.fit(X, Y, epochs=2, batch_size=16, optimizer=self.core.SGD(lr=0.5, momentum=0.0), lr=0.05)
        b.fit(X, Y, epochs=2, batch_size=16, optimizer=self.core.SGD(lr=0.05, momentum=0.0))
        assert_same_params(self, a, b)
        # at a rate too small to move the weights, the mean of 3 equal batches' losses is the
        # loss over all 48 rows
        still = self.core.MLP([3, 5, 3], hidden="tanh", seed=1, dtype="float64")
        history = still.fit(X, Y, epochs=1, batch_size=16, optimizer=self.core.SGD(lr=1e-12, momentum=0.0))
        self.assertAlmostEqual(history["loss"][0], still.loss(X, Y), places=9)

    def test_the_cut_and_network_compute_the_same_network(self):
        rng = np.random.default_rng(1)
        X, y = rng.standard_normal((10, 3)), rng.integers(0, 2, 10)
        core = self.core.MLP([3, 5, 2], hidden="elu", seed=3, dtype="float64")
        net = mlp.Network([3, 5, 2], hidden="elu", seed=3, dtype="float64")
        assert_same_params(self, core, net)
        for a, b in zip(flat(core.backprop(X, np.eye(2)[y])), flat(net.backprop(X, y))):
            np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(core.predict(X), net.predict(X))

    def test_every_numbered_equation_is_computed_in_the_core_on_a_line_that_cites_it(self):
        equations = set(re.findall(r"^\s*\((\d+)[a-z]?\)", self.source.split('"""')[1], re.MULTILINE))
        self.assertEqual(equations, {str(n) for n in range(1, 10)})
        code = self.source.split('"""', 2)[2]
        cited = set()
        for line in code.splitlines():
            if "#" in line and line.split("#")[0].strip():
                cited |= set(re.findall(r"eqs?\. \((\d+)", line.split("#", 1)[1]))
        self.assertEqual(cited, equations)


class WorkedExample(unittest.TestCase):
    """One SGD step of a tiny network, worked by hand."""

    def test_one_sgd_step_by_hand(self):
        # Network 2 -> 2 (ReLU) -> 1 (identity), mse, one sample x = [1, 2], target y = 1.
        net = mlp.Network([2, 2, 1], hidden="relu", output="identity", dtype="float64")
        net.weights[0][...] = [[1.0, -1.0], [0.5, 1.0]]
        net.biases[0][...] = [0.0, 0.5]
        net.weights[1][...] = [[1.0], [-2.0]]
        net.biases[1][...] = [0.5]
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
        np.testing.assert_allclose(net.predict(X), [2.26])
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
        # predict of one output unit is (n,), like y: the error is computed row by row
        self.assertEqual(net.predict(X).shape, (200,))
        self.assertLess(np.mean((net.predict(X) - y) ** 2), 0.01)

    def test_sgd_with_nesterov_momentum_trains(self):
        X, y = spiral(60)
        net = mlp.Network([2, 32, 32, 3], hidden="tanh", output="softmax", seed=1)
        first = net.evaluate(X, y)["loss"]
        net.fit(X, y, epochs=100, batch_size=20, optimizer=mlp.SGD(lr=0.05, momentum=0.9, nesterov=True), verbose=0)
        self.assertLess(net.evaluate(X, y)["loss"], first / 3)


class ClassicBugs(unittest.TestCase):
    """What the tutorials this grew from got wrong (the README lists them)."""

    def test_relu_selects_the_right_elements_and_leaves_its_input_alone(self):
        z = np.array([[-2.0, -0.5, 0.0, 0.5, 2.0]], np.float32)
        original = z.copy()
        np.testing.assert_array_equal(mlp.relu(z), [[0, 0, 0, 0.5, 2]])
        np.testing.assert_array_equal(mlp.relu_prime(z), [[0, 0, 0, 1, 1]])
        np.testing.assert_allclose(mlp.leaky_relu(z), [[-0.02, -0.005, 0, 0.5, 2]], rtol=1e-7)
        np.testing.assert_allclose(mlp.leaky_relu_prime(z), [[0.01, 0.01, 0.01, 1, 1]], rtol=1e-7)
        for name, (f, prime) in mlp.ACTIVATIONS.items():
            a = f(z)
            self.assertFalse(np.shares_memory(a, z), name)  # a^l is never z^l itself
            self.assertEqual(a.dtype, z.dtype, name)
            if name != "softmax":
                self.assertFalse(np.shares_memory(prime(z), z), name)
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
                np.testing.assert_allclose(mlp.ACTIVATIONS[name][0](np.array([z])), [values], rtol=1e-12, atol=1e-15)

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
            if name == "softmax":
                continue
            numerical = (f(z + h) - f(z - h)) / (2 * h)
            at_kink = np.isclose(z, 0)
            np.testing.assert_allclose(prime(z)[~at_kink], numerical[~at_kink], atol=1e-7, err_msg=name)
        # sigmoid'(2) = s(2)(1 - s(2)) = 0.10499; the bug s(s(2))(1 - s(s(2))) gives 0.2034
        self.assertAlmostEqual(float(mlp.sigmoid_prime(np.array(2.0))), 0.104993585, places=8)

    def test_softmax_does_not_overflow_at_plus_minus_1000(self):
        z = np.array([[1000.0, -1000.0, 0.0], [-1000.0, -1000.0, -1000.0], [1000.0, 1000.0, 999.0]])
        with np.errstate(over="raise", invalid="raise", divide="raise"):
            a = mlp.softmax(z)
        self.assertTrue(np.all(np.isfinite(a)))
        np.testing.assert_allclose(a.sum(axis=1), 1)
        np.testing.assert_allclose(a[0], [1, 0, 0])
        np.testing.assert_allclose(a[1], [1 / 3] * 3)
        e = np.exp(-1.0)
        np.testing.assert_allclose(a[2], [1 / (2 + e), 1 / (2 + e), e / (2 + e)])

    def test_sigmoid_and_elu_do_not_overflow_at_plus_minus_1000(self):
        z = np.array([-1000.0, -50.0, 0.0, 50.0, 1000.0])
        with np.errstate(over="raise", invalid="raise", divide="raise"), warnings.catch_warnings():
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
        net.weights[0][...] = 1000.0
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
                net.weights[1][...] *= 300  # outputs of 0 and 1 in float32
                a = net.predict_proba(X)
                self.assertTrue(np.any(a == 0) or np.any(a == 1))
                Y = np.eye(3)[y]
                self.assertTrue(np.all(np.abs(mlp.LOSSES[loss][1](a, Y)) < 1e8))
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

    def test_each_step_takes_a_whole_batch_in_matrix_products(self):
        # No per-sample loop: every step of fit runs the forward and backward pass once, on
        # all the rows of its batch at once.
        X, y = spiral(30)  # 90 rows: batches of 32, 32 and 26
        net = mlp.Network([2, 8, 3], seed=0)
        rows = []
        real_forward = net._forward
        with mock.patch.object(net, "_forward", lambda x, dropout=0.0: rows.append(len(x)) or real_forward(x, dropout)):
            net.fit(X, y, epochs=2, batch_size=32, verbose=0)
        self.assertEqual(rows, [32, 32, 26] * 2)  # the epoch is scored from the batches' outputs

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
    """The optimizers compute the textbook updates, parameter by parameter."""

    def test_adam_matches_a_per_array_adam(self):
        rng = np.random.default_rng(0)
        # Two hidden layers of the same shape: their state must not be shared.
        net = mlp.Network([4, 4, 4, 4], hidden="tanh", seed=0, dtype="float64")
        X, y = rng.standard_normal((16, 4)), rng.integers(0, 4, 16)
        params = params_of(net)
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
            params = params_of(net)
            velocity = [np.zeros_like(p) for p in params]
            optimizer = mlp.SGD(lr=0.1, momentum=0.8, nesterov=nesterov)
            for _ in range(4):
                grad_weights, grad_biases = net.backprop(X, y)
                net.fit(X, y, epochs=1, batch_size=16, optimizer=optimizer, verbose=0)
                for p, g, vp in zip(params, grad_weights + grad_biases, velocity):
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
                theta = params_of(reference)
                start = np.concatenate([p.ravel() for p in theta])
                first = [np.zeros_like(p) for p in theta]   # u of eq. (8), m of eq. (9)
                second = [np.zeros_like(p) for p in theta]  # v of eq. (9)
                for t in range(1, steps + 1):
                    # each step's rate is the schedule's at the middle of the step
                    eta = optimizer.lr * (mlp.SCHEDULES[schedule]((t - 0.5) / steps) if schedule else 1.0)
                    for p, q in zip(reference.weights + reference.biases, theta):
                        p[...] = q
                    rows = slice(16 * ((t - 1) % 4), 16 * ((t - 1) % 4) + 16)
                    grad_weights, grad_biases = reference.backprop(X[rows], y[rows])
                    for p, g, u, v in zip(theta, grad_weights + grad_biases, first, second):
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

    def test_an_update_in_slices_equals_the_update_in_one_piece(self):
        # The optimizers update a few rows of each array at a time (Optimizer.chunk entries).
        # Each parameter's update is its own, so slices of 7 entries (a row at a time here, and
        # the biases in pieces) must give, bit for bit, the update of each array in one piece.
        rng = np.random.default_rng(7)
        X, y = rng.standard_normal((32, 30)), rng.integers(0, 10, 32)
        makes = {"momentum": lambda: mlp.SGD(lr=0.05, momentum=0.9),
                 "nesterov": lambda: mlp.SGD(lr=0.05, momentum=0.9, nesterov=True),
                 "adam": lambda: mlp.Adam(lr=0.01)}
        for kind, make in makes.items():
            with self.subTest(optimizer=kind):
                runs = []
                for chunk in (7, 1 << 30):
                    net, optimizer = mlp.Network([30, 22, 10], hidden="tanh", seed=7), make()
                    start = params_of(net)
                    optimizer.chunk = chunk
                    net.fit(X, y, epochs=2, batch_size=16, optimizer=optimizer, verbose=0)
                    runs.append((net, optimizer))
                (sliced, sliced_optimizer), (whole, whole_optimizer) = runs
                for p, p0 in zip(whole.weights + whole.biases, start):
                    self.assertTrue(np.all(p != p0))  # every parameter moved
                assert_same_params(self, sliced, whole)
                assert_same_state(self, sliced_optimizer, whole_optimizer)

    def test_moments_do_not_stick_among_the_subnormal_floats(self):
        # A moment of a weight whose gradient stays 0 decays into the subnormal floats (below
        # 1.2e-38) and, left alone, stays there (0.9 times the smallest rounds back to it), where
        # the CPU is slow. fit sets them to 0 after each epoch, and the weights do not notice:
        # they come out as if those moments had been 0 all along.
        X, y = spiral(20)
        X = np.c_[X, np.zeros(len(X))]  # a blank input: its weights' gradient stays 0
        tiny = np.finfo(np.float32).tiny
        nets = []
        for planted in (tiny / 4, 0.0):
            net, adam = mlp.Network([3, 8, 3], seed=0), mlp.Adam()
            net.fit(X, y, epochs=1, batch_size=16, optimizer=adam, verbose=0)
            for moment in adam.state:
                net._views(moment)[0][0][2, :] = planted  # the moments of the blank input's weights
            net.fit(X, y, epochs=1, batch_size=16, optimizer=adam, verbose=0)
            for a in adam.state:
                self.assertFalse(np.any((a != 0) & (np.abs(a) < tiny)))
            nets.append(net)
        assert_same_params(self, nets[0], nets[1])

    def test_an_optimizer_instance_keeps_its_state_across_fit_calls(self):
        X, y = spiral(30)
        one, two = (mlp.Network([2, 16, 3], seed=5) for _ in range(2))
        one.fit(X, y, epochs=3, batch_size=16, optimizer=mlp.Adam(), verbose=0)
        adam = mlp.Adam()
        for _ in range(3):
            two.fit(X, y, epochs=1, batch_size=16, optimizer=adam, verbose=0)
        self.assertEqual(adam.t, 3 * 6)
        assert_same_params(self, one, two)

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
        self.assertEqual(seen, [(i + 0.5) / 9 for i in range(9)])  # the middle of each step
        self.assertEqual(mlp.cosine(0.0), 1.0)
        self.assertAlmostEqual(mlp.cosine(1 / 3), 0.75)   # (1 + cos(pi/3)) / 2
        self.assertAlmostEqual(mlp.cosine(0.5), 0.5)
        self.assertAlmostEqual(mlp.cosine(1.0), 0.0)
        self.assertEqual(mlp.onecycle(0.0), 0.0)
        self.assertAlmostEqual(mlp.onecycle(0.125), 0.5)  # halfway up the warm-up
        self.assertEqual(mlp.onecycle(0.25), 1.0)
        self.assertAlmostEqual(mlp.onecycle(0.5), 0.75)   # a third of the way down the cosine
        self.assertAlmostEqual(mlp.onecycle(1.0), 0.0)

    def test_lr_overrides_the_rate_for_that_call_only(self):
        # kills 65: fit(lr=...) wrote the rate into the optimizer, so the next call without lr
        # ran at the override, not at the optimizer's own rate
        rng = np.random.default_rng(2)
        X, y = rng.standard_normal((60, 2)), rng.integers(0, 3, 60)
        (net, optimizer), (other, other_optimizer) = ((mlp.Network([2, 8, 3], seed=0), mlp.SGD(lr=0.1, momentum=0.0))
                                                      for _ in range(2))
        net.fit(X, y, epochs=1, optimizer=optimizer, lr=1e-5, verbose=0)
        self.assertEqual(optimizer.lr, 0.1)
        other.fit(X, y, epochs=1, optimizer=other_optimizer, lr=1e-5, verbose=0)
        net.fit(X, y, epochs=1, optimizer=optimizer, verbose=0)
        other.fit(X, y, epochs=1, optimizer=other_optimizer, lr=0.1, verbose=0)
        assert_same_params(self, net, other)

    def test_the_schedule_sees_the_middle_of_each_step_when_batches_do_not_divide_the_rows(self):
        # kills 80 (steps per epoch rounded down): 25 rows in batches of 10 are 3 steps an epoch
        rng = np.random.default_rng(3)
        X, y = rng.standard_normal((25, 2)), rng.integers(0, 3, 25)
        seen = []
        mlp.Network([2, 4, 3], seed=0).fit(X, y, epochs=2, batch_size=10, optimizer="sgd", lr=1e-9,
                                          schedule=lambda progress: seen.append(progress) or 1.0, verbose=0)
        self.assertEqual(seen, [(i + 0.5) / 6 for i in range(6)])

    def test_a_one_step_run_trains_under_every_schedule(self):
        # One batch, one epoch: a schedule read at the start of the step gave onecycle's 0.
        X, y = spiral(10)
        for schedule in (None, "cosine", "onecycle"):
            net = mlp.Network([2, 4, 3], seed=0)
            before = net.weights[0].copy()
            net.fit(X, y, epochs=1, batch_size=len(X), schedule=schedule, verbose=0)
            with self.subTest(schedule=schedule):
                self.assertTrue(np.all(net.weights[0] != before))


class Training(unittest.TestCase):
    """fit: determinism, history, validation, early stopping, dtypes, dropout."""

    def test_same_seed_same_data_gives_bit_identical_weights(self):
        X, y = spiral(40)
        nets = [mlp.Network([2, 16, 16, 3], seed=7) for _ in range(3)]
        for net in nets[:2]:
            net.fit(X, y, epochs=3, batch_size=16, dropout=0.3, validation_split=0.2,
                    augment=lambda xb, rng: xb + rng.normal(0, 0.01, xb.shape), verbose=0)
        assert_same_params(self, nets[0], nets[1])
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
        for dtype in ("float32", "float64", np.float64, np.dtype(">f4")):
            net = mlp.Network([2, 8, 3], seed=0, dtype=dtype)
            net.fit(X.astype(np.float64), y, epochs=1, dropout=0.1, verbose=0)
            zs, activations = net.feedforward(X)
            grad_weights, grad_biases = net.backprop(X, y, 0.1)
            for array in [*net.weights, *net.biases, *zs, *activations[1:], *grad_weights, *grad_biases]:
                self.assertEqual(array.dtype, np.dtype(dtype).newbyteorder("="))
            self.assertEqual(net.predict_proba(X).dtype, net.dtype)

    def test_history_holds_what_was_asked_for(self):
        X, y = spiral(20)
        net = mlp.Network([2, 8, 3], seed=0)
        history = net.fit(X, y, epochs=3, validation_data=(X, y), verbose=0)
        self.assertEqual(set(history), {"loss", "accuracy", "val_loss", "val_accuracy", "time"})
        self.assertTrue(all(len(values) == 3 for values in history.values()))
        self.assertIs(net.history, history)
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

    def test_validation_split_holds_out_the_same_rows_in_every_call(self):
        # New rows at each call would let repeated calls train on every row: on pure noise, the
        # validation accuracy would climb towards 1. The held-out rows are those of the seed and
        # the row count, whatever the network's random state has drawn since.
        X = np.arange(40, dtype=float).reshape(-1, 1)  # row i holds the value i
        y = np.arange(40) % 2

        def training_rows(net, **kwargs):
            seen = []
            net.fit(X, y, epochs=1, batch_size=8, validation_split=0.25,
                    augment=lambda x_batch, rng: seen.append(x_batch[:, 0].copy()) or x_batch, verbose=0, **kwargs)
            return set(np.concatenate(seen))

        net = mlp.Network([1, 4, 2], seed=0)
        first = training_rows(net)
        self.assertEqual(len(first), 30)
        self.assertEqual(training_rows(net, dropout=0.5), first)
        self.assertEqual(training_rows(copy.deepcopy(net)), first)
        self.assertEqual(training_rows(mlp.Network([1, 4, 2], seed=0)), first)
        self.assertNotEqual(training_rows(mlp.Network([1, 4, 2], seed=1)), first)
        unseeded = mlp.Network([1, 4, 2])
        self.assertEqual(training_rows(unseeded), training_rows(unseeded))
        rng = np.random.default_rng(0)
        noise_X, noise_y = rng.standard_normal((200, 5)), rng.integers(0, 2, 200)
        noise = mlp.Network([5, 64, 2], seed=0)
        for _ in range(8):
            history = noise.fit(noise_X, noise_y, epochs=5, batch_size=16, lr=0.01, validation_split=0.25, verbose=0)
        self.assertLess(history["val_accuracy"][-1], 0.7)

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
        for epochs, said in ((best + 3, f"early stopping: restored the weights of epoch {best + 1} "), (best + 1, None)):
            with contextlib.redirect_stdout(io.StringIO()) as out:
                mlp.Network([10, 64, 64, 3], seed=0).fit(X[:40], y[:40], epochs=epochs, batch_size=8, lr=0.01,
                                                        validation_data=(X[40:], y[40:]), early_stopping=3)
            restored = [line for line in out.getvalue().splitlines() if "restored" in line]
            self.assertEqual(restored, [line for line in restored if said and line.startswith(said)])
            self.assertEqual(len(restored), 1 if said else 0)

    def test_a_copy_trains_on_its_own(self):
        # People keep a model's best weights with copy.deepcopy: the copy must train, and the
        # original must not move when it does.
        X, y = spiral(30)
        net = mlp.Network([2, 16, 3], seed=0)
        net.fit(X, y, epochs=2, verbose=0)
        for copied in (copy.deepcopy(net), pickle.loads(pickle.dumps(net))):
            before = params_of(net)
            loss = copied.loss(X, y)
            copied.fit(X, y, epochs=5, lr=0.01, verbose=0)
            self.assertLess(copied.loss(X, y), 0.9 * loss)
            assert_same_params(self, net, before)

    def test_dropout_scales_what_it_keeps_and_keeps_one_minus_p(self):
        # Sigmoid units are never exactly 0, so a 0 in training is a dropped unit.
        net = mlp.Network([20, 400, 2], hidden="sigmoid", seed=0)
        x = net._inputs(np.random.default_rng(0).standard_normal((500, 20)))
        plain = net._forward(x)[1][1]
        for p in (0.2, 0.5, 0.7):
            with self.subTest(p=p):
                dropped = net._forward(x, dropout=p)[1][1]
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
        np.testing.assert_array_equal(net.predict(X), first.argmax(axis=1))
        self.assertEqual(net.evaluate(X, y), net.evaluate(X, y))

    def test_each_epoch_visits_every_training_row_once_in_a_new_order(self):
        X = np.arange(40, dtype=float).reshape(-1, 1)  # row i holds the value i
        y = np.arange(40) % 2
        for validation_split, n_train in ((0.0, 40), (0.25, 30)):
            seen = []
            net = mlp.Network([1, 4, 2], seed=0)
            net.fit(X, y, epochs=3, batch_size=8, validation_split=validation_split,
                    augment=lambda x_batch, rng, seen=seen: seen.append(x_batch[:, 0].copy()) or x_batch,
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
        cases = [("softmax", 4, (7,)), ("sigmoid", 1, (7,)), ("sigmoid", 2, (7, 2)), ("identity", 2, (7, 2)),
                 ("identity", 1, (7,)), ("tanh", 1, (7,))]
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
                np.testing.assert_array_equal(prediction.reshape(7, k), proba)
        # predict_proba runs 4,096 rows at a time: every row comes back, in its place
        many = rng.standard_normal((2 * 4096 + 100, 3))
        net = mlp.Network([3, 5, 4], seed=0, dtype="float64")
        np.testing.assert_allclose(net.predict_proba(many), net.feedforward(many)[1][-1], rtol=1e-12)
        net = mlp.Network([3, 5, 2], output="identity", seed=0)
        self.assertEqual(set(net.evaluate(X, rng.standard_normal((7, 2)))), {"loss"})
        net = mlp.Network([3, 5, 2], seed=0)
        self.assertEqual(set(net.evaluate(X, [0, 1, 0, 1, 0, 1, 0])), {"loss", "accuracy"})
        # an accuracy of 0 is reported as 0, not left out
        wrong = 1 - net.predict(X)
        self.assertEqual(net.evaluate(X, wrong)["accuracy"], 0.0)

    def test_labels_of_many_classes_make_one_hot_rows_without_a_k_by_k_matrix(self):
        # np.eye(k)[y] took 244 MiB for 4 rows at k = 8,000; the one-hot rows need 4 x k.
        net = mlp.Network([3, 8000], seed=0)
        X, y = np.zeros((4, 3)), np.array([0, 1, 7998, 7999])
        tracemalloc.start()
        try:
            _, Y = net._data(X, y)
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        np.testing.assert_array_equal(Y.argmax(axis=1), y)
        self.assertLess(peak, 2_000_000)  # 4 x 8,000 float32 is 128 kB

    def test_the_parameters_are_plain_arrays_changed_in_place(self):
        net = mlp.Network([2, 3, 2], seed=0, dtype="float64")
        X = np.ones((1, 2))
        net.weights[0][...] = 0.0
        net.biases[0][...] = 1.0
        net.weights[1][...] = [[1.0, 0.0], [1.0, 0.0], [1.0, 0.0]]
        net.biases[1][...] = 0.0
        np.testing.assert_allclose(net.predict_proba(X), mlp.softmax(np.array([[3.0, 0.0]])))


def replay(epochs, make_optimizer=mlp.Adam, X=None, y=None, **kwargs):
    """A network and optimizer trained for whole epochs: what an interrupted run must equal."""
    net, optimizer = mlp.Network([2, 8, 3], seed=0), make_optimizer()
    if epochs:
        net.fit(X, y, epochs=epochs, batch_size=16, optimizer=optimizer, verbose=0, **kwargs)
    return net, optimizer


class Transaction(unittest.TestCase):
    """Whatever stops fit (Ctrl-C, a divergence, any exception) leaves whole weights and the
    optimizer's state that goes with them, then propagates; a refused call changes nothing."""

    def setUp(self):
        self.X, self.y = spiral(40)  # 120 rows: 8 batches of 16 an epoch
        # Python's own handler, for the tests that send SIGINT: a run started in the background
        # from a script inherits SIGINT ignored.
        self.addCleanup(signal.signal, signal.SIGINT, signal.signal(signal.SIGINT, signal.default_int_handler))

    def interrupted(self, make_optimizer, raise_at, exception=KeyboardInterrupt, **kwargs):
        """Train 3 epochs, raising exception (or sending SIGINT) in the augment's call number
        raise_at; return the network, optimizer and the exception fit raised."""
        net, optimizer = replay(0, make_optimizer)
        calls = []

        def augment(x_batch, rng):
            calls.append(1)
            if len(calls) == raise_at:
                if exception == "SIGINT":
                    signal.raise_signal(signal.SIGINT)
                else:
                    raise exception
            return x_batch

        with self.assertRaises(KeyboardInterrupt if exception == "SIGINT" else exception) as caught:
            net.fit(self.X, self.y, epochs=3, batch_size=16, optimizer=optimizer, augment=augment, verbose=0,
                    **kwargs)
        return net, optimizer, caught.exception

    def test_ctrl_c_propagates_and_leaves_the_weights_and_state_of_the_last_whole_epoch(self):
        for make in (mlp.Adam, mlp.SGD):
            for raise_at, whole in ((8 + 3, 1), (3, 0), (16 + 8, 2)):
                with self.subTest(optimizer=make.__name__, raise_at=raise_at):
                    net, optimizer, _ = self.interrupted(make, raise_at, "SIGINT")
                    done, done_optimizer = replay(whole, make, self.X, self.y)
                    assert_same_params(self, net, done)
                    assert_same_state(self, optimizer, done_optimizer)
                    self.assertEqual(len(net.history["loss"]), whole)
                    self.assertEqual(len(net.history["time"]), whole)
                    self.assertIs(signal.getsignal(signal.SIGINT), signal.default_int_handler)

    def test_any_exception_from_an_augment_or_a_schedule_leaves_whole_weights(self):
        net, optimizer, _error = self.interrupted(mlp.Adam, 8 + 5, ValueError)
        done, done_optimizer = replay(1, mlp.Adam, self.X, self.y)
        assert_same_params(self, net, done)
        assert_same_state(self, optimizer, done_optimizer)

        def schedule(progress):
            if progress > 0.5:
                raise RuntimeError("a broken schedule")
            return 1.0

        net, optimizer = replay(0)
        with self.assertRaisesRegex(RuntimeError, "a broken schedule"):
            net.fit(self.X, self.y, epochs=3, batch_size=16, optimizer=optimizer, schedule=schedule, verbose=0)
        self.assertEqual(optimizer.t, 8)  # epoch 2 crossed the middle of the run: only epoch 1 is kept
        self.assertEqual(len(net.history["loss"]), 1)

    def test_a_schedule_that_returns_what_is_not_a_rate_is_named(self):
        net, _ = replay(0)
        before = params_of(net)
        for value, error in (("fast", TypeError), (-1.0, ValueError), (float("nan"), ValueError)):
            with self.subTest(value=value), self.assertRaisesRegex(error, "the schedule's value must be"):
                net.fit(self.X, self.y, epochs=1, schedule=lambda progress, value=value: value, verbose=0)
            assert_same_params(self, net, before)

    def test_a_second_ctrl_c_inside_an_update_keeps_the_last_whole_epoch(self):
        # Ctrl-C raises KeyboardInterrupt wherever the code is: here, between two slices of an
        # optimizer step, which leaves that step half done. fit gives the epoch up.
        for make in (mlp.Adam, mlp.SGD):
            net, optimizer = replay(0, make)
            optimizer.chunk = 8  # 8 slices a step: W1 in 2, b1 in 1, W2 in 4, b2 in 1
            real_update, calls = optimizer._update, []

            def update(*args, calls=calls, real_update=real_update):
                calls.append(1)
                if len(calls) == 8 * 8 + 2 * 8 + 2:  # epoch 2, step 3, inside the first array
                    raise KeyboardInterrupt
                real_update(*args)

            optimizer._update = update
            with self.assertRaises(KeyboardInterrupt):
                net.fit(self.X, self.y, epochs=3, batch_size=16, optimizer=optimizer, verbose=0)
            done, done_optimizer = replay(1, make, self.X, self.y)
            with self.subTest(optimizer=make.__name__):
                assert_same_params(self, net, done)
                assert_same_state(self, optimizer, done_optimizer)

    def test_a_ctrl_c_as_an_epoch_ends_takes_its_history_back_with_its_weights(self):
        # Ctrl-C as the epoch's block ends, when the history already holds the epoch: Python
        # raises it where the rollback catches it, and history and weights must still agree.
        net, optimizer = replay(0)
        sent = []

        def tracer(frame, event, arg):
            # the block of epoch 2 resumed at its yield, the history already holding 2 epochs
            if frame.f_code.co_name == "_whole" and event == "call" and len(net.history.get("time", [])) == 2 \
                    and not sent:
                sent.append(1)
                signal.raise_signal(signal.SIGINT)

        sys.settrace(tracer)
        try:
            with self.assertRaises(KeyboardInterrupt):
                net.fit(self.X, self.y, epochs=3, batch_size=16, optimizer=optimizer, verbose=0)
        finally:
            sys.settrace(None)
        done, done_optimizer = replay(1, mlp.Adam, self.X, self.y)
        self.assertEqual(len(net.history["time"]), 1)
        assert_same_params(self, net, done)
        assert_same_state(self, optimizer, done_optimizer)
        self.assertEqual(net.rng.bit_generator.state, done.rng.bit_generator.state)

    def test_a_print_that_fails_leaves_whole_weights(self):
        class ClosedPipe(io.StringIO):
            def write(self, text):
                if "epoch 2" in text:
                    raise BrokenPipeError(32, "Broken pipe")
                return super().write(text)

        net, optimizer = replay(0)
        with contextlib.redirect_stdout(ClosedPipe()), self.assertRaises(BrokenPipeError):
            net.fit(self.X, self.y, epochs=3, batch_size=16, optimizer=optimizer, verbose=1)
        done, done_optimizer = replay(1, mlp.Adam, self.X, self.y)
        assert_same_params(self, net, done)
        assert_same_state(self, optimizer, done_optimizer)
        self.assertEqual(len(net.history["loss"]), 1)

    def test_a_callers_own_sigint_handler_is_left_alone(self):
        handled = []

        def handler(signum, frame):
            handled.append(signum)

        previous = signal.signal(signal.SIGINT, handler)
        try:
            seen = []

            def augment(x_batch, rng):
                seen.append(signal.getsignal(signal.SIGINT))
                if len(seen) == 3:
                    signal.raise_signal(signal.SIGINT)  # the caller's handler takes it
                return x_batch

            net, _ = replay(0)
            history = net.fit(self.X, self.y, epochs=2, batch_size=16, augment=augment, verbose=0)
            self.assertEqual(len(history["loss"]), 2)  # not interrupted: the caller handled it
            self.assertEqual(handled, [signal.SIGINT])
            self.assertTrue(all(h is handler for h in seen))
            self.assertIs(signal.getsignal(signal.SIGINT), handler)
        finally:
            signal.signal(signal.SIGINT, previous)

    def test_ctrl_c_with_early_stopping_keeps_the_last_whole_epoch_not_the_best(self):
        rng = np.random.default_rng(0)
        X, y = rng.standard_normal((80, 10)), rng.integers(0, 3, 80)
        kwargs = {"batch_size": 8, "lr": 0.01, "validation_data": (X[40:], y[40:]), "early_stopping": 3, "verbose": 0}
        full = mlp.Network([10, 64, 64, 3], seed=0).fit(X[:40], y[:40], epochs=200, **kwargs)
        best = int(np.argmin(full["val_loss"]))
        stop = best + 2  # past the best, before the patience runs out: interrupt in epoch stop + 1
        calls = []

        def augment(x_batch, rng):
            calls.append(1)
            if len(calls) == 5 * stop + 2:
                raise KeyboardInterrupt
            return x_batch

        net = mlp.Network([10, 64, 64, 3], seed=0)
        with self.assertRaises(KeyboardInterrupt):
            net.fit(X[:40], y[:40], epochs=200, augment=augment, **kwargs)
        done = mlp.Network([10, 64, 64, 3], seed=0)
        done.fit(X[:40], y[:40], epochs=stop, **{**kwargs, "early_stopping": None})
        assert_same_params(self, net, done)
        self.assertEqual(len(net.history["val_loss"]), stop)

    def test_a_diverging_loss_stops_with_a_clear_error_and_keeps_finite_weights(self):
        X = np.linspace(-1, 1, 64).reshape(-1, 1)
        y = 5 * X[:, 0]

        def network(epochs=0):
            net = mlp.Network([1, 16, 1], hidden="relu", output="identity", seed=0)
            if epochs:
                net.fit(X, y, epochs=epochs, batch_size=16, optimizer=mlp.SGD(lr=10.0), verbose=0)
            return net

        for errors in ("ignore", "raise"):  # under numpy's errstate of the caller's choice
            with self.subTest(errors=errors), np.errstate(all=errors):
                net = network()
                with self.assertRaisesRegex(FloatingPointError, r"diverged in epoch \d+.*smaller learning rate") as caught:
                    net.fit(X, y, epochs=50, batch_size=16, optimizer=mlp.SGD(lr=10.0), verbose=0)
                epoch = int(re.search(r"epoch (\d+)", str(caught.exception)).group(1))
                self.assertGreater(epoch, 1)
                # The same seed replays the run: the weights kept are those of the epoch before.
                assert_same_params(self, net, network(epoch - 1))
                self.assertEqual(len(net.history["loss"]), epoch - 1)
        # The last update of an epoch overflows the weights: the epoch's loss, that of the
        # outputs before the update, is finite, but the weights are not. One batch, so one
        # update, at a rate that takes a gradient above 1.2 past float32's largest number.
        net = network()
        before = params_of(net)
        with self.assertRaisesRegex(FloatingPointError, "diverged in epoch 1: the loss or the weights overflowed"):
            net.fit(X, y, epochs=1, batch_size=64, optimizer=mlp.SGD(lr=3e38), verbose=0)
        assert_same_params(self, net, before)

    def test_a_divergence_rolls_the_optimizer_back_with_the_weights(self):
        X = np.linspace(-1, 1, 64).reshape(-1, 1)
        y = 5 * X[:, 0]
        for make in (lambda: mlp.Adam(lr=1e-3), lambda: mlp.SGD(lr=1e-3)):
            net = mlp.Network([1, 16, 1], hidden="relu", output="identity", seed=0)
            optimizer = make()
            net.fit(X, y, epochs=2, batch_size=16, optimizer=optimizer, verbose=0)
            state = copy.deepcopy(optimizer)
            with self.assertRaises(FloatingPointError):
                net.fit(X, y, epochs=5, batch_size=16, optimizer=optimizer, lr=1e30, verbose=0)
            assert_same_state(self, optimizer, state)
            # and the same optimizer trains on at a sane rate, from where it was
            before = net.loss(X, y)
            net.fit(X, y, epochs=3, batch_size=16, optimizer=optimizer, lr=1e-3, verbose=0)
            self.assertLess(net.loss(X, y), before)

    def test_a_refused_call_changes_nothing_not_even_the_random_state(self):
        net, optimizer = replay(1, mlp.Adam, self.X, self.y)
        before, state, t = params_of(net), net.rng.bit_generator.state, optimizer.t
        for kwargs in ({"y": self.y + 5}, {"epochs": 0}, {"validation_split": 0.9999},
                       {"early_stopping": 2}, {"dropout": 1.0}, {"optimizer": mlp.Adam(beta1=1.5)}):
            arguments = {"X": self.X, "y": self.y, "epochs": 1, "optimizer": optimizer, "verbose": 0, **kwargs}
            with self.subTest(**{k: repr(v) for k, v in kwargs.items()}), self.assertRaises((ValueError, TypeError)):
                net.fit(**arguments)
            assert_same_params(self, net, before)
            self.assertEqual(net.rng.bit_generator.state, state)
            self.assertEqual(optimizer.t, t)
        fresh = mlp.Adam()  # refused for another argument, it is not bound to this network
        with self.assertRaises(ValueError):
            net.fit(self.X, self.y, epochs=1, optimizer=fresh, early_stopping=2, verbose=0)
        mlp.Network([2, 8, 3], seed=1).fit(self.X, self.y, epochs=1, optimizer=fresh, verbose=0)
        # an augment that fails in the first batch leaves the random state as it was
        with self.assertRaises(ValueError):
            net.fit(self.X, self.y, epochs=1, augment=lambda x_batch, rng: x_batch[1:], verbose=0)
        self.assertEqual(net.rng.bit_generator.state, state)


class Errors(unittest.TestCase):
    """Bad input raises an error that names the argument, from one table of what each may be."""

    def setUp(self):
        self.net = mlp.Network([4, 5, 3], seed=0)
        self.X = np.zeros((6, 4))
        self.y = np.array([0, 1, 2, 0, 1, 2])

    def fits(self, **kwargs):
        arguments = {"X": self.X, "y": self.y, "epochs": 1, "verbose": 0, **kwargs}
        return self.net.fit(**arguments)

    def test_bad_inputs_name_what_was_wrong(self):
        X, y = self.X, self.y
        nan_X = X.copy()
        nan_X[2, 1] = np.nan
        inf_y = np.zeros((6, 3))
        inf_y[0, 0] = np.inf
        one_hot = np.eye(3)[y]
        one_hot[2] = 0  # a row of no class at all
        cases = [
            (ValueError, r"X must be 2-D, one or more rows of sizes\[0\] = 4 columns; got \(4,\)",
             lambda: self.net.predict(np.zeros(4))),
            (ValueError, r"X must be 2-D.*; got \(2, 3, 4\)", lambda: self.net.predict(np.zeros((2, 3, 4)))),
            (ValueError, r"X must be 2-D.*; got \(6, 5\)", lambda: self.net.predict(np.zeros((6, 5)))),
            ((ValueError, TypeError), r"X must be a rectangular array of numbers",
             lambda: self.net.predict([[0, 0, 0, 0], [0, 0, 0]])),
            (ValueError, r"y must be 1-D or 2-D with a row for each of X's 6; got shape \(5,\)", lambda: self.fits(y=y[:5])),
            (ValueError, r"X contains NaN or inf", lambda: self.fits(X=nan_X)),
            (ValueError, r"y contains NaN or inf", lambda: self.fits(y=inf_y)),
            (ValueError, r"y holds the label 3, outside the classes 0\.\.2", lambda: self.fits(y=y + 1)),
            (ValueError, r"y holds the label -1", lambda: self.fits(y=y - 1)),
            (ValueError, r"y holds the label 0\.5", lambda: self.fits(y=y * 0.5)),
            (ValueError, r"y has shape \(6, 4\), not a column for each of the 3 output units",
             lambda: self.fits(y=np.eye(4)[y])),
            (ValueError, r"every row of one-hot y must add up to 1", lambda: self.fits(y=np.ones((6, 3)))),
            (ValueError, r"every row of one-hot y must add up to 1", lambda: self.fits(y=one_hot)),
            (ValueError, r"X must be 2-D, one or more rows.*; got \(0, 4\)", lambda: self.fits(X=np.zeros((0, 4)), y=[])),
            (TypeError, r"X must be a rectangular array of numbers; got dtype <U1",
             lambda: self.net.predict([["a", "b", "c", "d"]])),
            (ValueError, r"epochs must be an integer in \[1, inf\); got 0", lambda: self.fits(epochs=0)),
            (TypeError, r"epochs must be an integer in \[1, inf\); got 2\.5", lambda: self.fits(epochs=2.5)),
            (TypeError, r"epochs must be an integer .*; got True", lambda: self.fits(epochs=True)),
            (ValueError, r"batch_size must be an integer in \[1, inf\); got -1", lambda: self.fits(batch_size=-1)),
            (ValueError, r"lr must be a number in \(0, inf\); got 0", lambda: self.fits(lr=0)),
            (ValueError, r"lr must be a number in \(0, inf\); got inf", lambda: self.fits(lr=float("inf"))),
            (ValueError, r"the SGD's lr must be a number in \(0, inf\); got -0\.1",
             lambda: self.fits(optimizer=mlp.SGD(lr=-0.1))),
            (ValueError, r"lr must be .*; got nan", lambda: self.fits(lr=float("nan"))),
            (ValueError, r"dropout must be a number in \[0, 1\); got 1", lambda: self.fits(dropout=1)),
            (ValueError, r"dropout must be a number in \[0, 1\); got -0\.1", lambda: self.fits(dropout=-0.1)),
            (ValueError, r"l2 must be a number in \[0, inf\); got -1", lambda: self.fits(l2=-1)),
            (ValueError, r"validation_split must be a number in \[0, 1\)", lambda: self.fits(validation_split=1.5)),
            (ValueError, r"validation_split=0\.01 leaves no rows of 6", lambda: self.fits(validation_split=0.01)),
            (ValueError, r"validation_data or validation_split, not both",
             lambda: self.fits(validation_split=0.5, validation_data=(X, y))),
            (TypeError, r"validation_data must be a pair", lambda: self.fits(validation_data=X)),
            (ValueError, r"X_val must be .*got \(2, 3\)", lambda: self.fits(validation_data=(np.zeros((2, 3)), [0, 1]))),
            (ValueError, r"early_stopping needs validation", lambda: self.fits(early_stopping=2)),
            (ValueError, r"optimizer must be one of 'adam', 'sgd' or an Optimizer .*; got 'rmsprop'",
             lambda: self.fits(optimizer="rmsprop")),
            (TypeError, r"optimizer must be", lambda: self.fits(optimizer=3)),
            (ValueError, r"schedule must be one of 'cosine', 'onecycle' or a function; got 'linear'",
             lambda: self.fits(schedule="linear")),
            (TypeError, r"augment must be a function; got 'shift'", lambda: self.fits(augment="shift")),
            (ValueError, r"augment must return an array shaped like its batch, \(6, 4\)",
             lambda: self.fits(augment=lambda x_batch, rng: x_batch[1:])),
            (TypeError, r"shuffle must be True or False; got 'no'", lambda: self.fits(shuffle="no")),
            (ValueError, r"verbose must be True or False; got 2", lambda: self.fits(verbose=2)),
            (TypeError, r"the SGD's nesterov must be True or False; got 'no'",
             lambda: self.fits(optimizer=mlp.SGD(nesterov="no"))),
            (ValueError, r"the Adam's beta2 must be a number in \[0, 1\); got 1", lambda: self.fits(optimizer=mlp.Adam(beta2=1))),
            (TypeError, r"download must be True or False; got 'no'", lambda: mlp.load_mnist(download="no")),
            (ValueError, r"hidden must be one of .*'relu'.*; got 'rellu'", lambda: mlp.Network([2, 3, 2], hidden="rellu")),
            (ValueError, r"output must be one of .*; got 'soft'", lambda: mlp.Network([2, 3, 2], output="soft")),
            (ValueError, r"hidden must be one of .*; got 'softmax'", lambda: mlp.Network([2, 3, 2], hidden="softmax")),
            (ValueError, r"hidden must be an activation name or a list of 2; got \['relu'\]",
             lambda: mlp.Network([2, 3, 3, 2], hidden=["relu"])),
            (TypeError, r"hidden must be an activation name or a list of 1; got None",
             lambda: mlp.Network([4, 3, 2], hidden=None)),
            (ValueError, r"loss must be one of .*; got 'hinge'", lambda: mlp.Network([2, 3, 2], loss="hinge")),
            (ValueError, r"loss='cross_entropy' needs probabilities",
             lambda: mlp.Network([2, 3, 2], output="tanh", loss="cross_entropy")),
            (ValueError, r"softmax output needs 2 units or more", lambda: mlp.Network([2, 3, 1])),
            (ValueError, r"sizes must be a list of 2 or more layer widths", lambda: mlp.Network([784])),
            (ValueError, r"every entry of sizes must be an integer in \[1, inf\); got 0", lambda: mlp.Network([784, 0, 10])),
            (TypeError, r"every entry of sizes must be an integer .*; got 12\.5", lambda: mlp.Network([784, 12.5, 10])),
            (TypeError, r"every entry of sizes must be an integer .*; got True", lambda: mlp.Network([784, True, 10])),
            (TypeError, r"sizes must be a list", lambda: mlp.Network(784)),
            (TypeError, r"sizes must be a list", lambda: mlp.Network("784")),
            (ValueError, r"dtype must be one of 'float32', 'float64'; got 'int32'", lambda: mlp.Network([2, 2], dtype="int32")),
            (TypeError, r"dtype must be one of 'float32', 'float64'; got None", lambda: mlp.Network([2, 2], dtype=None)),
            (ValueError, r"y must hold values in \[0, 1\] for binary_cross_entropy",
             lambda: mlp.Network([4, 2], output="sigmoid").fit(X, np.full((6, 2), 2.0), verbose=0)),
            (ValueError, r"y has shape \(6,\), not a column for each of the 2 output units",
             lambda: mlp.Network([4, 2], output="identity").fit(X, np.zeros(6), verbose=0)),
            (ValueError, r"seed must be an integer in \[0, inf\); got -1", lambda: mlp.Network([2, 2], seed=-1)),
            (TypeError, r"seed must be an integer .*; got 1.5", lambda: mlp.Network([2, 2], seed=1.5)),
            (ValueError, r"X holds values too large for float32", lambda: self.net.predict(np.full((5, 4), 1e39))),
            (ValueError, r"y holds values too large for float32",
             lambda: mlp.Network([4, 2], output="identity").fit(X, np.full((6, 2), -1e39), verbose=0)),
        ]
        for error, pattern, call in cases:
            with self.subTest(pattern=pattern), self.assertRaisesRegex(error, pattern):
                call()

    def test_an_output_that_overflows_is_an_error_that_names_x(self):
        # Finite float32 inputs can still overflow inside the network: say so, do not predict 0.
        net = mlp.Network([8, 16, 3], seed=0)
        for X in (np.full((5, 8), 3e38, np.float32), np.full((5, 8), -3e38)):
            for call in (net.predict, net.predict_proba, lambda X: net.evaluate(X, [0] * 5),
                         lambda X: net.loss(X, [0] * 5)):
                with self.subTest(X=X[0, 0], call=call), np.errstate(all="raise"), warnings.catch_warnings(), \
                        self.assertRaisesRegex(ValueError, r"output for X is not finite in float32: inputs up to 3e\+38"):
                    warnings.simplefilter("error")
                    call(X)

    def test_an_mse_that_overflows_is_inf_without_a_warning(self):
        net = mlp.Network([1, 1], output="identity", seed=0)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            self.assertEqual(net.evaluate([[0.0]], [3e38])["loss"], math.inf)

    def test_accuracy_of_several_sigmoid_units_counts_rows_with_every_unit_right(self):
        net = mlp.Network([2, 2], output="sigmoid", seed=0)
        net.weights[0][...] = [[10.0, 0.0], [0.0, 10.0]]  # output k is sigmoid(10 x_k)
        X = np.array([[1.0, 1.0], [1.0, -1.0], [-1.0, -1.0], [-1.0, 1.0]])
        Y = np.array([[1, 1], [1, 1], [0, 0], [1, 1]])  # rows 0 and 2 right; 1 and 3 half right
        self.assertEqual(net.evaluate(X, Y)["accuracy"], 0.5)
        history = net.fit(X, Y, epochs=1, batch_size=4, lr=1e-12, verbose=0)
        self.assertEqual(history["accuracy"], [0.5])

    def test_the_finite_check_sees_inf_and_nan_but_not_a_sum_that_overflows(self):
        net = mlp.Network([4, 3], seed=0)
        net.weights[0][...] = 0.0
        huge = np.full((2, 4), 3e38, np.float32)  # finite, but their float32 sum is inf
        with np.errstate(all="raise"):
            np.testing.assert_array_equal(net.predict(huge), [0, 0])
        for bad in ([np.inf, -np.inf, 0, 0], [np.inf, 0, 0, 0], [-np.inf, 0, 0, 0], [0, np.nan, 0, 0]):
            X = np.array([bad, [0, 0, 0, 0]], np.float32)
            with self.subTest(bad=bad), self.assertRaisesRegex(ValueError, "X contains NaN or inf"):
                net.predict(X)

    def test_every_argument_in_the_table_is_checked_where_it_is_taken(self):
        # The table declares each argument once; the public functions that take one check it.
        taken = set()
        for function in (mlp.Network.__init__, mlp.Network.fit, mlp.Network.loss, mlp.Network.backprop,
                         mlp.load_mnist, mlp.random_shift):
            taken |= set(inspect.signature(function).parameters)
        optimizers = set(inspect.signature(mlp.SGD).parameters) | set(inspect.signature(mlp.Adam).parameters)
        internal = {"width", "activation", "float", "factor", "shift"}  # sizes', hidden's, dtype's, a schedule's, --shift
        self.assertEqual(set(mlp.ARGUMENTS) - internal, (taken | optimizers) & set(mlp.ARGUMENTS))


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
        with self.assertRaisesRegex(ValueError, r"max_shift must be below the images' sides, 28 x 28; got 28"):
            mlp.random_shift(max_shift=28)
        with self.assertRaisesRegex(ValueError, r"max_shift must be an integer in \[0, inf\); got -1"):
            mlp.random_shift(max_shift=-1)
        with self.assertRaisesRegex(TypeError, "shape must be"):
            mlp.random_shift(shape=(28,))
        with self.assertRaisesRegex(ValueError, r"shape must be an integer in \[1, inf\); got 0"):
            mlp.random_shift(shape=(28, 0))
        with self.assertRaisesRegex(ValueError, r"random_shift needs rows of 28 x 28 pixels"):
            mlp.random_shift()(np.zeros((2, 10)), np.random.default_rng(0))


DEAD = "http://127.0.0.1:9/"  # the discard port: nothing listens there, a request fails at once
REAL_DATA = os.path.join(HERE, "..", "shared", "data")
TEMPORARY = re.compile(r"^\.[0-9a-f]{12}\.part$")  # the name of _write's temporary file
IDX_NAMES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")


def setUpModule():
    """No mirror on the internet and no real home folder, for every test: a test that wants a
    mirror patches MIRRORS with a local server."""
    home = tempfile.TemporaryDirectory()
    unittest.addModuleCleanup(home.cleanup)
    for patch in (mock.patch.dict(mlp.MIRRORS, {dataset: [DEAD] for dataset in mlp.MIRRORS}),
                  mock.patch.dict(os.environ, {"HOME": home.name})):
        patch.start()
        unittest.addModuleCleanup(patch.stop)
    os.environ.pop("MLP_DATA", None)


# ============================================================================ helpers

def read(path):
    with open(path, "rb") as f:
        return f.read()


def write(path, data):
    with open(path, "wb") as f:
        f.write(data)


def listing(folder):
    return sorted(os.listdir(folder))


def sha256(data):
    return hashlib.sha256(data).hexdigest()


def gzip_file(data):
    return gzip.compress(data, mtime=0)


def idx_bytes(array, magic):
    """An IDX file: the big-endian magic number and dimensions, then a byte per entry."""
    return struct.pack(f">I{array.ndim}I", magic, *array.shape) + array.astype(np.uint8).tobytes()


def fake_mnist(n_train, n_test, seed=0):
    """Small random IDX files under the published names: ({name: IDX bytes}, {name: array})."""
    rng = np.random.default_rng(seed)
    arrays = {"train-images-idx3-ubyte": rng.integers(0, 256, (n_train, 28, 28)),
              "train-labels-idx1-ubyte": rng.integers(0, 10, n_train),
              "t10k-images-idx3-ubyte": rng.integers(0, 256, (n_test, 28, 28)),
              "t10k-labels-idx1-ubyte": rng.integers(0, 10, n_test)}
    return {name: idx_bytes(a, 2051 if "images" in name else 2049) for name, a in arrays.items()}, arrays


def published(payloads, dataset="mnist"):
    """Entries of mlp.SHA256 that make these IDX files, and their gzip_file, the published ones."""
    entries = {f"{dataset}/{name}": sha256(data) for name, data in payloads.items()}
    entries.update({f"{dataset}/{name}.gz": sha256(gzip_file(data)) for name, data in payloads.items()})
    return entries


def gzip_bomb(images, zeros):
    """A small gzip file that inflates to an IDX images header announcing `images` images,
    then `zeros` zero bytes."""
    return gzip.compress(struct.pack(">4I", 2051, images, 28, 28) + bytes(zeros), 1, mtime=0)


def npy(array):
    f = io.BytesIO()
    np.save(f, array, allow_pickle=False)
    return f.getvalue()


def npy_declaring(shape, descr, body):
    """An .npy file whose header declares shape and descr, followed by body, whatever it holds."""
    f = io.BytesIO()
    np.lib.format.write_array_header_1_0(f, {"descr": descr, "fortran_order": False, "shape": shape})
    return f.getvalue() + body


def members_of(path):
    with zipfile.ZipFile(path) as z:
        return {name: z.read(name) for name in z.namelist()}


def arrays_of(path):
    with np.load(path) as data:
        return {name: data[name] for name in data.files}


def write_zip(path, members, compression=zipfile.ZIP_STORED, comment=b""):
    with zipfile.ZipFile(path, "w", compression) as z:
        for name, data in members.items():
            z.writestr(name, data)
        z.comment = comment


def write_npz(path, arrays):
    with open(path, "wb") as f:
        np.savez(f, **arrays)


def zip_parts(data):
    """A zip archive without a comment, in three: the bytes before its central directory, the
    central directory's entries, and the end record."""
    size, offset = struct.unpack("<II", data[-10:-2])
    entries, i = [], offset
    while i < offset + size:
        name, extra, comment = struct.unpack_from("<HHH", data, i + 28)
        entries.append(data[i:i + 46 + name + extra + comment])
        i += len(entries[-1])
    return data[:offset], entries, data[-22:]


def zip_join(head, entries, end, count=None):
    """The inverse of zip_parts, the end record counting `count` members (default: the entries)."""
    directory = b"".join(entries)
    count = len(entries) if count is None else count
    return head + directory + end[:8] + struct.pack("<HHII", count, count, len(directory), len(head)) + end[20:]


def decode_png(data):
    """(width, height, pixels) of an 8-bit grayscale PNG with filter type 0, every chunk's CRC
    checked."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", data[:8]
    position, chunks = 8, {}
    while position < len(data):
        length, kind = struct.unpack(">I4s", data[position:position + 8])
        body = data[position + 8:position + 8 + length]
        (crc,) = struct.unpack(">I", data[position + 8 + length:position + 12 + length])
        assert crc == zlib.crc32(kind + body), kind
        chunks[kind] = chunks.get(kind, b"") + body
        position += 12 + length
    width, height, depth, color, _, _, _ = struct.unpack(">IIBBBBB", chunks[b"IHDR"])
    assert (depth, color) == (8, 0)
    rows = np.frombuffer(zlib.decompress(chunks[b"IDAT"]), np.uint8).reshape(height, width + 1)
    assert (rows[:, 0] == 0).all()
    return width, height, rows[:, 1:]


def trickle(data, pause):
    """A body sent a byte at a time, pause seconds apart."""
    for i in range(len(data)):
        time.sleep(pause)
        yield data[i:i + 1]


class Server:
    """An HTTP server on 127.0.0.1 serving {path: (status, body)} or {path: (status, body,
    headers)}, which records the path of every request. body is bytes, or an iterable of byte
    strings sent one after the other (to trickle, or never end); headers replace the default,
    the Content-Length of a bytes body, to lie about the length or leave it out."""

    def __init__(self, routes):
        self.routes, self.requests = routes, []
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                outer.requests.append(self.path)
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
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def temporary_folder(test):
    """A new folder, removed when the test ends."""
    folder = tempfile.TemporaryDirectory()
    test.addCleanup(folder.cleanup)
    return folder.name


def finish(process, timeout=30):
    """process.communicate(), killing the process (ours) if it outlives timeout."""
    try:
        return process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.communicate()
        raise


# ============================================================================ saving

class Saving(unittest.TestCase):
    """Network.save, and the writing it rests on, mlp._write."""

    def setUp(self):
        self.folder = temporary_folder(self)
        self.path = os.path.join(self.folder, "model.npz")
        self.net = mlp.Network([4, 5, 3], seed=0)

    def test_a_round_trip_gives_identical_predictions(self):
        rng = np.random.default_rng(0)
        X, Y = rng.standard_normal((30, 4)), np.eye(3)[np.arange(30) % 3]
        cases = [("float32", ["relu", "tanh"], "softmax", None),
                 ("float64", ["elu", "leaky_relu"], "sigmoid", None),
                 ("float64", ["sigmoid", "identity"], "softmax", "mse"),  # not the output's natural loss
                 ("float32", ["tanh", "elu"], "identity", None),
                 ("float64", [], "softmax", None)]                         # no hidden layer
        for dtype, hidden, output, loss in cases:
            with self.subTest(dtype=dtype, hidden=hidden, output=output, loss=loss):
                net = mlp.Network([4, *[6, 5][:len(hidden)], 3], hidden, output, loss, seed=1, dtype=dtype)
                net.fit(X, Y, epochs=2, batch_size=8, verbose=0)
                net.save(self.path)
                loaded = mlp.Network.load(self.path)
                self.assertEqual((loaded.sizes, loaded.hidden, loaded.output, loaded.loss_name, loaded.dtype),
                                 (net.sizes, net.hidden, net.output, net.loss_name, net.dtype))
                for mine, theirs in zip(loaded.weights + loaded.biases, net.weights + net.biases):
                    self.assertEqual(mine.dtype, theirs.dtype)
                    np.testing.assert_array_equal(mine, theirs)
                np.testing.assert_array_equal(loaded.predict_proba(X), net.predict_proba(X))
                self.assertEqual(listing(self.folder), ["model.npz"])  # no temporary left

    def test_big_endian_float32_weights_load(self):
        for l, b in enumerate(self.net.biases):
            b[...] = l + 0.5 + np.arange(len(b))  # biases that are not all 0
        self.net.save(self.path)
        arrays = {name: a.astype(a.dtype.newbyteorder(">")) if a.dtype.kind == "f" else a
                  for name, a in arrays_of(self.path).items()}
        write_npz(self.path, arrays)
        self.assertEqual({a.dtype.str for a in arrays_of(self.path).values() if a.dtype.kind == "f"}, {">f4"})
        loaded = mlp.Network.load(self.path)
        self.assertEqual(loaded.dtype, np.dtype("float32"))
        for mine, theirs in zip(loaded.weights + loaded.biases, self.net.weights + self.net.biases):
            self.assertTrue(mine.dtype.isnative)
            np.testing.assert_array_equal(mine, theirs)

    def test_a_failed_write_leaves_the_old_file_and_no_temporary(self):
        self.net.save(self.path)
        old = read(self.path)
        fresh = os.path.join(self.folder, "fresh.npz")

        def failing(exception):
            def savez(f, **arrays):
                f.write(b"PK\x03\x04 half a model")
                raise exception
            return savez

        for exception in (OSError("disk full"), KeyboardInterrupt()):
            for path in (self.path, fresh):
                with self.subTest(exception=exception, path=path):
                    with mock.patch.object(np, "savez", failing(exception)), self.assertRaises(type(exception)):
                        mlp.Network([4, 5, 3], seed=1).save(path)
                    self.assertEqual(read(self.path), old)
                    self.assertEqual(listing(self.folder), ["model.npz"])

    def test_save_refuses_to_replace_a_file_that_is_not_a_model(self):
        other = os.path.join(self.folder, "other.npz")
        write_npz(other, {"x": np.zeros(3)})  # an .npz, but not a model
        files = {"script.py": b"print('hello')\n", "picture.png": mlp._png(np.zeros((2, 3), np.uint8)),
                 "notes.txt": b"model.npz: remember to train it\n", "empty.npz": b"", "other.npz": read(other)}
        for name, data in files.items():
            write(os.path.join(self.folder, name), data)
        for name, data in files.items():
            path = os.path.join(self.folder, name)
            with self.subTest(name), self.assertRaises(ValueError):
                self.net.save(path)
            self.assertEqual(read(path), data)
        self.assertEqual(listing(self.folder), sorted(files))

    def test_save_refuses_to_replace_a_read_only_model(self):
        self.net.save(self.path)
        os.chmod(self.path, 0o444)  # the code refuses a file without a write bit, even for root
        old = read(self.path)
        with self.assertRaises(PermissionError):
            mlp.Network([4, 5, 3], seed=1).save(self.path)
        self.assertEqual(read(self.path), old)
        self.assertEqual(stat.S_IMODE(os.stat(self.path).st_mode), 0o444)
        self.assertEqual(listing(self.folder), ["model.npz"])

    def test_save_keeps_the_permission_bits_of_the_model_it_replaces(self):
        umask = os.umask(0o022)
        self.addCleanup(os.umask, umask)
        self.net.save(self.path)
        self.assertEqual(stat.S_IMODE(os.stat(self.path).st_mode), 0o644)  # a new file: 0o666 less the umask
        for seed, mode in ((1, 0o600), (2, 0o640)):
            with self.subTest(mode=oct(mode)):
                os.chmod(self.path, mode)
                net = mlp.Network([4, 5, 3], seed=seed)
                net.save(self.path)
                self.assertEqual(stat.S_IMODE(os.stat(self.path).st_mode), mode)
                np.testing.assert_array_equal(mlp.Network.load(self.path).weights[0], net.weights[0])

    def test_save_never_writes_through_a_link_into_a_folder_or_onto_a_device(self):
        model = os.path.join(self.folder, "real.npz")
        self.net.save(model)
        before = read(model)
        paths = {"a link to a model": os.path.join(self.folder, "link.npz"),
                 "a dangling link": os.path.join(self.folder, "dangling.npz"),
                 "a folder": os.path.join(self.folder, "folder.npz"),
                 "a FIFO": os.path.join(self.folder, "fifo.npz"),
                 "a device": os.path.join(self.folder, "null.npz")}
        os.symlink(model, paths["a link to a model"])
        os.symlink(os.path.join(self.folder, "nowhere.npz"), paths["a dangling link"])
        os.mkdir(paths["a folder"])
        os.mkfifo(paths["a FIFO"])
        try:  # a device of our own, like /dev/null, which a planted bug cannot harm
            os.mknod(paths["a device"], stat.S_IFCHR | 0o600, os.makedev(1, 3))
        except OSError:
            del paths["a device"]
        for kind, path in paths.items():
            with self.subTest(kind), self.assertRaises(ValueError):
                mlp.Network([4, 5, 3], seed=1).save(path)
        self.assertEqual(os.readlink(paths["a link to a model"]), model)
        self.assertEqual(read(model), before)
        self.assertFalse(os.path.lexists(os.path.join(self.folder, "nowhere.npz")))
        self.assertEqual(listing(paths["a folder"]), [])
        self.assertEqual(listing(self.folder), sorted([*map(os.path.basename, paths.values()), "real.npz"]))

    def test_a_250_character_file_name_can_be_saved(self):
        name = "m" * 246 + ".npz"
        path = os.path.join(self.folder, name)
        for seed in (1, 2):  # a new file, then one replaced
            net = mlp.Network([4, 5, 3], seed=seed)
            net.save(path)
            np.testing.assert_array_equal(mlp.Network.load(path).weights[0], net.weights[0])
        self.assertEqual(listing(self.folder), [name])

    def test_an_empty_path_is_a_value_error(self):
        cwd = os.getcwd()
        os.chdir(self.folder)  # where a temporary for "" would be made
        self.addCleanup(os.chdir, cwd)
        for path in ("", b""):
            with self.subTest(path=path), self.assertRaises(ValueError):
                self.net.save(path)
        self.assertEqual(listing(self.folder), [])

    def test_a_missing_folder_is_an_os_error_naming_the_path_meant(self):
        path = os.path.join(self.folder, "missing", "model.npz")
        with self.assertRaises(OSError) as caught:
            self.net.save(path)
        self.assertIn(path, str(caught.exception))
        self.assertNotIn(".part", str(caught.exception))  # not the temporary's name
        self.assertEqual(listing(self.folder), [])

    def test_weights_that_are_not_finite_are_not_saved(self):
        self.net.save(self.path)
        old = read(self.path)
        fresh = os.path.join(self.folder, "fresh.npz")
        for kind, layer, value in (("weights", 0, np.nan), ("biases", 1, np.inf), ("weights", 1, -np.inf)):
            net = copy.deepcopy(self.net)
            getattr(net, kind)[layer].flat[1] = value
            for path in (self.path, fresh):
                with self.subTest(kind=kind, value=value, path=path), self.assertRaises(ValueError):
                    net.save(path)
        self.assertEqual(read(self.path), old)
        self.assertEqual(listing(self.folder), ["model.npz"])

    def test_the_kind_checks_tell_models_and_pngs_from_other_files(self):
        paths = {name: os.path.join(self.folder, name) for name in
                 ("model.npz", "picture.png", "fake.png", "arrays.npz", "script.py", "empty")}
        self.net.save(paths["model.npz"])
        write(paths["picture.png"], mlp._png(np.zeros((3, 2), np.uint8)))
        write(paths["fake.png"], b"\x89PNG but not the rest of the signature")
        write_npz(paths["arrays.npz"], {"x": np.zeros(3)})
        write(paths["script.py"], b"import mlp\n")
        write(paths["empty"], b"")
        self.assertEqual({name for name, path in paths.items() if mlp._is_model(path)}, {"model.npz"})
        self.assertEqual({name for name, path in paths.items() if mlp._is_png(path)}, {"picture.png"})


# ============================================================================ loading

class Loading(unittest.TestCase):
    """Network.load, and mlp._arrays, which reads a model file."""

    def setUp(self):
        self.folder = temporary_folder(self)
        self.path = os.path.join(self.folder, "model.npz")
        self.net = mlp.Network([4, 5, 3], seed=0)
        self.net.save(self.path)
        self.good = read(self.path)

    def assert_not_a_model(self, path=None):
        """A context in which loading must be refused as a ValueError naming the file."""
        path = self.path if path is None else path
        return self.assertRaisesRegex(ValueError, f"^{re.escape(path)} is not a model saved by Network.save: ")

    def test_a_missing_file_or_a_folder_is_the_os_error_that_says_why(self):
        with self.assertRaises(FileNotFoundError):
            mlp.Network.load(os.path.join(self.folder, "missing.npz"))
        with self.assertRaises(IsADirectoryError):
            mlp.Network.load(self.folder)

    @unittest.skipUnless(os.path.isdir("/proc/self/fd"), "counts open descriptors in /proc/self/fd")
    def test_a_folder_is_an_os_error_that_names_it_and_leaks_no_descriptor(self):
        # load once opened with os.open, then open(fd): for a folder, open(fd) raised
        # IsADirectoryError without closing the descriptor (one leaked per call), and the error
        # named the descriptor ("Is a directory: 7"), not the folder.
        before = len(os.listdir("/proc/self/fd"))
        for _ in range(3):
            with self.assertRaises(OSError) as caught:
                mlp.Network.load(self.folder)
        leaked = len(os.listdir("/proc/self/fd")) - before
        self.assertNotIsInstance(caught.exception, ValueError)
        self.assertEqual((leaked, self.folder in str(caught.exception)), (0, True),
                         f"{leaked} descriptors leaked by 3 loads; the error reads {str(caught.exception)!r}")

    def test_content_that_is_not_a_model_is_a_value_error_naming_the_file(self):
        head, entries, end = zip_parts(self.good)
        npy_file = io.BytesIO()
        np.save(npy_file, np.zeros(3))
        contents = {"empty": b"", "text": b"hello\n" * 10, "a pickle": pickle.dumps(self.net),
                    "an .npy file": npy_file.getvalue(), "half a model": self.good[:len(self.good) // 2],
                    "a broken central directory": zip_join(head, [b"XXXX" + entries[0][4:], *entries[1:]], end)}
        for kind, data in contents.items():
            write(self.path, data)
            with self.subTest(kind), self.assert_not_a_model():
                mlp.Network.load(self.path)

    def test_a_fifo_is_refused_at_once(self):
        fifo = os.path.join(self.folder, "fifo.npz")
        os.mkfifo(fifo)
        outcome = []

        def load():
            try:
                mlp.Network.load(fifo)
            except BaseException as e:  # noqa: BLE001 -- reported to the test below
                outcome.append(e)
            else:
                outcome.append(None)

        thread = threading.Thread(target=load, daemon=True)
        thread.start()
        thread.join(2)
        if thread.is_alive():  # waiting for a writer: become one, so that the thread ends
            os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
            thread.join(2)
            self.fail("load waited for something to be written into a FIFO")
        self.assertIsInstance(outcome[0], ValueError)

    def test_an_archive_of_many_members_is_refused_before_its_directory_is_parsed(self):
        write_zip(self.path, {f"{i}.npy": b"" for i in range(3000)})
        start = time.perf_counter()
        with self.assert_not_a_model():
            mlp.Network.load(self.path)
        self.assertLess(time.perf_counter() - start, 0.5)
        with mock.patch.object(zipfile, "ZipFile", side_effect=AssertionError("the central directory was parsed")), \
                self.assert_not_a_model():
            mlp.Network.load(self.path)

    def test_an_end_record_that_understates_the_members_is_refused_before_the_directory_is_parsed(self):
        # zipfile reads the central directory by its size in bytes, whatever the count says: an
        # end record that counts 5 members before a directory of 3,000 entries must be refused by
        # the directory's size before zipfile parses it (at scale, 47 MB of such entries took
        # 209 MB and 4 s when only the count was checked).
        local = struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0, 0, 0, 0, 0, 0, 0, 1, 0) + b"a"
        entry = struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 20, 20, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0) + b"a"
        end = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, 0, 0, 0, 0, 0)
        write(self.path, zip_join(local, [entry] * 3000, end, count=5))
        with zipfile.ZipFile(self.path) as z:  # what zipfile makes of it
            self.assertEqual(len(z.infolist()), 3000)
        with mock.patch.object(zipfile, "ZipFile", side_effect=AssertionError("the central directory of 3,000 "
                                                                              "entries was parsed")), \
                self.assert_not_a_model():
            mlp.Network.load(self.path)

    def test_a_compressed_member_is_refused(self):
        members = members_of(self.path)
        for compressed in (set(members), {max(members, key=lambda name: len(members[name]))}):
            with zipfile.ZipFile(self.path, "w") as z:
                for name, data in members.items():
                    z.writestr(name, data, zipfile.ZIP_DEFLATED if name in compressed else zipfile.ZIP_STORED)
            with self.subTest(compressed=sorted(compressed)), self.assert_not_a_model():
                mlp.Network.load(self.path)

    def test_a_compressed_member_whose_stream_is_corrupt_is_a_value_error(self):
        # The compression method is checked before a member's .npy header is read: read
        # through zipfile's decompressor, a corrupt deflated stream escaped load as zlib.error,
        # and a bzip2 one as OSError("Invalid data stream").
        members = members_of(self.path)
        for method in (zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2):
            write_zip(self.path, members, method)
            data = bytearray(read(self.path))
            with zipfile.ZipFile(self.path) as z:
                infos = z.infolist()
            for info in infos:  # garble every member's stream past its first two bytes
                start = info.header_offset + 30 + len(info.filename) + len(info.extra)
                for i in range(start + 2, start + info.compress_size):
                    data[i] ^= 0x5A
            write(self.path, bytes(data))
            with self.subTest(method=method):
                try:
                    mlp.Network.load(self.path)
                except ValueError as e:
                    self.assertRegex(str(e), f"^{re.escape(self.path)} is not a model saved by Network.save: ")
                except Exception as e:  # noqa: BLE001 -- the failure names what escaped
                    self.fail(f"load raised {type(e).__module__}.{type(e).__name__}: {e}")
                else:
                    self.fail("a corrupt member loaded")

    def test_a_header_declaring_a_huge_shape_is_refused_without_allocating(self):
        members = members_of(self.path)
        name = max(members, key=lambda name: len(members[name]))  # the parameters
        array = np.load(io.BytesIO(members[name]))
        members[name] = npy_declaring((100_000, 100_000), array.dtype.str, array.tobytes())  # 40 GB of float32
        write_zip(self.path, members)
        tracemalloc.start()
        start = time.perf_counter()
        try:
            with self.assert_not_a_model():
                mlp.Network.load(self.path)
            elapsed, peak = time.perf_counter() - start, tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        self.assertLess(peak, 1_000_000)
        self.assertLess(elapsed, 0.25)

    def test_members_that_declare_more_bytes_than_the_file_holds_are_refused(self):
        # Two more central directory entries that point at the largest member (the end record
        # still counts the others): zipfile would read it three times.
        net = mlp.Network([100, 50, 3], seed=0)
        net.save(self.path)
        head, entries, end = zip_parts(read(self.path))
        largest = max(entries, key=lambda entry: struct.unpack_from("<I", entry, 24)[0])  # its size
        write(self.path, zip_join(head, entries + [largest] * 2, end, count=len(entries)))
        with zipfile.ZipFile(self.path) as z:  # zipfile itself reads every one of them
            self.assertEqual(len(z.infolist()), len(entries) + 2)
            self.assertGreater(sum(info.file_size for info in z.infolist()), os.path.getsize(self.path))
        with self.assert_not_a_model():
            mlp.Network.load(self.path)

    def test_an_object_array_is_refused_and_never_unpickled(self):
        members = members_of(self.path)
        payload = pickle.dumps(["relu"], protocol=2)
        payload += bytes(-len(payload) % 8)  # as long as the pointers its header declares
        members["hidden.npy"] = npy_declaring((len(payload) // 8,), "|O", payload)
        write_zip(self.path, members)
        never = mock.Mock(side_effect=AssertionError("unpickled"))
        with mock.patch.object(pickle, "load", never), mock.patch.object(pickle, "loads", never), \
                self.assert_not_a_model():
            mlp.Network.load(self.path)
        never.assert_not_called()

    def test_an_encrypted_member_and_a_zip_comment_are_refused(self):
        with zipfile.ZipFile(self.path) as z:
            offsets = [info.header_offset for info in z.infolist()]
        head, entries, end = zip_parts(self.good)
        head = bytearray(head)
        for offset in offsets:
            head[offset + 6] |= 1  # "encrypted", in every local header...
        entries = [entry[:8] + bytes([entry[8] | 1]) + entry[9:] for entry in entries]  # ...and directory entry
        write(self.path, zip_join(bytes(head), entries, end))
        with self.subTest("encrypted"), self.assert_not_a_model():
            mlp.Network.load(self.path)
        write(self.path, self.good)
        write_zip(self.path, members_of(self.path), comment=bytes(22))
        with self.subTest("a comment"), self.assert_not_a_model():
            mlp.Network.load(self.path)

    def test_arrays_that_do_not_make_the_declared_network_are_refused(self):
        arrays = arrays_of(self.path)
        floats = sorted((name for name, a in arrays.items() if a.dtype.kind == "f"), key=lambda name: -arrays[name].size)
        big = floats[0]  # the parameters, or the largest of their arrays
        A = arrays[big]

        def with_value(value, at):
            changed = A.copy()
            changed.flat[at] = value
            return changed

        cases = {
            "parameters of a shape sizes does not declare": {big: A.reshape(-1)[:1].reshape((1,) * A.ndim)},  # would broadcast
            "parameters missing": {big: None},
            "a name missing": {"loss": None},
            "an extra array": {"extra": np.zeros(2, A.dtype)},
            "parameters in float16": {name: arrays[name].astype(np.float16) for name in floats},
            "NaN in the parameters": {big: with_value(np.nan, 0)},
            "inf in the parameters": {big: with_value(np.inf, -1)},
            "a name of 65 characters": {"hidden": np.array(["r" * 65])},
            "a known name stored as text of 65": {"hidden": np.array(["relu"], "<U65")},
            "an unknown hidden activation": {"hidden": np.array(["banana"])},
            "softmax in a hidden layer": {"hidden": np.array(["softmax"])},
            "an unknown output": {"output": np.array("banana")},
        }
        if len(floats) > 1:  # parameters saved as several arrays
            cases["mixed dtypes"] = {floats[-1]: arrays[floats[-1]].astype(np.float64)}
        for case, changes in cases.items():
            variant = {name: array for name, array in {**arrays, **changes}.items() if array is not None}
            write_npz(self.path, variant)
            with self.subTest(case), self.assert_not_a_model():
                mlp.Network.load(self.path)

    def test_a_network_survives_deepcopy_and_pickle(self):
        rng = np.random.default_rng(0)
        X, y = rng.standard_normal((40, 4)), np.arange(40) % 3
        self.net.fit(X, y, epochs=1, batch_size=8, optimizer=mlp.Adam(), verbose=0)
        for how, make in (("deepcopy", copy.deepcopy), ("pickle", lambda net: pickle.loads(pickle.dumps(net)))):
            with self.subTest(how):
                before = [p.copy() for p in self.net.weights + self.net.biases]
                twin = make(self.net)
                np.testing.assert_array_equal(twin.predict_proba(X), self.net.predict_proba(X))
                twin.fit(X, y, epochs=2, batch_size=8, verbose=0)
                self.assertFalse(np.array_equal(twin.weights[0], before[0]), "the copy did not train")
                for p, old in zip(self.net.weights + self.net.biases, before):
                    np.testing.assert_array_equal(p, old)  # the original is as it was
        before = self.net.weights[0].copy()
        self.net.fit(X, y, epochs=1, batch_size=8, verbose=0)
        self.assertFalse(np.array_equal(self.net.weights[0], before), "the original no longer trains")


# ============================================================================ the MNIST loader

class LoaderTestCase(unittest.TestCase):
    """Small fake MNIST files, trusted as the published ones, in a temporary folder that is
    also the working directory (where a relative path would land)."""

    def setUp(self):
        self.folder = temporary_folder(self)
        cwd = os.getcwd()
        os.chdir(self.folder)
        self.addCleanup(os.chdir, cwd)
        self.cache = os.path.join(self.folder, "cache")
        self.payloads, self.arrays = fake_mnist(30, 10)
        self.gz = {name + ".gz": gzip_file(data) for name, data in self.payloads.items()}
        for patch in (mock.patch.dict(mlp.SHA256, published(self.payloads)),
                      mock.patch.multiple(mlp, DOWNLOAD_BYTES=200_000, READ_TIMEOUT=2.0, DOWNLOAD_DEADLINE=5.0)):
            patch.start()
            self.addCleanup(patch.stop)

    def serve(self, **bodies):
        """A mirror, at its url + "/m/", of the good .gz files, except those named in bodies
        (train_images=route for train-images-idx3-ubyte.gz, and so on)."""
        routes = {f"/m/{name}": (200, data) for name, data in self.gz.items()}
        routes.update({f"/m/{name.replace('_', '-')}-idx{3 if 'images' in name else 1}-ubyte.gz": route
                       for name, route in bodies.items()})
        server = Server(routes)
        self.addCleanup(server.close)
        return server

    def mirrors(self, *mirrors, dataset="mnist"):
        """MIRRORS[dataset] set to these servers or URLs."""
        return mock.patch.dict(mlp.MIRRORS, {dataset: [getattr(m, "url", m) + "/m/" if isinstance(m, Server) else m
                                                       for m in mirrors]})

    def place(self, folder, files):
        os.makedirs(folder, exist_ok=True)
        for name, data in files.items():
            write(os.path.join(folder, name), data)

    def assert_loaded(self, data, arrays=None):
        arrays = self.arrays if arrays is None else arrays
        (X, y), (X_test, y_test) = data
        self.assertEqual((X.shape, X.dtype, y.dtype, X_test.shape, y_test.dtype),
                         ((30, 784), np.float32, np.int64, (10, 784), np.int64))
        np.testing.assert_array_equal(X * np.float32(255), arrays["train-images-idx3-ubyte"].reshape(30, 784))
        np.testing.assert_array_equal(y, arrays["train-labels-idx1-ubyte"])
        np.testing.assert_array_equal(X_test * np.float32(255), arrays["t10k-images-idx3-ubyte"].reshape(10, 784))
        np.testing.assert_array_equal(y_test, arrays["t10k-labels-idx1-ubyte"])

    def assert_kept(self, folder=None):
        """folder holds the four good .gz files, and nothing else."""
        folder = self.cache if folder is None else folder
        self.assertEqual(listing(folder), sorted(self.gz))
        for name, data in self.gz.items():
            self.assertEqual(read(os.path.join(folder, name)), data, name)


class Downloading(LoaderTestCase):

    def test_the_files_are_downloaded_parsed_and_kept_gzipped(self):
        server = self.serve()
        with self.mirrors(server), warnings.catch_warnings():
            warnings.simplefilter("error")
            self.assert_loaded(mlp.load_mnist(data_dir=self.cache))
        self.assert_kept()
        self.assertEqual(sorted(server.requests), sorted("/m/" + name for name in self.gz))

    def test_files_already_there_need_no_network_in_either_spelling_gzipped_or_not(self):
        server = self.serve()
        rounds = [("train-images.idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images.idx3-ubyte.gz",
                   "t10k-labels-idx1-ubyte.gz"),
                  ("train-images-idx3-ubyte.gz", "train-labels.idx1-ubyte.gz", "t10k-images-idx3-ubyte",
                   "t10k-labels.idx1-ubyte")]
        for i, filenames in enumerate(rounds):
            folder = os.path.join(self.folder, f"round{i}")
            self.place(folder, {filename: gzip.compress(self.payloads[name], 1) if filename.endswith(".gz")
                                else self.payloads[name] for name, filename in zip(IDX_NAMES, filenames)})
            with self.subTest(filenames=filenames), self.mirrors(server), warnings.catch_warnings():
                warnings.simplefilter("ignore")  # whether a copy is trusted is not this test's concern
                self.assert_loaded(mlp.load_mnist(data_dir=folder))
            self.assertEqual(listing(folder), sorted(filenames))
        self.assertEqual(server.requests, [])

    def test_every_kind_of_failing_mirror_is_left_for_the_next_and_nothing_of_it_kept(self):
        gz = self.gz["train-images-idx3-ubyte.gz"]
        impostor = gzip_file(fake_mnist(30, 10, seed=1)[0]["train-images-idx3-ubyte"])  # valid, but not published
        failing = {
            "a valid file that is not the published one": (200, impostor),
            "a corrupt file": (200, gz[:-7] + b"garbage"),
            "an HTML error page": (200, b"<!DOCTYPE html><html><body>Not Found</body></html>"),
            "a 404": (404, b"<html>404 Not Found</html>"),
            "a connection closed early": (200, gz[:100], {"Content-Length": len(gz)}),
            "a chunked body cut short": (200, b"ffff\r\n" + gz[:100], {"Transfer-Encoding": "chunked"}),
        }
        for i, (kind, route) in enumerate(failing.items()):
            with self.subTest(kind):
                bad, good = self.serve(train_images=route), self.serve()
                cache = os.path.join(self.folder, f"cache{i}")
                with self.mirrors(bad, good):
                    self.assert_loaded(mlp.load_mnist(data_dir=cache))
                self.assertEqual(good.requests, ["/m/train-images-idx3-ubyte.gz"])
                self.assert_kept(cache)

    def test_when_every_mirror_fails_one_error_lists_them_all_and_how_to_place_the_files(self):
        missing = self.serve(train_images=(404, b"<html>404 Not Found</html>"))
        page = self.serve(train_images=(200, b"<html>Moved</html>"))
        urls = [missing.url + "/m/", page.url + "/m/", DEAD]
        with self.mirrors(*urls), self.assertRaises(OSError) as caught:
            mlp.load_mnist(data_dir=self.cache)
        message = str(caught.exception)
        for url in urls:
            self.assertIn(url + "train-images-idx3-ubyte.gz", message)
        self.assertIn("by hand", message)
        self.assertIn(self.cache, message)  # where to put them
        self.assertNotIn("\n", message)
        self.assertFalse(os.path.exists(self.cache))

    def test_a_body_above_the_cap_is_refused_announced_or_not(self):
        # Announced: 10^12 bytes, trickled; unannounced: no Content-Length and no end. Reading
        # either would run into the deadline, which would then fail the good mirror too.
        announced = self.serve(train_images=(200, trickle(bytes(1000), 0.05), {"Content-Length": 10**12}))
        endless = self.serve(train_images=(200, itertools.repeat(bytes(1 << 16)), {}))
        good = self.serve()
        start = time.monotonic()
        with self.mirrors(announced, endless, good), \
                mock.patch.multiple(mlp, DOWNLOAD_BYTES=100_000, DOWNLOAD_DEADLINE=3.0):
            self.assert_loaded(mlp.load_mnist(data_dir=self.cache))
        self.assertLess(time.monotonic() - start, 1.5)
        self.assertEqual(good.requests, ["/m/train-images-idx3-ubyte.gz"])
        self.assert_kept()

    def test_the_deadline_is_per_file_across_all_mirrors(self):
        gz = self.gz["train-images-idx3-ubyte.gz"]
        # Each trickles 40 bytes, one every 0.05 s (well within the read timeout), then hangs up.
        slow = [self.serve(train_images=(200, trickle(gz[:40], 0.05), {"Content-Length": len(gz)})) for _ in range(2)]
        good = self.serve()
        deadline = 1.0
        start = time.monotonic()
        with self.mirrors(*slow, good), mock.patch.multiple(mlp, DOWNLOAD_DEADLINE=deadline, READ_TIMEOUT=2.0), \
                self.assertRaises(OSError) as caught:
            mlp.load_mnist(data_dir=self.cache)
        elapsed = time.monotonic() - start
        self.assertLess(elapsed, 1.6 * deadline, "each mirror had a deadline of its own")
        for server in slow:
            self.assertIn(f"{server.url}/m/train-images-idx3-ubyte.gz: not done after", str(caught.exception))
        self.assertEqual(good.requests, ["/m/train-images-idx3-ubyte.gz"])  # it moved on
        self.assertFalse(os.path.exists(self.cache))

    def test_an_interrupted_download_leaves_nothing(self):
        gz = self.gz["train-images-idx3-ubyte.gz"]
        servers = []
        existing = os.path.join(self.folder, "existing")
        os.mkdir(existing)
        handler = signal.signal(signal.SIGINT, signal.default_int_handler)
        self.addCleanup(signal.signal, signal.SIGINT, handler)
        for folder in (self.cache, existing):
            servers.append(self.serve(train_images=(200, trickle(gz, 0.02), {"Content-Length": len(gz)})))  # 8 s
            ctrl_c = threading.Timer(0.3, _thread.interrupt_main)  # Ctrl-C, a third of a second in
            with self.subTest(folder=folder), self.mirrors(servers[-1]), self.assertRaises(KeyboardInterrupt):
                ctrl_c.start()
                try:
                    mlp.load_mnist(data_dir=folder)
                finally:
                    ctrl_c.cancel()
        self.assertEqual([server.requests for server in servers], [["/m/train-images-idx3-ubyte.gz"]] * 2)
        self.assertFalse(os.path.exists(self.cache))  # the folder it made is gone
        self.assertEqual(listing(existing), [])        # the one that was there stays, empty
        self.assertEqual(listing(self.folder), ["existing"])

    def test_a_download_is_verified_before_it_is_decompressed(self):
        server = self.serve(train_images=(200, gzip_bomb(30, 5_000_000)))
        never = mock.Mock(side_effect=AssertionError("decompressed before it was verified"))
        with self.mirrors(server), self.assertRaises(OSError), mock.patch.object(zlib, "decompressobj", never), \
                mock.patch.object(zlib, "decompress", never), mock.patch.object(gzip, "decompress", never), \
                mock.patch.object(gzip, "GzipFile", never):
            mlp.load_mnist(data_dir=self.cache)
        never.assert_not_called()
        self.assertFalse(os.path.exists(self.cache))

    def test_a_gzip_bomb_is_never_decompressed_past_the_idx_size(self):
        name = "train-images-idx3-ubyte"
        limit = len(self.payloads[name])  # the IDX file's size, as IDX_BYTES has the published one's
        bomb = gzip_bomb(30, 8_000_000)    # inflates to 8 MB
        others = {filename: data for filename, data in self.gz.items() if not filename.startswith(name)}
        on_disk = os.path.join(self.folder, "on disk")
        self.place(on_disk, {**others, name + ".gz": bomb})
        server = self.serve(train_images=(200, bomb))
        cases = {"on disk": (ValueError, lambda: mlp.load_mnist(data_dir=on_disk, download=False)),
                 "downloaded": (OSError, lambda: mlp.load_mnist(data_dir=self.cache))}
        for case, (error, load) in cases.items():
            with self.subTest(case), self.mirrors(server), mock.patch.dict(mlp.IDX_BYTES, {name: limit}), \
                    mock.patch.dict(mlp.SHA256, {f"mnist/{name}.gz": sha256(bomb)}), warnings.catch_warnings():
                warnings.simplefilter("ignore")
                tracemalloc.start()
                try:
                    with self.assertRaises(error):
                        load()
                    peak = tracemalloc.get_traced_memory()[1]
                finally:
                    tracemalloc.stop()
                self.assertLess(peak, 1_000_000)
        self.assertFalse(os.path.exists(self.cache))

    def test_progress_goes_to_stderr_only_when_it_is_a_terminal(self):
        class Terminal(io.StringIO):
            def isatty(self):
                return True

        server = self.serve()
        for stderr in (Terminal(), io.StringIO()):
            stdout = io.StringIO()
            with self.mirrors(server), contextlib.redirect_stderr(stderr), contextlib.redirect_stdout(stdout):
                self.assert_loaded(mlp.load_mnist(data_dir=os.path.join(self.folder, type(stderr).__name__)))
            self.assertEqual(stdout.getvalue(), "")
            if isinstance(stderr, Terminal):
                for name in self.gz:
                    self.assertRegex(stderr.getvalue(), re.escape(f"{server.url}/m/{name}") + r"\b.*\b100%")
            else:
                self.assertEqual(stderr.getvalue(), "")


class DataFolder(LoaderTestCase):

    def test_a_dataset_that_looks_like_a_folder_points_to_data_dir(self):
        server = self.serve()
        with self.mirrors(server), self.assertRaisesRegex(ValueError, "data_dir"):
            mlp.load_mnist("./data")
        self.assertEqual(server.requests, [])
        self.assertEqual(listing(self.folder), [])

    def test_an_empty_data_dir_is_a_value_error(self):
        server = self.serve()
        for data_dir in ("", b""):
            with self.subTest(data_dir=data_dir), self.mirrors(server), self.assertRaises(ValueError):
                mlp.load_mnist(data_dir=data_dir)
        self.assertEqual(server.requests, [])
        self.assertEqual(listing(self.folder), [])

    def test_data_dir_may_be_bytes_or_a_pathlike(self):
        self.place(self.cache, self.gz)
        for data_dir in (os.fsencode(self.cache), pathlib.Path(self.cache)):
            with self.subTest(data_dir=data_dir):
                self.assert_loaded(mlp.load_mnist(data_dir=data_dir, download=False))
        server = self.serve()
        fresh = os.path.join(self.folder, "fresh")
        with self.mirrors(server):
            self.assert_loaded(mlp.load_mnist(data_dir=os.fsencode(fresh)))
        self.assert_kept(fresh)

    def test_a_data_dir_that_is_a_file_is_named_before_any_download(self):
        path = os.path.join(self.folder, "data")
        write(path, b"")
        server = self.serve()
        for download in (True, False):
            with self.subTest(download=download), self.mirrors(server), \
                    self.assertRaisesRegex(OSError, f"(?i){re.escape(path)}.*(is a file|not a folder|not a directory)"):
                mlp.load_mnist(data_dir=path, download=download)
        with self.mirrors(server), mock.patch.dict(os.environ, {"MLP_DATA": path}), \
                self.assertRaisesRegex(OSError, rf"(?i)\$MLP_DATA.*{re.escape(path)}.*(is a file|not a folder|not a directory)"):
            mlp.load_mnist()
        self.assertEqual(server.requests, [])
        self.assertEqual(read(path), b"")

    def test_mlp_data_is_used_when_data_dir_is_none_and_a_tilde_is_the_home_folder_in_both(self):
        home = os.path.join(self.folder, "home")
        for sub in ("env", "data"):
            self.place(os.path.join(home, sub), self.gz)
        os.makedirs(os.path.join(home, "empty"))
        with mock.patch.dict(os.environ, {"HOME": home, "MLP_DATA": "~/env"}):
            self.assert_loaded(mlp.load_mnist(download=False))
        with mock.patch.dict(os.environ, {"HOME": home, "MLP_DATA": "~/empty"}):  # data_dir, when given, wins
            self.assert_loaded(mlp.load_mnist(data_dir="~/data", download=False))
        with mock.patch.dict(os.environ, {"HOME": home, "MLP_DATA": ""}), \
                self.assertRaisesRegex(FileNotFoundError, re.escape(os.path.join(home, ".cache", "mlp", "mnist"))):
            mlp.load_mnist(download=False)  # an empty $MLP_DATA is no $MLP_DATA: the default folder
        self.assertFalse(os.path.exists(os.path.join(self.folder, "~")))

    def test_no_home_folder_is_an_os_error_and_makes_no_folder_named_tilde(self):
        server = self.serve()
        with self.mirrors(server), mock.patch.object(os.path, "expanduser", lambda path: path), \
                mock.patch.dict(os.environ), self.assertRaises(OSError) as caught:
            os.environ.pop("MLP_DATA", None)
            mlp.load_mnist()
        self.assertRegex(str(caught.exception), "data_dir|MLP_DATA")
        self.assertEqual(server.requests, [])
        self.assertEqual(listing(self.folder), [])

    def test_a_folder_that_cannot_be_made_or_written_fails_before_any_request(self):
        blocker = os.path.join(self.folder, "blocker")
        write(blocker, b"a file")
        taken = os.path.join(self.folder, "taken")
        os.makedirs(os.path.join(taken, "train-images-idx3-ubyte.gz"))  # a folder where a download would go
        server = self.serve()
        for data_dir in (os.path.join(blocker, "data"), taken):
            with self.subTest(data_dir=data_dir), self.mirrors(server), self.assertRaises((OSError, ValueError)):
                mlp.load_mnist(data_dir=data_dir)
        self.assertEqual(server.requests, [])
        self.assertEqual(read(blocker), b"a file")
        self.assertEqual(listing(taken), ["train-images-idx3-ubyte.gz"])

    def test_a_failed_download_removes_the_folder_it_made(self):
        server = self.serve(train_images=(404, b"<html>404 Not Found</html>"))
        existing = os.path.join(self.folder, "existing")
        os.mkdir(existing)
        for data_dir in (self.cache, existing):
            with self.subTest(data_dir=data_dir), self.mirrors(server), self.assertRaises(OSError):
                mlp.load_mnist(data_dir=data_dir)
        self.assertEqual(listing(self.folder), ["existing"])
        self.assertEqual(listing(existing), [])


class CachedFiles(LoaderTestCase):

    def test_a_damaged_file_is_named_with_the_advice_to_delete_it(self):
        damaged = {"train-images-idx3-ubyte.gz": self.gz["train-images-idx3-ubyte.gz"][:-10],  # cut short
                   "train-labels-idx1-ubyte.gz": b"\x1f\x8b\x08 not really gzip",
                   "t10k-images-idx3-ubyte": b"<html><body>404 Not Found</body></html>",
                   "t10k-labels-idx1-ubyte": self.payloads["t10k-labels-idx1-ubyte"][:-1]}  # a label short
        for i, (filename, data) in enumerate(damaged.items()):
            folder = os.path.join(self.folder, str(i))
            self.place(folder, {name: gz for name, gz in self.gz.items() if not name.startswith(filename[:18])})
            self.place(folder, {filename: data})
            path = os.path.join(folder, filename)
            with self.subTest(filename), self.assertRaisesRegex(ValueError, f"(?i){re.escape(path)}.*delete it"):
                mlp.load_mnist(data_dir=folder, download=False)
            self.assertEqual(read(path), data)

    def test_labels_outside_0_to_9_name_the_file(self):
        for name, n in (("train-labels-idx1-ubyte", 30), ("t10k-labels-idx1-ubyte", 10)):
            for label in (10, 255):
                labels = np.where(np.arange(n) == 3, label, self.arrays[name])
                folder = os.path.join(self.folder, f"{name}-{label}")
                self.place(folder, {**self.gz, name + ".gz": gzip_file(idx_bytes(labels, 2049))})
                path = os.path.join(folder, name + ".gz")
                with self.subTest(name=name, label=label), warnings.catch_warnings(), \
                        self.assertRaisesRegex(ValueError, re.escape(path)):
                    warnings.simplefilter("ignore")
                    mlp.load_mnist(data_dir=folder, download=False)

    def test_the_other_datasets_files_are_refused_naming_where_the_folder_came_from(self):
        self.place(self.cache, self.gz)
        # The fake files are the published Fashion-MNIST ones, and not the MNIST ones.
        with mock.patch.dict(mlp.SHA256, {**published(self.payloads, "fashion"),
                                          **published(fake_mnist(30, 10, seed=1)[0], "mnist")}):
            with self.assertRaisesRegex(ValueError, "fashion") as caught:
                mlp.load_mnist("mnist", data_dir=self.cache, download=False)
            self.assertIn(self.cache, str(caught.exception))
            with mock.patch.dict(os.environ, {"MLP_DATA": self.cache}), \
                    self.assertRaisesRegex(ValueError, r"\$MLP_DATA"):
                mlp.load_mnist("mnist", download=False)
            with warnings.catch_warnings():
                warnings.simplefilter("error")
                self.assert_loaded(mlp.load_mnist("fashion", data_dir=self.cache, download=False))

    def test_a_valid_file_that_is_not_the_published_one_warns_and_is_used(self):
        other_payloads, other_arrays = fake_mnist(30, 10, seed=1)
        name = "t10k-images-idx3-ubyte"
        self.place(self.cache, {**self.gz, name + ".gz": gzip_file(other_payloads[name])})
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            data = mlp.load_mnist(data_dir=self.cache, download=False)
        self.assert_loaded(data, {**self.arrays, name: other_arrays[name]})
        self.assertEqual(len(caught), 1, [str(w.message) for w in caught])
        self.assertIn(os.path.join(self.cache, name + ".gz"), str(caught[0].message))
        self.assertTrue(issubclass(caught[0].category, UserWarning))

    def test_missing_files_without_download_are_a_file_not_found_error_naming_them(self):
        present = ("train-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")
        self.place(self.cache, {name: self.gz[name] for name in present})
        server = self.serve()
        with self.mirrors(server), self.assertRaises(FileNotFoundError) as caught:
            mlp.load_mnist(data_dir=self.cache, download=False)
        message = str(caught.exception)
        for name in self.gz:
            (self.assertNotIn if name in present else self.assertIn)(name, message)
        self.assertEqual(server.requests, [])


class RealFiles(unittest.TestCase):
    """The real files beside the project, trusted by their published checksums."""

    def check(self, dataset):
        folder = os.path.join(REAL_DATA, dataset)
        if not os.path.isdir(folder):
            self.skipTest(f"no {folder}")
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # the published files: no warning
            (X, y), (X_test, y_test) = mlp.load_mnist(dataset, data_dir=folder, download=False)
        self.assertEqual((X.shape, y.shape, X_test.shape, y_test.shape), ((60000, 784), (60000,), (10000, 784), (10000,)))
        for images in (X, X_test):
            self.assertEqual(images.dtype, np.float32)
            self.assertEqual((images.min(), images.max()), (0.0, 1.0))
        for labels in (y, y_test):
            self.assertEqual(labels.dtype, np.int64)
            np.testing.assert_array_equal(np.unique(labels), np.arange(10))
        names = mlp.CLASS_NAMES[dataset]
        self.assertEqual(len(names), 10)
        self.assertEqual(len(set(names)), 10)
        self.assertTrue(all(isinstance(name, str) and name for name in names))

    def test_the_real_mnist_files_load(self):
        self.check("mnist")

    def test_the_real_fashion_files_load(self):
        self.check("fashion")


# ============================================================================ the command line

class CommandLine(unittest.TestCase):

    def setUp(self):
        self.folder = temporary_folder(self)
        self.data = os.path.join(self.folder, "data")
        payloads, self.arrays = fake_mnist(60, 20)
        os.makedirs(self.data)
        for name, data in payloads.items():
            write(os.path.join(self.data, name + ".gz"), gzip_file(data))
        patch = mock.patch.dict(mlp.SHA256, published(payloads))  # trusted in-process: no warning lines
        patch.start()
        self.addCleanup(patch.stop)

    def run_main(self, *argv, data_dir=None):
        """mlp.main on the fake data: (status, stdout, stderr)."""
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            status = mlp.main(["--data-dir", data_dir or self.data, "--no-download", *argv])
        return status, out.getvalue(), err.getvalue()

    def script(self, *argv):
        """python mlp.py on the fake data, as a process: stdout and stderr are pipes."""
        # SIGINT's default action restored in the child: a run started in the background from a
        # script inherits SIGINT ignored, and Python then leaves it ignored.
        return subprocess.Popen([sys.executable, mlp.__file__, "--data-dir", self.data, "--no-download", *argv],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))  # noqa: PLW1509 (no threads here)

    def assert_one_error_line(self, err, *words):
        self.assertRegex(err, r"^[^\n]+\n$")
        for word in words:
            self.assertIn(word, err)

    def test_check_prints_a_table_and_exits_0(self):
        process = subprocess.run([sys.executable, mlp.__file__, "--check"], capture_output=True, text=True,
                                 timeout=60, check=False)
        self.assertEqual((process.returncode, process.stderr), (0, ""))
        rows = [line.split() for line in process.stdout.splitlines()]
        rows = [row for row in rows if len(row) == 4 and row[0] in mlp.ACTIVATIONS and row[1] in mlp.LOSSES]
        self.assertEqual({row[0] for row in rows}, set(mlp.ACTIVATIONS))  # every output...
        self.assertEqual({row[1] for row in rows}, set(mlp.LOSSES))       # ...and every loss
        self.assertTrue(all(float(error) <= 1e-6 for row in rows for error in row[2:]), process.stdout)

    def test_check_reports_a_wrong_derivative_and_returns_1(self):
        tanh = mlp.ACTIVATIONS["tanh"][0]
        wrong = (tanh, lambda z: 1 - tanh(z))  # tanh' is 1 - tanh^2
        with mock.patch.dict(mlp.ACTIVATIONS, {"tanh": wrong}):
            out = io.StringIO()
            with contextlib.redirect_stdout(out):
                status = mlp.main(["--check"])
        self.assertEqual(status, 1)
        self.assertIn("FAILED", out.getvalue())

    def test_a_tiny_run_reports_and_writes_what_it_was_asked_to(self):
        model, png = os.path.join(self.folder, "model.npz"), os.path.join(self.folder, "weights.png")
        argv = ("--epochs", "2", "--hidden", "6", "--batch-size", "16", "--save", model, "--weights-png", png)
        status, out, err = self.run_main(*argv)
        self.assertEqual((status, err), (0, ""))
        lines = out.splitlines()
        self.assertEqual(len([line for line in lines if re.match(r"epoch\s+\d/2\b", line)]), 2)
        self.assertIn("confusion matrix", out)
        matrix = [line.split() for line in lines if re.fullmatch(r"\s*\d(\s+\d+){10}", line)]
        self.assertEqual([int(row[0]) for row in matrix], list(range(10)))
        counts = np.array([[int(c) for c in row[1:]] for row in matrix])
        labels = self.arrays["t10k-labels-idx1-ubyte"]
        np.testing.assert_array_equal(counts.sum(axis=1), np.bincount(labels, minlength=10))  # a row per true class
        self.assertRegex(lines[-1], r"^test accuracy: \d{1,3}\.\d\d%$")
        self.assertEqual(lines[-1], f"test accuracy: {100 * np.trace(counts) / len(labels):.2f}%")
        self.assertNotIn("replaced", out)
        # the saved network is the one that was scored, and the picture shows its first layer
        net = mlp.Network.load(model)
        self.assertEqual(net.sizes, [784, 6, 10])
        X_test = self.arrays["t10k-images-idx3-ubyte"].reshape(-1, 784) / np.float32(255)
        np.testing.assert_array_equal(np.bincount(labels * 10 + net.predict(X_test), minlength=100).reshape(10, 10),
                                      counts)
        width, height, pixels = decode_png(read(png))
        columns = math.ceil(math.sqrt(6))  # 6 tiles of 28 x 28, framed by 1 pixel: 3 across, 2 down
        self.assertEqual((width, height), (columns * 29 + 1, math.ceil(6 / columns) * 29 + 1))
        np.testing.assert_array_equal(pixels, mlp._weights_picture(net.weights[0]))
        # run again: both files were there
        status, out, err = self.run_main(*argv)
        self.assertEqual((status, err), (0, ""))
        self.assertNotIn("replaced", out)  # each flag replaces only a file of its own kind: said by nothing
        self.assertEqual(listing(self.folder), ["data", "model.npz", "weights.png"])

    def test_output_paths_are_checked_before_training(self):
        script, model = os.path.join(self.folder, "script.py"), os.path.join(self.folder, "model.npz")
        readonly, folder = os.path.join(self.folder, "readonly.npz"), os.path.join(self.folder, "folder")
        write(script, b"print('hello')\n")
        mlp.Network([784, 3, 10], seed=0).save(model)
        mlp.Network([784, 3, 10], seed=1).save(readonly)
        os.chmod(readonly, 0o444)
        os.mkdir(folder)
        fresh = os.path.join(self.folder, "fresh.npz")
        missing = os.path.join(self.folder, "missing", "x")
        cases = [(["--save", missing], "--save", missing), (["--weights-png", missing], "--weights-png", missing),
                 (["--save", folder], "--save", folder), (["--weights-png", folder], "--weights-png", folder),
                 (["--save", ""], "--save", ""), (["--weights-png", ""], "--weights-png", ""),
                 (["--save", fresh, "--weights-png", os.path.join(self.folder, ".", "fresh.npz")], "--weights-png", fresh),
                 (["--save", script], "--save", script), (["--weights-png", model], "--weights-png", model),
                 (["--save", readonly], "--save", readonly)]
        before = {name: read(os.path.join(self.folder, name)) for name in ("script.py", "model.npz", "readonly.npz")}
        files = listing(self.folder)
        with mock.patch.object(mlp.Network, "fit", side_effect=AssertionError("trained before the outputs were checked")):
            for argv, flag, path in cases:
                with self.subTest(argv=argv):
                    status, out, err = self.run_main("--epochs", "1", "--hidden", "4", *argv)
                    self.assertEqual((status, out), (1, ""))
                    self.assert_one_error_line(err, flag, path)
        self.assertEqual({name: read(os.path.join(self.folder, name)) for name in before}, before)
        self.assertEqual(listing(self.folder), files)  # the writability probe leaves no temporary
        self.assertEqual(listing(folder), [])

    def test_a_bad_flag_is_one_line_naming_the_flag_not_the_api_argument(self):
        empty = os.path.join(self.folder, "empty")  # checked before the data is looked for
        os.mkdir(empty)
        flags = [("--hidden", "0"), ("--epochs", "0"), ("--batch-size", "0"), ("--lr", "-1"), ("--dropout", "1"),
                 ("--l2", "-1"), ("--shift", "30"), ("--seed", "-1")]
        api = ("sizes", "width", "epochs", "batch_size", "lr", "dropout", "l2", "max_shift", "shift", "seed")
        with mock.patch.object(mlp.Network, "fit", side_effect=AssertionError("trained")):
            for flag, value in flags:
                with self.subTest(flag=flag):
                    status, out, err = self.run_main(flag, value, data_dir=empty)
                    self.assertEqual((status, out), (1, ""))
                    self.assert_one_error_line(err, flag)
                    named = [name for name in api if re.search(rf"(?<![-\w]){name}(?!\w)", err)]
                    self.assertEqual(named, [], err)
        with self.script("--dropout", "1") as process:  # and as a process, no traceback
            out, err = finish(process)
        self.assertEqual((process.returncode, out), (1, b""))
        self.assert_one_error_line(err.decode(), "--dropout")

    def test_a_diverging_run_is_a_one_line_error(self):
        model = os.path.join(self.folder, "model.npz")
        status, out, err = self.run_main("--epochs", "2", "--hidden", "8", "--batch-size", "16", "--lr", "1e30",
                                         "--save", model)
        self.assertEqual(status, 1)
        self.assert_one_error_line(err)
        self.assertNotIn("test accuracy", out)
        self.assertFalse(os.path.exists(model))
        with mock.patch.object(mlp.Network, "fit", side_effect=FloatingPointError("the loss overflowed")):
            status, out, err = self.run_main("--epochs", "1", "--hidden", "8")
        self.assertEqual(status, 1)
        self.assert_one_error_line(err, "the loss overflowed")

    def test_ctrl_c_reports_the_network_so_far_writes_nothing_and_exits_130(self):
        model, png = os.path.join(self.folder, "model.npz"), os.path.join(self.folder, "weights.png")
        with self.script("--epochs", "100000", "--hidden", "8", "--batch-size", "16", "--save", model,
                         "--weights-png", png) as process:
            first = []
            for line in process.stdout:  # until an epoch is done
                first.append(line.decode())
                if line.startswith(b"epoch "):
                    break
            process.send_signal(signal.SIGINT)
            out, err = finish(process)
        lines = first + out.decode().splitlines(keepends=True)
        err = "".join(line for line in err.decode().splitlines(keepends=True) if not line.startswith("warning: "))
        self.assertEqual(process.returncode, 130, err)
        self.assertIn("confusion matrix", "".join(lines))
        self.assertRegex(lines[-1], r"^test accuracy: \d{1,3}\.\d\d%$")
        self.assertRegex(err, r"(?i)interrupted.*no file was written")
        self.assertNotIn("Traceback", err)
        self.assertEqual(listing(self.folder), ["data"])

    def test_a_reader_that_stops_early_ends_the_run_quietly(self):
        with self.script("--epochs", "100000", "--hidden", "8", "--batch-size", "16") as process:
            first = process.stdout.readline()
            process.stdout.close()
            _, err = finish(process)
        self.assertTrue(first.startswith(b"mnist: "), first)
        err = err.decode()
        self.assertNotIn("Traceback", err)
        self.assertNotRegex(err, r"(?i)\berror\b")

    def test_a_file_name_the_terminal_cannot_show_is_saved_and_reported(self):
        # A name that is not valid UTF-8 (arriving as surrogate escapes) must not end the run
        # after saving with an encoding error, before the PNG and the accuracy.
        model = os.path.join(self.folder, os.fsdecode(b"model-\xff.npz"))
        png = os.path.join(self.folder, os.fsdecode(b"weights-\xff.png"))
        with mock.patch.dict(os.environ, {"PYTHONIOENCODING": "utf-8:strict"}), \
                self.script("--epochs", "1", "--hidden", "4", "--save", model, "--weights-png", png) as process:
            out, err = finish(process, timeout=60)
        self.assertEqual(process.returncode, 0, err)
        self.assertNotIn(b"Traceback", err)
        self.assertNotIn(b"mlp.py: error", err)  # (the fake data's warnings aside)
        self.assertRegex(out.decode(errors="replace").splitlines()[-1], r"^test accuracy: \d+\.\d\d%$")
        self.assertIsInstance(mlp.Network.load(model), mlp.Network)
        self.assertTrue(read(png).startswith(mlp.PNG_SIGNATURE))


if __name__ == "__main__":
    unittest.main()
