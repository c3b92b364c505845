"""A multilayer perceptron in one file of numpy: feedforward, backpropagation, training.

Copy this file into a project, run ``python mlp.py`` to watch a network learn MNIST, or read
it top to bottom: first the equations below, then the code that computes them, in the order
the data flows (activations, losses, the optimizers that make the update, and the Network's
forward pass, backward pass and training step), and only then the machinery around them:
epochs, validation, prediction, saving, input checks, the MNIST loader, the command line.

Notation. A batch X holds n samples, one per row. The network has L layers; layer l = 1..L has
weights W^l of shape (sizes[l-1], sizes[l]) and biases b^l of shape (sizes[l],), so a whole
batch goes through a layer in one matrix product. Y is the target matrix, one row per sample
(integer labels become one-hot rows). "*" is the elementwise product, "@" the matrix product,
^T a transpose, and rowsum(M) the column of the sums of the rows of M. The code counts layers
from 0, one below the equations: weights[l] is W^(l+1), zs[l] is z^(l+1), and activations[l]
is a^l (activations[0] is X).

Forward pass, for l = 1..L:
    (1)  z^l = a^(l-1) @ W^l + b^l                      pre-activation, a^0 = X
    (2)  a^l = f_l(z^l)                                  activation, f_L the output's
   (2d)  a^l = a^l * r^l / (1 - p)                       dropout, on hidden layers in training
                                                         only: each entry of the mask r^l is 1
                                                         with probability 1 - p, else 0

The objective that training minimises, for a loss per row, loss(a, y):
    (3)  C = 1/n sum_i loss(a^L_i, Y_i) + l2/2 sum_l ||W^l||^2

Backward pass: delta^l = dC/dz^l, shaped like z^l, and loss' = dloss/da, shaped like a^L.
    (4)  delta^L = loss'(a^L, Y) * f_L'(z^L) / n         an output f_L that acts elementwise
   (4s)  delta^L = a^L * (g - rowsum(g * a^L)) / n,      softmax, whose derivative is a matrix
                   where g = loss'(a^L, Y)               per row: diag(a) - a a^T
   (4n)  delta^L = (a^L - Y) / n                         the natural pairs, where the factors
                                                         cancel: sigmoid with binary cross-entropy,
                                                         softmax with cross-entropy (every row of
                                                         Y summing to 1, as one-hot rows do)
    (5)  delta^l = (delta^(l+1) @ W^(l+1)^T) * f_l'(z^l)  for l = L-1..1, times r^l / (1 - p)
                                                         where dropout was applied
    (6)  dC/dW^l = a^(l-1)^T @ delta^l + l2 W^l
    (7)  dC/db^l = sum of the rows of delta^l

Update, once per batch, of every parameter theta with gradient g, at learning rate eta:
    (8)  SGD with momentum mu and velocity u:  u = mu u - eta g;  theta = theta + u
         Nesterov's, in Sutskever's form (theta is kept at the look-ahead point):
                                                 u = mu u - eta g;  theta = theta + mu u - eta g
    (9)  Adam, at step t = 1, 2, ...:  m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2;
         m_hat = m / (1 - b1^t);  v_hat = v / (1 - b2^t);
         theta = theta - eta m_hat / (sqrt(v_hat) + eps)

Quick start:

    import mlp
    (X, y), (X_test, y_test) = mlp.load_mnist()
    net = mlp.Network([784, 128, 128, 10], hidden="relu", output="softmax", seed=0)
    history = net.fit(X, y, epochs=10, validation_split=0.1)
    print(net.evaluate(X_test, y_test))     # {'loss': ..., 'accuracy': ...}
"""

from __future__ import annotations

import argparse
import functools
import gzip
import hashlib
import http.client
import io
import math
import os
import signal
import stat
import struct
import sys
import threading
import time
import urllib.request
import warnings
import zipfile
import zlib
from typing import Callable, NamedTuple, Sequence

import numpy as np
import numpy.typing as npt

__all__ = [
    "ACTIVATIONS", "LOSSES", "SCHEDULES", "Network", "Optimizer", "SGD", "Adam",
    "random_shift", "random_flip", "load_mnist", "CLASS_NAMES", "main",
]


def _underflow_is_zero(function: Callable) -> Callable:
    """Run function with numpy's underflow ignored. A result too small for the dtype, such as
    e^-1000, rounds to 0, which is right here; under np.errstate(all="raise") numpy would stop
    the computation for it instead. Overflow, division by zero and NaN still count."""
    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        with np.errstate(under="ignore"):
            return function(*args, **kwargs)
    return wrapper


# ============================================================================ activations
# Each activation is a function f and its derivative f', both taken at the pre-activation z,
# elementwise. None of them changes its argument, and each keeps its dtype.

def identity(z: np.ndarray) -> np.ndarray:
    """f(z) = z, as a copy, so that changing an activation never changes a z."""
    return z.copy()


def identity_prime(z: np.ndarray) -> np.ndarray:
    """f'(z) = 1."""
    return np.ones_like(z)


def sigmoid(z: np.ndarray) -> np.ndarray:
    """f(z) = 1 / (1 + e^-z), written (1 + tanh(z/2)) / 2: the same values, but no exp to overflow."""
    return 0.5 * (1.0 + np.tanh(0.5 * z))


def sigmoid_prime(z: np.ndarray) -> np.ndarray:
    """f'(z) = f(z) (1 - f(z)), at the pre-activation z (not at the activation f(z))."""
    s = sigmoid(z)
    return s * (1.0 - s)


def tanh(z: np.ndarray) -> np.ndarray:
    """f(z) = (e^z - e^-z) / (e^z + e^-z), numpy's own, which saturates without overflow."""
    return np.tanh(z)


def tanh_prime(z: np.ndarray) -> np.ndarray:
    """f'(z) = 1 - tanh(z)^2."""
    return 1.0 - np.tanh(z) ** 2


def relu(z: np.ndarray) -> np.ndarray:
    """f(z) = max(z, 0), in a new array."""
    return np.maximum(z, 0)


def relu_prime(z: np.ndarray) -> np.ndarray:
    """f'(z) = 1 where z > 0, else 0 (taking 0 at the kink)."""
    return (z > 0).astype(z.dtype)


def leaky_relu(z: np.ndarray) -> np.ndarray:
    """f(z) = z for z > 0, else 0.01 z; max() picks the right one because the slope is below 1."""
    return np.maximum(z, 0.01 * z)


def leaky_relu_prime(z: np.ndarray) -> np.ndarray:
    """f'(z) = 1 where z > 0, else 0.01."""
    return np.where(z > 0, 1.0, 0.01).astype(z.dtype)


@_underflow_is_zero
def elu(z: np.ndarray) -> np.ndarray:
    """f(z) = z for z > 0, else e^z - 1; exp only ever sees min(z, 0), so it cannot overflow."""
    return np.maximum(z, 0) + np.expm1(np.minimum(z, 0))


@_underflow_is_zero
def elu_prime(z: np.ndarray) -> np.ndarray:
    """f'(z) = 1 for z > 0, else e^z: both are e^min(z, 0)."""
    return np.exp(np.minimum(z, 0))


@_underflow_is_zero
def softmax(z: np.ndarray) -> np.ndarray:
    """f(z)_k = e^z_k / sum_j e^z_j along each row; the row max is subtracted first so that exp
    never overflows (the result is the same, since the factor e^-max cancels)."""
    e = z - z.max(axis=1, keepdims=True)
    np.exp(e, out=e)
    e /= e.sum(axis=1, keepdims=True)
    return e


class Activation(NamedTuple):
    """An activation function f and its derivative f' (None for softmax, whose derivative is a
    matrix per row: eq. (4s))."""
    f: Callable[[np.ndarray], np.ndarray]
    prime: Callable[[np.ndarray], np.ndarray] | None


ACTIVATIONS = {
    "identity": Activation(identity, identity_prime),
    "sigmoid": Activation(sigmoid, sigmoid_prime),
    "tanh": Activation(tanh, tanh_prime),
    "relu": Activation(relu, relu_prime),
    "leaky_relu": Activation(leaky_relu, leaky_relu_prime),
    "elu": Activation(elu, elu_prime),
    "softmax": Activation(softmax, None),  # output layer only
}
RELU_FAMILY = ("relu", "leaky_relu", "elu")  # initialised by He, the rest by Glorot


# ============================================================================ losses
# Each loss gives loss(a, y) per row, and its derivative loss'(a, y) = dloss/da, shaped like a.
# The log losses clip a probability to [eps, 1 - eps] (eps = 1.2e-7 in float32): where an
# output saturates at 0 or 1, the loss then stays finite and loss' stays below 1/eps, instead
# of growing past what float32 holds (and Adam's g^2 with it).

def _clip(a: np.ndarray) -> np.ndarray:
    eps = np.finfo(a.dtype).eps
    return np.clip(a, eps, 1 - eps)


def cross_entropy(a: np.ndarray, y: np.ndarray) -> np.ndarray:
    """loss = -sum_k y_k log a_k, for outputs that are probabilities."""
    return -np.sum(y * np.log(_clip(a)), axis=1)


def cross_entropy_prime(a: np.ndarray, y: np.ndarray) -> np.ndarray:
    """loss' = -y / a."""
    return -y / _clip(a)


def binary_cross_entropy(a: np.ndarray, y: np.ndarray) -> np.ndarray:
    """loss = -sum_k (y_k log a_k + (1 - y_k) log(1 - a_k)), for independent yes/no outputs."""
    a = _clip(a)
    return -np.sum(y * np.log(a) + (1 - y) * np.log(1 - a), axis=1)


def binary_cross_entropy_prime(a: np.ndarray, y: np.ndarray) -> np.ndarray:
    """loss' = -y/a + (1 - y)/(1 - a) = (a - y) / (a (1 - a))."""
    a = _clip(a)
    return (a - y) / (a * (1 - a))


def mse(a: np.ndarray, y: np.ndarray) -> np.ndarray:
    """loss = 1/2 sum_k (a_k - y_k)^2; the 1/2 makes loss' = a - y."""
    return 0.5 * np.sum((a - y) ** 2, axis=1)


def mse_prime(a: np.ndarray, y: np.ndarray) -> np.ndarray:
    """loss' = a - y."""
    return a - y


class Loss(NamedTuple):
    """A loss per row, loss(a, y), and its derivative loss'(a, y) with respect to the output a."""
    value: Callable[[np.ndarray, np.ndarray], np.ndarray]
    prime: Callable[[np.ndarray, np.ndarray], np.ndarray]


LOSSES = {
    "cross_entropy": Loss(cross_entropy, cross_entropy_prime),
    "binary_cross_entropy": Loss(binary_cross_entropy, binary_cross_entropy_prime),
    "mse": Loss(mse, mse_prime),
}
# The natural loss of each output, chosen when loss=None; these pairs use the fused delta (4n).
NATURAL_LOSS = {"softmax": "cross_entropy", "sigmoid": "binary_cross_entropy"}
PROBABILITY_OUTPUTS = ("softmax", "sigmoid")  # the outputs the log losses can take


# ==================================================================== the update: optimizers
# An optimizer takes a gradient step on the parameters, eqs. (8)-(9). The Network keeps all its
# parameters in one flat array and its gradient in another, so a step is a few numpy calls
# over one long array, each parameter updated on its own, exactly as the equations say.

class Optimizer:
    """What fit needs of an optimizer: a learning rate ``lr`` and ``step(params, grads, lr)``.

    params and grads are a network's flat arrays, every weight and bias one after another. The
    optimizer's state (velocities, moments) is shaped like them and belongs to the one network
    it steps, so an instance reused across calls of fit continues where it stopped. A subclass
    names its state arrays in ``state_names`` and writes the update in ``_update``.
    """
    state_names: tuple[str, ...] = ()
    chunk = 1 << 16  # parameters updated at a time, see step

    def __init__(self, lr: float) -> None:
        self.lr = _positive(lr, "lr")
        self.t = 0  # steps taken
        self._params = None
        self._state: list[np.ndarray] = []

    def step(self, params: np.ndarray, grads: np.ndarray, lr: float | None = None) -> None:
        """Update params in place from grads, eq. (8) or (9). Each parameter's update depends on
        that parameter alone, so it runs on a slice of ``chunk`` of them at a time, which stays
        in the CPU's cache through the update's passes over it (measured in the demo's training
        loop, 670k parameters: an Adam step of 3.2 ms in one piece, 2.7 ms in slices)."""
        if self._params is None:  # the first step: state arrays of zeros, and scratch space
            self._params, self._work = params, np.empty(min(self.chunk, len(params)), params.dtype)
            self._state = [np.zeros_like(params) for _ in self.state_names]
        elif self._params is not params:
            raise ValueError(f"this {type(self).__name__} holds the state of another network's "
                             f"parameters; make one optimizer per network")
        self.t += 1
        lr = self.lr if lr is None else lr
        for start in range(0, len(params), self.chunk):
            piece = slice(start, start + self.chunk)
            theta = params[piece]
            self._update(theta, grads[piece], *(s[piece] for s in self._state),
                         self._work[:len(theta)], lr)
        if self.t % 100 == 0:
            self._flush_subnormals()

    def _update(self, theta: np.ndarray, g: np.ndarray, *state_work_eta) -> None:
        """Update theta, a slice of the parameters, in place from g, its gradient, given the same
        slice of each state array (named in state_names), scratch space work, and the rate eta."""
        raise NotImplementedError

    def _flush_subnormals(self) -> None:
        """Set to 0 the entries of the state that are subnormal: nonzero, but below the smallest
        normal float (1.2e-38 in float32). The moment of a weight whose gradient stays 0, such as
        one fed by a pixel that is almost always blank, decays into them and sticks there, since
        0.9 times the smallest of them rounds back to it; and x86 CPUs are slow at arithmetic on
        them (here, 4% of Adam's m subnormal made a step 10% slower). What the zeroed entries
        would still have moved a weight, summed over all later steps, is below 1.2e-38 lr / eps
        with Adam and 1.2e-38 / (1 - momentum) with SGD."""
        for array in self._state:
            array[np.abs(array) < np.finfo(array.dtype).tiny] = 0

    def _checkpoint(self) -> None:
        """Remember the state as it is now, for _rollback."""
        self._saved = (self.t, self._params, [s.copy() for s in self._state])

    def _rollback(self) -> None:
        """Return to the state of the last _checkpoint (fit's, after a diverging epoch)."""
        self.t, self._params, state = self._saved
        self._state = [s.copy() for s in state]


class SGD(Optimizer):
    """Stochastic gradient descent with momentum, optionally Nesterov's, eq. (8)."""
    state_names = ("u",)

    def __init__(self, lr: float = 0.1, momentum: float = 0.9, nesterov: bool = False) -> None:
        super().__init__(lr)
        self.momentum = _fraction(momentum, "momentum")
        self.nesterov = _flag(nesterov, "nesterov")

    def _update(self, theta: np.ndarray, g: np.ndarray, u: np.ndarray, work: np.ndarray,
                eta: float) -> None:
        """Eq. (8) on a slice, in place: work is scratch space, so that a step allocates nothing."""
        mu = self.momentum
        eta_g = np.multiply(eta, g, out=work)
        u *= mu
        u -= eta_g                                   # eq. (8): u = mu u - eta g
        if self.nesterov:
            theta -= eta_g
            theta += np.multiply(mu, u, out=work)    # eq. (8): theta = theta + mu u - eta g
        else:
            theta += u                               # eq. (8): theta = theta + u


class Adam(Optimizer):
    """Adam (Kingma and Ba, 2015): momentum on the gradient, each parameter's step scaled by a
    running root-mean-square of its gradients, eq. (9). Note that fit's ``l2`` adds l2 W to the
    gradient, an L2 penalty on the objective, which Adam then rescales like the rest of the
    gradient; it is not AdamW's decoupled weight decay."""
    state_names = ("m", "v")

    def __init__(self, lr: float = 1e-3, beta1: float = 0.9, beta2: float = 0.999,
                 eps: float = 1e-8) -> None:
        super().__init__(lr)
        self.beta1 = _fraction(beta1, "beta1")
        self.beta2 = _fraction(beta2, "beta2")
        self.eps = _positive(eps, "eps")

    def _update(self, theta: np.ndarray, g: np.ndarray, m: np.ndarray, v: np.ndarray,
                work: np.ndarray, eta: float) -> None:
        """Eq. (9) on a slice, in place: m and v are the paper's moments, and work is scratch
        space, so that a step allocates nothing (a new array the size of the parameters, every
        step, costs more than the arithmetic)."""
        b1, b2, t = self.beta1, self.beta2, self.t
        m *= b1
        m += np.multiply(1 - b1, g, out=work)                       # eq. (9): m = b1 m + (1-b1) g
        v *= b2
        v += np.multiply(1 - b2, np.square(g, out=work), out=work)  # eq. (9): v = b2 v + (1-b2) g^2
        # work holds, in turn, v_hat, the denominator and the step
        v_hat = np.divide(v, 1 - b2 ** t, out=work)                 # eq. (9): v_hat = v / (1-b2^t)
        denominator = np.sqrt(v_hat, out=work)
        denominator += self.eps                                     # sqrt(v_hat) + eps
        step = np.divide(m, denominator, out=work)
        step *= eta / (1 - b1 ** t)                                 # eta m_hat / (sqrt(v_hat)+eps)
        theta -= step                                               # eq. (9): theta = theta - step


# ============================================================================ the network

class Network:
    """A fully connected feedforward network, trained by backpropagation.

    Network([784, 128, 10]) takes rows of 784 inputs through one hidden layer of 128 units to
    10 outputs. ``hidden`` names the activation of every hidden layer (one name, or a list with
    one per hidden layer), ``output`` that of the output layer, and ``loss`` the loss
    (None: the natural one for the output, else mse). ``seed`` fixes the initial weights,
    the shuffling and the dropout masks; ``dtype`` is "float32" or "float64".

    Attributes: ``sizes``, ``hidden`` (one name per hidden layer), ``output``, ``loss_name``,
    ``dtype``, and the parameters ``weights`` and ``biases``: weights[l] has shape
    (sizes[l], sizes[l+1]) and biases[l] shape (sizes[l+1],). They are views into one flat
    array that the optimizers update; ``net.weights[0] = W`` copies W into it.

    Targets y: for softmax, integer labels (n,) or one-hot rows (n, k); for sigmoid, 0/1 values
    (n,) for one unit or (n, k) for k independent units; for the other outputs, real values
    (n,) for one unit or (n, k).
    """

    def __init__(self, sizes: Sequence[int], hidden: str | Sequence[str] = "relu",
                 output: str = "softmax", loss: str | None = None, seed: int | None = None,
                 dtype: str | np.dtype = "float32") -> None:
        self.sizes = _check_sizes(sizes)
        self.hidden = _check_hidden(hidden, len(self.sizes) - 2)
        self.output = _check_output(output, self.sizes[-1])
        self.loss_name = _check_loss(loss, self.output)
        self.dtype = _check_dtype(dtype)
        self._act = [ACTIVATIONS[name] for name in self.hidden + [self.output]]  # f_1 .. f_L
        self._loss = LOSSES[self.loss_name]
        self._fused = NATURAL_LOSS.get(self.output) == self.loss_name
        self._rng = np.random.default_rng(_check_seed(seed))  # its own: no global random state

        n_params = sum(n_in * n_out + n_out for n_in, n_out in zip(self.sizes, self.sizes[1:]))
        self._params = np.zeros(n_params, self.dtype)  # every weight and bias; biases start at 0
        self._grads = np.zeros(n_params, self.dtype)   # dC/d of each, in the same places
        self._make_views()
        for l, W in enumerate(self.weights):
            # He's std, sqrt(2 / n_in), makes up for a ReLU zeroing about half of a layer's
            # inputs, so that z keeps its variance from layer to layer; Glorot's suits the
            # activations that are symmetric about 0. What matters is the activation feeding
            # the layer, f_l; for the first layer, fed by the data, the first hidden one.
            feeding = (self.hidden or [self.output])[max(l - 1, 0)]
            n_in, n_out = W.shape
            std = math.sqrt(2 / n_in) if feeding in RELU_FAMILY else math.sqrt(2 / (n_in + n_out))
            W[...] = self._rng.standard_normal(W.shape) * std

    def _make_views(self) -> None:
        """weights, biases, grad_weights, grad_biases: views into the flat arrays, by layer."""
        self._weights, self._biases = map(_Parameters, self._unflatten(self._params))
        self._grad_weights, self._grad_biases = self._unflatten(self._grads)

    def _unflatten(self, flat: np.ndarray) -> tuple[list[np.ndarray], list[np.ndarray]]:
        """Views into a flat array, shaped like the weights and the biases."""
        weights, biases, start = [], [], 0
        for n_in, n_out in zip(self.sizes, self.sizes[1:]):
            weights.append(flat[start:start + n_in * n_out].reshape(n_in, n_out))
            start += n_in * n_out
            biases.append(flat[start:start + n_out])
            start += n_out
        return weights, biases

    @property
    def weights(self) -> list[np.ndarray]:
        """weights[l], shape (sizes[l], sizes[l+1]): W^(l+1) of the equations."""
        return self._weights

    @property
    def biases(self) -> list[np.ndarray]:
        """biases[l], shape (sizes[l+1],): b^(l+1) of the equations."""
        return self._biases

    # ------------------------------------------------------------------ forward

    @_underflow_is_zero
    def feedforward(self, X: npt.ArrayLike) -> tuple[list[np.ndarray], list[np.ndarray]]:
        """Run X through the network, eqs. (1)-(2), as predict does.

        Returns (zs, activations): zs[l] is z^(l+1), activations[l] is a^l, so activations[0]
        is X and activations[-1] the network's output, one row per sample.
        """
        zs, activations, _ = self._forward(self._inputs(X))
        return zs, activations

    def _forward(self, x: np.ndarray, train: bool = False, dropout: float = 0.0):
        """The forward pass, eqs. (1)-(2d), which feedforward, backprop and fit all run.

        With train=True it drops hidden units (rate ``dropout``, eq. (2d)) and also returns
        ``slopes``: for each hidden layer, eq. (5)'s factor f_l'(z^l), times r^l / (1 - p)
        with dropout, taken here while z^l is in cache and used by _backward.
        """
        zs, activations, slopes = [], [x], []
        for l, (W, b) in enumerate(zip(self.weights, self.biases)):  # layer l+1 of the equations
            z = activations[l] @ W                   # (n, sizes[l+1]), eq. (1): a^l @ W^(l+1)
            z += b                                   # eq. (1): + b^(l+1), in place
            a = self._act[l].f(z)                    # eq. (2)
            if train and l < len(self.weights) - 1:  # a hidden layer
                slope = self._act[l].prime(z)        # f'(z^(l+1)), for eq. (5)
                if dropout:
                    keep = self._rng.random(a.shape, dtype=a.dtype) >= dropout  # r^(l+1)
                    mask = keep.astype(a.dtype) / (1 - dropout)  # scaled now, not at test time
                    a *= mask                        # eq. (2d)
                    slope *= mask                    # eq. (5): no gradient through a dropped unit
                slopes.append(slope)
            zs.append(z)
            activations.append(a)
        return zs, activations, slopes

    # ------------------------------------------------------------------ objective and backward

    @_underflow_is_zero
    def loss(self, X: npt.ArrayLike, y: npt.ArrayLike, l2: float = 0.0) -> float:
        """The objective (3) that fit minimises: the mean loss over the rows of X, plus
        l2/2 times the sum of the squared weights (not the biases)."""
        x, Y = self._data(X, y)
        l2 = _non_negative(l2, "l2")
        mean_loss = float(np.mean(self._loss.value(self._output(x), Y)))
        return mean_loss + 0.5 * l2 * sum(float(np.sum(W * W)) for W in self.weights)  # eq. (3)

    @_underflow_is_zero
    def backprop(self, X: npt.ArrayLike, y: npt.ArrayLike, l2: float = 0.0):
        """The gradient of loss(X, y, l2) with respect to every weight and bias, eqs. (4)-(7).

        Returns (grad_weights, grad_biases), lists shaped like weights and biases. It runs the
        same _forward and _backward as a training step of fit (without dropout), into new
        arrays: it changes nothing, and calling it twice gives the same gradient.
        """
        x, Y = self._data(X, y)
        l2 = _non_negative(l2, "l2")
        grad_weights, grad_biases = self._unflatten(np.empty_like(self._params))
        self._backward(*self._forward(x, train=True), Y, l2, grad_weights, grad_biases)
        return grad_weights, grad_biases

    def _backward(self, zs, activations, slopes, Y, l2, grad_weights, grad_biases) -> None:
        """The backward pass: write dC/dW and dC/db of one forward pass into grad_weights and
        grad_biases, from the output layer down, eqs. (4)-(7)."""
        delta = self._output_delta(zs[-1], activations[-1], Y)        # (n, sizes[-1]): delta^L
        for l in reversed(range(len(self.weights))):  # layer l+1; delta is delta^(l+1)
            np.matmul(activations[l].T, delta, out=grad_weights[l])   # eq. (6): a^l^T @ delta^(l+1)
            if l2:
                grad_weights[l] += l2 * self.weights[l]               # eq. (6): + l2 W^(l+1)
            delta.sum(axis=0, out=grad_biases[l])                     # eq. (7)
            if l > 0:  # no delta for the input
                delta = delta @ self.weights[l].T                     # (n, sizes[l]), eq. (5)
                delta *= slopes[l - 1]                                # eq. (5): * f_l'(z^l)

    def _output_delta(self, z: np.ndarray, a: np.ndarray, Y: np.ndarray) -> np.ndarray:
        """delta^L = dC/dz^L, for the mean loss over the n rows of a batch."""
        if self._fused:
            delta = a - Y                                             # eq. (4n)
        elif self.output == "softmax":
            g = self._loss.prime(a, Y)
            delta = a * (g - np.sum(g * a, axis=1, keepdims=True))    # eq. (4s)
        else:
            delta = self._loss.prime(a, Y) * self._act[-1].prime(z)   # eq. (4)
        delta *= 1 / len(a)                                           # eqs. (4): / n
        return delta

    # ------------------------------------------------------------------ one training step

    def _step(self, x: np.ndarray, Y: np.ndarray, optimizer: Optimizer, lr: float,
              l2: float, dropout: float) -> np.ndarray:
        """One step of gradient descent on the batch (x, Y), eqs. (1)-(9): what fit repeats.
        Returns the batch's output a^L."""
        # forward
        zs, activations, slopes = self._forward(x, train=True, dropout=dropout)
        # backward
        self._backward(zs, activations, slopes, Y, l2, self._grad_weights, self._grad_biases)
        # update
        optimizer.step(self._params, self._grads, lr)
        return activations[-1]

    # ------------------------------------------------------------------ training: epochs

    @_underflow_is_zero
    def fit(self, X: npt.ArrayLike, y: npt.ArrayLike, epochs: int = 10, batch_size: int = 64,
            optimizer: str | Optimizer = "adam", lr: float | None = None, l2: float = 0.0,
            dropout: float = 0.0, schedule: str | Callable[[float], float] | None = None,
            augment: Callable[[np.ndarray, np.random.Generator], np.ndarray] | None = None,
            validation_data: tuple[npt.ArrayLike, npt.ArrayLike] | None = None,
            validation_split: float = 0.0, early_stopping: int | None = None,
            shuffle: bool = True, verbose: int = 1) -> dict[str, list[float]]:
        """Train by mini-batch gradient descent on the objective (3).

        Each epoch visits the training rows once, in a new random order (shuffle=True), one
        training step per batch of ``batch_size`` rows (the last batch may be smaller).

        optimizer: "sgd", "adam", or an SGD/Adam instance, whose state then carries over from
            one call of fit to the next. ``lr`` overrides its learning rate for this call.
        l2: the l2 of eq. (3), an L2 penalty in the objective and so in the gradient (with
            Adam this is not AdamW's decoupled weight decay). dropout: the rate p of eq. (2d).
        schedule: None (constant rate), "cosine", "onecycle" (warm-up, then cosine), or a
            function of progress in [0, 1] giving the factor on the rate.
        augment: a function (X_batch, rng) -> X_batch applied to every training batch (never
            to validation data), e.g. mlp.random_shift(). The caller's X is never changed.
        validation_data=(X_val, y_val), or validation_split: the fraction of the rows, chosen
            at random, held out from training to be evaluated after each epoch.
        early_stopping: stop when the validation loss has not improved for this many epochs,
            and restore the weights of the best epoch.
        verbose: 1 prints a line per epoch, 0 prints nothing.

        Returns the history: per-epoch lists "loss", "accuracy" (classifiers), "val_loss",
        "val_accuracy" (with validation data) and "time" (seconds). The training loss and
        accuracy are those of the batches' outputs, as the network was while it learned.
        Ctrl-C stops after the current batch and keeps what was learned; a second Ctrl-C stops
        at once and keeps the weights of the last whole epoch. A loss or weights that turn NaN
        or inf, in a whole or an interrupted epoch, raise FloatingPointError and keep the
        weights, and the optimizer's state, of the last finite epoch.
        """
        x, Y = self._data(X, y)
        epochs = _positive_int(epochs, "epochs")
        batch_size = _positive_int(batch_size, "batch_size")
        l2 = _non_negative(l2, "l2")
        dropout = _fraction(dropout, "dropout")
        if early_stopping is not None:
            early_stopping = _positive_int(early_stopping, "early_stopping")
        shuffle, verbose = _flag(shuffle, "shuffle"), _flag(verbose, "verbose")
        optimizer = _optimizer(optimizer)
        lr = optimizer.lr if lr is None else _positive(lr, "lr")
        schedule = _schedule(schedule)
        if augment is not None and not callable(augment):
            raise TypeError(f"augment must be a function (X_batch, rng) -> X_batch; got {augment!r}")
        validation_split = _fraction(validation_split, "validation_split")
        train, validation = self._split(x, Y, validation_data, validation_split)
        if early_stopping and validation is None:
            raise ValueError("early_stopping needs validation_data or a validation_split to watch")

        metrics = ["loss", "accuracy"] if self.output in PROBABILITY_OUTPUTS else ["loss"]
        if validation:
            metrics += ["val_" + name for name in metrics]
        history = {name: [] for name in metrics + ["time"]}
        steps = math.ceil(len(train) / batch_size)
        last_finite = self._params.copy()  # what a NaN loss or a second Ctrl-C falls back to,
        optimizer._checkpoint()            # with the optimizer's state
        whole = 0                          # the epoch whose weights last_finite holds
        best_params, best_epoch, best_loss = self._params.copy(), 0, math.inf

        def kept() -> str:
            return f"those after epoch {whole}" if whole else "those fit started from"

        with _CtrlC() as ctrl_c:
            try:
                for epoch in range(1, epochs + 1):
                    start = time.perf_counter()
                    order = self._rng.permutation(train) if shuffle else train
                    first_step = (epoch - 1) * steps
                    loss, accuracy, seen = self._epoch(
                        x, Y, order, batch_size, optimizer,
                        lambda i: lr * schedule((first_step + i) / (epochs * steps)),
                        l2, dropout, augment, ctrl_c)
                    if not (math.isfinite(loss) and _all_finite(self._params)):
                        self._params[...] = last_finite  # back to the end of the last whole epoch
                        optimizer._rollback()
                        what = ("the weights overflowed" if math.isfinite(loss)
                                else f"the loss became {loss}")
                        raise FloatingPointError(
                            f"training diverged in epoch {epoch}: {what}. The weights are "
                            f"{kept()}; try a smaller learning rate than {lr:g}.")
                    if not ctrl_c.pressed:
                        np.copyto(last_finite, self._params)
                        optimizer._checkpoint()
                        whole = epoch
                    samples_per_second = seen / (time.perf_counter() - start)

                    scores = (loss, accuracy) + (self._metrics(*validation)
                                                 if validation and not ctrl_c.pressed else ())
                    if ctrl_c.pressed:  # in a step or while scoring: the epoch is not reported
                        if verbose:
                            print(f"interrupted in epoch {epoch}: keeping the weights "
                                  f"learned so far")
                        break
                    for name, value in zip(metrics, [s for s in scores if s is not None]):
                        history[name].append(value)  # accuracy is None for regression
                    history["time"].append(time.perf_counter() - start)
                    if verbose:
                        print(_epoch_line(epoch, epochs, history, samples_per_second), flush=True)

                    if early_stopping:
                        val_loss = history["val_loss"][-1]
                        if val_loss < best_loss:
                            best_params[...], best_epoch, best_loss = self._params, epoch, val_loss
                        elif epoch - best_epoch >= early_stopping:
                            if verbose:
                                print(f"early stopping: no better validation loss for "
                                      f"{early_stopping} epochs")
                            break
            except KeyboardInterrupt:  # a second Ctrl-C, maybe inside an update: give the epoch up
                ctrl_c.pressed = True
                self._params[...] = last_finite
                optimizer._rollback()
                if verbose:
                    print(f"interrupted: the weights are {kept()}")
        if early_stopping and best_epoch not in (0, len(history["time"])) and not ctrl_c.pressed:
            self._params[...] = best_params
            if verbose:
                print(f"restored the weights of epoch {best_epoch} "
                      f"(validation loss {best_loss:.4f})")
        return history

    def _epoch(self, x, Y, order, batch_size, optimizer, learning_rate, l2, dropout, augment,
               ctrl_c):
        """One pass over the rows of x in the given order, one training step per batch;
        learning_rate(i) is the rate of the i-th step. Returns the mean loss and accuracy of
        the batches' outputs and the number of rows seen. Stops after the step in which Ctrl-C
        came; returns a NaN loss if numpy raises FloatingPointError (under np.errstate(
        all="raise"))."""
        outputs = np.empty((len(order), self.sizes[-1]), self.dtype)  # scored once, at the end
        seen = 0
        try:
            for i, first in enumerate(range(0, len(order), batch_size)):
                batch = order[first:first + batch_size]
                # copies only this batch's rows; take() is x[batch], with less overhead
                x_batch, y_batch = x.take(batch, axis=0), Y.take(batch, axis=0)
                if augment is not None:
                    x_batch = augment(x_batch, self._rng)
                    if getattr(x_batch, "shape", None) != (len(batch), x.shape[1]):
                        raise ValueError(f"augment must return an array of its batch's shape "
                                         f"{(len(batch), x.shape[1])}; got "
                                         f"{getattr(x_batch, 'shape', type(x_batch).__name__)}")
                outputs[first:first + len(batch)] = self._step(
                    x_batch, y_batch, optimizer, learning_rate(i), l2, dropout)
                seen += len(batch)
                if ctrl_c.pressed:
                    break
        except FloatingPointError:
            return math.nan, math.nan, seen
        with np.errstate(over="ignore", invalid="ignore"):  # a loss that is not finite is returned
            return (*self._score(outputs[:seen], Y.take(order[:seen], axis=0)), seen)

    def _split(self, x, Y, validation_data, validation_split):
        """The indices of the training rows, and the validation (x, Y) or None."""
        if validation_data is not None and validation_split:
            raise ValueError("give validation_data or validation_split, not both")
        if validation_data is not None:
            if not isinstance(validation_data, (tuple, list)) or len(validation_data) != 2:
                raise TypeError("validation_data must be a pair (X_val, y_val)")
            return np.arange(len(x)), self._data(*validation_data, names=("X_val", "y_val"))
        if not validation_split:
            return np.arange(len(x)), None
        n_val = round(len(x) * validation_split)
        if not 0 < n_val < len(x):
            raise ValueError(f"validation_split={validation_split} of {len(x)} rows leaves "
                             f"{n_val} for validation and {len(x) - n_val} for training; both need rows")
        order = self._rng.permutation(len(x))  # a random split: the last rows may be sorted
        held_out = order[:n_val]
        return np.sort(order[n_val:]), (x[held_out], Y[held_out])

    # ------------------------------------------------------------------ using the network

    @_underflow_is_zero
    def predict_proba(self, X: npt.ArrayLike) -> np.ndarray:
        """The output activations a^L, one row per sample: probabilities for softmax and
        sigmoid outputs, raw values for the others."""
        return self._output(self._inputs(X))

    def predict(self, X: npt.ArrayLike) -> np.ndarray:
        """Class labels (n,) for softmax; 0/1 for sigmoid, (n,) for one unit and (n, k) for k
        units; the raw outputs (n, k) for every other output activation."""
        a = self.predict_proba(X)
        if self.output == "softmax":
            return a.argmax(axis=1)
        if self.output == "sigmoid":
            labels = (a > 0.5).astype(np.int64)
            return labels[:, 0] if labels.shape[1] == 1 else labels
        return a

    @_underflow_is_zero
    def evaluate(self, X: npt.ArrayLike, y: npt.ArrayLike) -> dict[str, float]:
        """{"loss": mean loss over the rows, without the l2 term, "accuracy": the fraction of
        rows predicted right} (accuracy only for softmax and sigmoid outputs)."""
        loss, accuracy = self._metrics(*self._data(X, y))
        return {"loss": loss} if accuracy is None else {"loss": loss, "accuracy": accuracy}

    def _output(self, x: np.ndarray, name: str = "X", chunk: int = 4096) -> np.ndarray:
        """The network's output for every row of x, a chunk of rows at a time to bound memory;
        an output that is not finite is a ValueError that names x."""
        with np.errstate(over="ignore", invalid="ignore"):  # reported below, more clearly
            a = np.concatenate([self._forward(x[i:i + chunk])[1][-1]
                                for i in range(0, len(x), chunk)])
        if not _all_finite(a):
            reason = ("the weights are not finite" if not _all_finite(self._params) else
                      f"its values, up to {np.abs(x).max():.3g}, overflow {self.dtype.name}")
            raise ValueError(f"the network's output for {name} is not finite: {reason}")
        return a

    def _metrics(self, x: np.ndarray, Y: np.ndarray, name: str = "X") -> tuple[float, float | None]:
        """Mean loss and accuracy of the network on the rows of x."""
        return self._score(self._output(x, name), Y)

    def _score(self, a: np.ndarray, Y: np.ndarray) -> tuple[float, float | None]:
        """Mean loss (without the l2 term) and accuracy of outputs a against targets Y: the
        fraction of rows whose class (softmax) or whose every 0/1 output (sigmoid) is right;
        None for the other outputs."""
        loss = float(np.mean(self._loss.value(a, Y)))
        if self.output == "softmax":
            return loss, float(np.mean(a.argmax(axis=1) == Y.argmax(axis=1)))
        if self.output == "sigmoid":
            return loss, float(np.mean(np.all((a > 0.5) == (Y > 0.5), axis=1)))
        return loss, None

    def __repr__(self) -> str:
        return (f"Network({self.sizes}, hidden={self.hidden!r}, output={self.output!r}, "
                f"loss={self.loss_name!r}, dtype={self.dtype.name!r})")

    def __getstate__(self) -> dict:
        """For copy.deepcopy and pickle: everything but the views, which __setstate__ makes
        anew, so that a copy's weights are views of its own flat array, the one it trains."""
        views = ("_weights", "_biases", "_grad_weights", "_grad_biases")
        return {key: value for key, value in self.__dict__.items() if key not in views}

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._make_views()

    # ------------------------------------------------------------------ saving

    def save(self, path: str | os.PathLike) -> None:
        """Write the architecture and parameters to an .npz file at exactly ``path``.

        The file holds plain arrays only (no pickle): sizes, activation and loss names, and
        weights and biases in this network's dtype. Not kept: optimizer state and random state.
        The file is written whole or not at all, and only ever replaces a regular file.
        """
        arrays = {"sizes": np.array(self.sizes, np.int64), "hidden": np.array(self.hidden, str),
                  "output": np.array(self.output), "loss": np.array(self.loss_name)}
        for l, (W, b) in enumerate(zip(self.weights, self.biases)):
            arrays[f"weights_{l}"], arrays[f"biases_{l}"] = W, b
        _write_whole(path, lambda f: np.savez(f, **arrays))

    @classmethod
    def load(cls, path: str | os.PathLike) -> Network:
        """Read a network written by save; a file that does not hold one raises ValueError.

        It never unpickles. It checks the number and names of the arrays, then each one's
        shape and dtype (from the header of its .npy file in the .npz archive) against the
        sizes the file declares, and that it holds that many bytes (read through in chunks),
        before it allocates the network, so that a hostile file is refused before it costs
        much memory or time.
        """
        path = os.fsdecode(path)
        try:
            # non-blocking, so that a FIFO is not waited on; binary, for Windows
            flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
            fd = os.open(path, flags)
            if not stat.S_ISREG(os.fstat(fd).st_mode):  # checks what is read, not a name
                os.close(fd)
                raise ValueError("it is not a regular file")  # /dev/zero would never end
            with open(fd, "rb") as f, zipfile.ZipFile(f) as archive:
                return cls._from_archive(archive)
        except FileNotFoundError:
            raise
        except (OSError, ValueError, TypeError, KeyError, EOFError, RuntimeError, zlib.error,
                zipfile.BadZipFile) as e:  # RuntimeError: an encrypted member
            raise ValueError(f"{path} is not a model saved by Network.save: {e}") from None

    @classmethod
    def _from_archive(cls, archive: zipfile.ZipFile) -> Network:
        """The network that save wrote into this .npz archive (a zip of .npy files)."""
        def header(name):
            """The shape and dtype a member declares, after checking that it holds that many
            bytes: by the zip's entry, then by reading it through in chunks, since the entry
            may lie too (the zip checks its CRC at the end)."""
            info = archive.getinfo(name + ".npy")
            if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
                # zipfile's bzip2 and lzma decompress whole reads with no limit on the output
                raise ValueError(f"{name} is compressed with method {info.compress_type}, "
                                 f"which save never uses")
            with archive.open(info) as f:
                version = np.lib.format.read_magic(f)
                read = {(1, 0): np.lib.format.read_array_header_1_0,
                        (2, 0): np.lib.format.read_array_header_2_0}.get(version)
                if read is None:
                    raise ValueError(f"{name} is an .npy file of version {version}")
                shape, _, dtype = read(f)
                size = f.tell() + math.prod(shape) * dtype.itemsize
                # deflate expands at most ~1032 times: a member claiming more is a zip bomb's
                if info.file_size != size or info.file_size > 1100 * info.compress_size + 4096:
                    raise ValueError(f"{name} declares {shape} of {dtype} but holds "
                                     f"{info.file_size} bytes ({info.compress_size} compressed)")
                held = f.tell()
                while chunk := f.read(1 << 20):
                    held += len(chunk)
            if held != size:
                raise ValueError(f"{name} declares {shape} of {dtype} but holds {held} bytes")
            if dtype.kind == "U" and dtype.itemsize > 4 * 64:
                raise ValueError(f"{name} holds text of {dtype.itemsize // 4} characters")
            return shape, dtype

        def read(name):
            with archive.open(name + ".npy") as f:
                return np.lib.format.read_array(f, allow_pickle=False)  # never unpickle

        shape, dtype = header("sizes")
        if len(shape) != 1 or dtype.kind not in "iu" or shape[0] < 2:
            raise ValueError(f"sizes must be a 1-D integer array of 2 or more widths; "
                             f"got {dtype} of shape {shape}")
        n_layers = shape[0] - 1
        found = sorted(name[:-4] if name.endswith(".npy") else name for name in archive.namelist())
        if len(found) != 2 * n_layers + 4:  # counted first: sizes may declare millions of layers
            raise ValueError(f"sizes declares {n_layers} layers, which take {2 * n_layers + 4} "
                             f"arrays; found {len(found)}: {found[:20]}")
        names = ["hidden", "output", "loss"]
        layers = [f"{kind}_{l}" for kind in ("weights", "biases") for l in range(n_layers)]
        expected = sorted(["sizes"] + names + layers)
        if found != expected:
            raise ValueError(f"expected the arrays {expected}; found {found}")
        sizes = [int(n) for n in read("sizes")]
        shapes = dict(zip(names, [(n_layers - 1,), (), ()]))
        shapes.update(zip(layers, [(n_in, n_out) for n_in, n_out in zip(sizes, sizes[1:])]
                          + [(n_out,) for n_out in sizes[1:]]))
        dtypes = set()
        for name, want in shapes.items():
            shape, dtype = header(name)
            kind = "U" if name in names else "f"  # text or floats
            if shape != want or dtype.kind != kind:
                raise ValueError(f"{name} has shape {shape} and dtype {dtype}; expected {want} "
                                 f"of {'text' if kind == 'U' else 'floats'} (sizes {sizes})")
            if kind == "f":
                dtypes.add(dtype.newbyteorder("="))
        if len(dtypes) != 1:
            raise ValueError(f"the weights and biases must share one dtype; "
                             f"found {sorted(map(str, dtypes))}")
        net = cls(sizes, hidden=[str(h) for h in read("hidden")], output=str(read("output")),
                  loss=str(read("loss")), seed=0, dtype=dtypes.pop())
        for name, target in zip(layers, net.weights + net.biases):
            array = read(name)
            if array.shape != target.shape:  # the file changed since it was checked
                raise ValueError(f"{name} has shape {array.shape}; expected {target.shape}")
            if not _all_finite(array):
                raise ValueError(f"{name} holds NaN or inf")
            target[...] = array
        return net

    # ------------------------------------------------------------------ checking inputs

    def _inputs(self, X: npt.ArrayLike, name: str = "X") -> np.ndarray:
        """X as a 2-D array of this network's dtype, after checking it; never a changed copy."""
        X = np.asarray(X)
        if X.dtype.kind not in "biuf":
            raise TypeError(f"{name} must hold numbers; got dtype {X.dtype}")
        if X.ndim != 2:
            hint = f". For one sample, pass {name.lower()}.reshape(1, -1)" if X.ndim == 1 else ""
            raise ValueError(f"{name} must be 2-D, one sample per row; got shape {X.shape}{hint}")
        if len(X) == 0:
            raise ValueError(f"{name} is empty: it has no rows")
        if X.shape[1] != self.sizes[0]:
            raise ValueError(f"{name} has {X.shape[1]} columns but the input layer takes "
                             f"sizes[0] = {self.sizes[0]}")
        return _finite(X, self.dtype, name)

    def _targets(self, y: npt.ArrayLike, n: int, name: str = "y") -> np.ndarray:
        """y as the target matrix Y, (n, sizes[-1]) in this network's dtype, after checking it."""
        y = np.asarray(y)
        k = self.sizes[-1]
        if y.dtype.kind not in "biuf":
            raise TypeError(f"{name} must hold numbers; got dtype {y.dtype}")
        if y.ndim not in (1, 2):
            raise ValueError(f"{name} must be 1-D or 2-D; got shape {y.shape}")
        if len(y) != n:
            raise ValueError(f"X and {name} have different lengths: {n} and {len(y)} rows")
        y = _finite(y, self.dtype, name)
        if self.output == "softmax" and y.ndim == 1:
            wrong = (y != np.round(y)) | (y < 0) | (y >= k)
            if wrong.any():
                raise ValueError(f"{name} holds the label {y[wrong][0]:g}, outside the integers "
                                 f"[0, {k}) of a network with {k} outputs")
            return np.eye(k, dtype=self.dtype)[y.astype(np.intp)]
        if y.ndim == 1:
            if k != 1:
                raise ValueError(f"{name} has shape {y.shape} but the network has {k} outputs; "
                                 f"pass shape ({n}, {k})")
            y = y.reshape(n, 1)
        if y.shape[1] != k:
            kind = "one-hot " if self.output == "softmax" else ""
            raise ValueError(f"{kind}{name} has width {y.shape[1]}, but the output layer has {k} units")
        if self.loss_name != "mse" and (y.min() < 0 or y.max() > 1):
            raise ValueError(f"{name} must hold values in [0, 1] for {self.loss_name}; "
                             f"found {y.min()}..{y.max()}")
        if self.output == "softmax" and np.any(np.abs(y.sum(axis=1) - 1) > 1e-3):
            raise ValueError(f"every row of one-hot {name} must sum to 1")
        return y

    def _data(self, X, y, names=("X", "y")) -> tuple[np.ndarray, np.ndarray]:
        x = self._inputs(X, names[0])
        return x, self._targets(y, len(x), names[1])


# ============================================================================ helpers

class _Parameters(list):
    """A list of views into a network's flat parameter array. Assigning to an entry copies the
    values into the view, so that it stays the array the optimizers update."""

    def __setitem__(self, index: int, value: npt.ArrayLike) -> None:
        view = list.__getitem__(self, index)
        value = np.asarray(value)
        if not isinstance(view, np.ndarray) or value.shape != view.shape:
            raise ValueError(f"assign one array of shape {getattr(view, 'shape', '?')} to one "
                             f"entry; got shape {value.shape}")
        view[...] = value


def _all_finite(a: np.ndarray) -> bool:
    """Whether a holds no NaN or inf. NaN and inf carry through a sum, so one pass over a, with
    no temporary the size of a, settles it; only a sum that overflows needs a second look."""
    with np.errstate(over="ignore", invalid="ignore"):
        if np.isfinite(np.sum(a)):
            return True
    return bool(np.isfinite(a.min()) and np.isfinite(a.max()))


def _finite(a: np.ndarray, dtype: np.dtype, name: str) -> np.ndarray:
    """a in dtype (a itself if it has it), after checking that it holds no NaN or inf, before or
    after the cast: 1e39 is a finite float64 but inf in float32."""
    with np.errstate(over="ignore"):  # reported below, more clearly
        cast = a.astype(dtype, copy=False)
    if not _all_finite(cast):
        if a.dtype.kind == "f" and _all_finite(a):
            raise ValueError(f"{name} holds values too large for {dtype.name} (up to "
                             f"{np.abs(a).max():.3g}): scale them, or use dtype='float64'")
        raise ValueError(f"{name} contains NaN or inf")
    return cast


def _names(choices) -> str:
    return ", ".join(repr(c) for c in choices)


def _check_sizes(sizes) -> list[int]:
    if isinstance(sizes, (str, bytes)) or not isinstance(sizes, (Sequence, np.ndarray)):
        raise TypeError(f"sizes must be a list of layer widths, like [784, 128, 10]; got {sizes!r}")
    sizes = list(sizes)
    if len(sizes) < 2:
        raise ValueError(f"sizes needs at least 2 entries (input and output width); got {sizes}")
    for n in sizes:
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)):
            raise TypeError(f"sizes must hold integers; got {n!r} in {sizes}")
        if n < 1:
            raise ValueError(f"every entry of sizes must be at least 1; got {sizes}")
    return [int(n) for n in sizes]


def _check_activation(name, argument: str) -> str:
    if not isinstance(name, str):
        raise TypeError(f"{argument} must be an activation name; got {name!r}")
    if name not in ACTIVATIONS:
        raise ValueError(f"unknown activation {name!r} for {argument}; choose from {_names(ACTIVATIONS)}")
    return name


def _check_hidden(hidden, n_hidden: int) -> list[str]:
    names = [hidden] * n_hidden if isinstance(hidden, str) else hidden
    if not isinstance(names, (list, tuple)):
        raise TypeError(f"hidden must be an activation name or a list of them; got {hidden!r}")
    if len(names) != n_hidden:
        raise ValueError(f"hidden names {len(names)} activations, but sizes has {n_hidden} hidden layers")
    for name in names:
        if _check_activation(name, "hidden") == "softmax":
            raise ValueError("softmax can only be the output activation (hidden got 'softmax'): "
                             "it ties the units of a layer together into one distribution")
    return list(names)


def _check_output(output, k: int) -> str:
    if _check_activation(output, "output") == "softmax" and k < 2:
        raise ValueError("a softmax output needs at least 2 units; "
                         "for one yes/no output use output='sigmoid'")
    return output


def _check_loss(loss, output: str) -> str:
    if loss is None:
        return NATURAL_LOSS.get(output, "mse")
    if not isinstance(loss, str) or loss not in LOSSES:
        raise ValueError(f"unknown loss {loss!r}; choose from {_names(LOSSES)} or None")
    if loss != "mse" and output not in PROBABILITY_OUTPUTS:
        raise ValueError(f"loss={loss!r} takes the log of the outputs, which must be probabilities: "
                         f"use output='softmax' or 'sigmoid' (got {output!r}), or loss='mse'")
    return loss


def _check_dtype(dtype) -> np.dtype:
    try:
        checked = None if dtype is None else np.dtype(dtype)
    except TypeError:
        checked = None
    if checked is None or checked not in (np.float32, np.float64):  # in native byte order
        raise ValueError(f"dtype must be 'float32' or 'float64'; got {dtype!r}")
    return checked


def _check_seed(seed) -> int | None:
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, (int, np.integer))):
        raise TypeError(f"seed must be None or an integer; got {seed!r}")
    if seed is not None and seed < 0:
        raise ValueError(f"seed must be 0 or more; got {seed}")
    return seed


def _number(value, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name} must be a number; got {value!r}")
    if not math.isfinite(value):
        raise ValueError(f"{name} must be finite; got {value}")
    return float(value)


def _positive(value, name: str) -> float:
    if _number(value, name) <= 0:
        raise ValueError(f"{name} must be positive; got {value}")
    return float(value)


def _non_negative(value, name: str) -> float:
    if _number(value, name) < 0:
        raise ValueError(f"{name} must be 0 or more; got {value}")
    return float(value)


def _fraction(value, name: str) -> float:
    if not 0 <= _number(value, name) < 1:
        raise ValueError(f"{name} must be in [0, 1); got {value}")
    return float(value)


def _flag(value, name: str) -> bool:
    """A yes/no argument: True, False, 1 or 0 (not a string such as "no", which is true)."""
    if not isinstance(value, (bool, np.bool_, int, np.integer)):
        raise TypeError(f"{name} must be True or False; got {value!r}")
    if value not in (0, 1):
        raise ValueError(f"{name} must be True or False; got {value!r}")
    return bool(value)


def _positive_int(value, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an integer; got {value!r}")
    if value < 1:
        raise ValueError(f"{name} must be a positive integer; got {value}")
    return int(value)


def _optimizer(optimizer) -> Optimizer:
    if isinstance(optimizer, str):
        if optimizer not in ("sgd", "adam"):
            raise ValueError(f"unknown optimizer {optimizer!r}; choose 'sgd', 'adam' or an SGD/Adam instance")
        return SGD() if optimizer == "sgd" else Adam()
    if not isinstance(optimizer, Optimizer):
        raise TypeError(f"optimizer must be 'sgd', 'adam' or an Optimizer such as mlp.Adam(); "
                        f"got {optimizer!r}")
    return optimizer


def cosine(progress: float) -> float:
    """Learning-rate factor falling from 1 to 0 along half a cosine."""
    return 0.5 * (1 + math.cos(math.pi * progress))


def onecycle(progress: float, warmup: float = 0.25) -> float:
    """Learning-rate factor rising linearly from 0 to 1 over the first quarter, then cosine to 0."""
    return progress / warmup if progress < warmup else cosine((progress - warmup) / (1 - warmup))


SCHEDULES = {"cosine": cosine, "onecycle": onecycle}


def _schedule(schedule) -> Callable[[float], float]:
    if schedule is None:
        return lambda progress: 1.0
    if isinstance(schedule, str):
        if schedule not in SCHEDULES:
            raise ValueError(f"unknown schedule {schedule!r}; choose None, {_names(SCHEDULES)} or a function")
        return SCHEDULES[schedule]
    if not callable(schedule):
        raise TypeError(f"schedule must be None, a name or a function of progress; got {schedule!r}")
    return schedule


def _epoch_line(epoch: int, epochs: int, history: dict, samples_per_second: float) -> str:
    """One line of fit's progress report, from the latest entries of the history."""
    parts = [f"epoch {epoch:{len(str(epochs))}d}/{epochs}"]
    for key in ("loss", "accuracy", "val_loss", "val_accuracy"):
        if key in history:
            value = history[key][-1]
            parts.append(f"{key} {100 * value:.2f}%" if "accuracy" in key else f"{key} {value:.4f}")
    parts.append(f"{history['time'][-1]:.1f}s  {samples_per_second:,.0f} samples/s")
    return "  ".join(parts)


class _CtrlC:
    """Inside ``with``, Ctrl-C sets .pressed instead of raising KeyboardInterrupt, so that fit can
    stop between two batches, never in the middle of an update. A second Ctrl-C raises as usual.
    Only the main thread receives signals, and a handler the program set itself is left alone."""

    def __init__(self) -> None:
        self.pressed = False
        self._previous = None

    def __enter__(self) -> _CtrlC:
        if (threading.current_thread() is threading.main_thread()
                and signal.getsignal(signal.SIGINT) is signal.default_int_handler):
            self._previous = signal.signal(signal.SIGINT, self._handle)
        return self

    def _handle(self, signum, frame) -> None:
        self.pressed = True
        signal.signal(signal.SIGINT, self._previous)

    def __exit__(self, *exc) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)


def _write_whole(path: str | os.PathLike, write: Callable) -> None:
    """Call write(file) on a new temporary file beside path, then rename it to path: a crash or
    an error leaves the old file (or none), never half of the new one."""
    path = os.fsdecode(path)
    temporary, f = _temporary_beside(path)
    try:
        with f:
            write(f)
        os.replace(temporary, path)
    finally:
        if os.path.lexists(temporary):
            os.remove(temporary)


def _temporary_beside(path: str):
    """(name, file): a new file, open for writing, in the folder of path, where it can be renamed
    to path. Raises if path is anything but a regular file or nothing, or if the folder does not
    exist or cannot be written to."""
    if not path:
        raise ValueError("the path to write to is empty")
    if os.path.islink(path) or os.path.lexists(path) and not os.path.isfile(path):
        raise ValueError(f"{path} exists and is not a regular file: refusing to replace it")
    folder = os.path.dirname(path) or "."
    if not os.path.isdir(folder):
        raise FileNotFoundError(f"cannot write {path}: there is no folder {folder}")
    while True:
        temporary = f"{path}.{os.urandom(4).hex()}.part"  # not guessable, so not planted
        try:
            return temporary, open(temporary, "xb")  # x: created here, never through a link
        except FileExistsError:
            continue
        except OSError as e:
            raise OSError(f"cannot write {path}: {e.strerror}") from None


# ============================================================================ MNIST data

def random_shift(shape: tuple[int, int] = (28, 28), max_shift: int = 1) -> Callable:
    """An augment for fit: move each image of a batch by up to max_shift pixels up or down and
    left or right, independently and at random, filling the uncovered border with zeros.

    shape is (height, width) of the images stored in each row of X.
    """
    height, width = _image_shape(shape)
    if isinstance(max_shift, bool) or not isinstance(max_shift, (int, np.integer)):
        raise TypeError(f"max_shift must be an integer; got {max_shift!r}")
    if not 0 <= max_shift < min(height, width):
        raise ValueError(f"max_shift must be in [0, {min(height, width)}); got {max_shift}")
    offsets = range(-max_shift, max_shift + 1)

    def span(offset: int, n: int) -> tuple[slice, slice]:
        """Where pixels land and where they come from, along one axis, for a move by offset."""
        return slice(max(offset, 0), n + min(offset, 0)), slice(max(-offset, 0), n + min(-offset, 0))

    def shift(X: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        images = _images(X, height, width, "random_shift")
        moved = np.zeros_like(images)
        dy, dx = rng.integers(-max_shift, max_shift + 1, size=(2, len(X)))
        # One slice copy per distinct move, at most (2 max_shift + 1)^2, instead of one per image.
        for oy in offsets:
            for ox in offsets:
                rows = np.flatnonzero((dy == oy) & (dx == ox))
                (to_y, from_y), (to_x, from_x) = span(oy, height), span(ox, width)
                moved[rows, to_y, to_x] = images[rows, from_y, from_x]
        return moved.reshape(X.shape)

    return shift


def random_flip(shape: tuple[int, int] = (28, 28)) -> Callable:
    """An augment for fit: mirror each image of a batch left to right with probability 1/2,
    independently. For pictures whose mirror image shows the same class, such as Fashion-MNIST's
    clothes (not digits).

    shape is (height, width) of the images stored in each row of X.
    """
    height, width = _image_shape(shape)

    def flip(X: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        images = _images(X, height, width, "random_flip")
        flipped = images.copy()
        rows = rng.random(len(X)) < 0.5
        flipped[rows] = images[rows, :, ::-1]
        return flipped.reshape(X.shape)

    return flip


def _image_shape(shape) -> tuple[int, int]:
    """shape, checked to be (height, width) of positive integers."""
    if (not isinstance(shape, (tuple, list)) or len(shape) != 2
            or not all(isinstance(s, (int, np.integer)) and s > 0 for s in shape)):
        raise ValueError(f"shape must be (height, width) of positive integers; got {shape!r}")
    return int(shape[0]), int(shape[1])


def _images(X: np.ndarray, height: int, width: int, augment: str) -> np.ndarray:
    """The rows of X as images of height x width pixels."""
    if X.ndim != 2 or X.shape[1] != height * width:
        raise ValueError(f"{augment}{(height, width)} needs rows of {height * width} pixels; "
                         f"got X of shape {X.shape}")
    return X.reshape(-1, height, width)


IDX_FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte",
             "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")
CLASS_NAMES = {
    "mnist": tuple("0123456789"),
    "fashion": ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
                "Sneaker", "Bag", "Ankle boot"),
}
MIRRORS = {
    "mnist": ["https://ossci-datasets.s3.amazonaws.com/mnist/",
              "https://storage.googleapis.com/cvdf-datasets/mnist/",
              "http://yann.lecun.com/exdb/mnist/"],
    "fashion": ["https://storage.googleapis.com/tensorflow/tf-keras-datasets/",
                "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
                "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/"],
}
# Published SHA-256 of each .gz file, and of the decompressed IDX payload: the payload's
# checksum also holds for a copy that was recompressed (as Debian's packages are) or is stored
# uncompressed.
SHA256 = {
    "mnist": {
        "train-images-idx3-ubyte.gz": "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
        "train-labels-idx1-ubyte.gz": "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
        "t10k-images-idx3-ubyte.gz": "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
        "t10k-labels-idx1-ubyte.gz": "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
        "train-images-idx3-ubyte": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
        "train-labels-idx1-ubyte": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
        "t10k-images-idx3-ubyte": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
        "t10k-labels-idx1-ubyte": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
    },
    "fashion": {
        "train-images-idx3-ubyte.gz": "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84",
        "train-labels-idx1-ubyte.gz": "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845",
        "t10k-images-idx3-ubyte.gz": "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073",
        "t10k-labels-idx1-ubyte.gz": "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5",
        "train-images-idx3-ubyte": "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
        "train-labels-idx1-ubyte": "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
        "t10k-images-idx3-ubyte": "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
        "t10k-labels-idx1-ubyte": "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
    },
}
IDX_MAGIC = {"images": 2051, "labels": 2049}  # 0x0803: 3-D unsigned bytes; 0x0801: 1-D
# The most images or labels a file may announce: what the published files hold. The header is
# read first, so no file, downloaded or found on disk, makes the loader decompress or
# allocate more than that.
IDX_ITEMS = {"train": 60_000, "t10k": 10_000}
# Limits of one download; a mirror that breaks one is left for the next.
DOWNLOAD_BYTES = 30_000_000  # the largest published .gz (Fashion's train-images) has 26.4 MB:
                             # a longer body cannot match its checksum
READ_TIMEOUT = 30.0          # seconds that one read from a mirror may wait
DOWNLOAD_DEADLINE = 600.0    # seconds for one whole file: the largest takes 10 min at 45 kB/s


def load_mnist(data_dir: str | os.PathLike | None = None, dataset: str = "mnist",
               download: bool = True):
    """MNIST digits (dataset="mnist") or Fashion-MNIST (dataset="fashion"), as
    ((X_train, y_train), (X_test, y_test)): X float32 in [0, 1] of shape (n, 784), y int64 in
    0-9; class k is called CLASS_NAMES[dataset][k].

    The four IDX files are looked for in data_dir (default: $MLP_DATA, else
    ~/.cache/mlp/<dataset>), gzipped or not, spelled train-images-idx3-ubyte or
    train-images.idx3-ubyte; files found there are used without any network access. Missing
    ones are downloaded (unless download=False) from the mirrors in MIRRORS, each checked
    against its published SHA-256 before it is decompressed, and kept in data_dir.
    """
    download = _flag(download, "download")
    if dataset not in MIRRORS:
        raise ValueError(f"unknown dataset {dataset!r}; choose from {_names(MIRRORS)}")
    folder = os.path.expanduser(os.fsdecode(data_dir or os.environ.get("MLP_DATA")
                                          or os.path.join("~", ".cache", "mlp", dataset)))
    if os.path.exists(folder) and not os.path.isdir(folder):
        raise NotADirectoryError(f"data_dir {folder} is a file; expected a folder for the IDX files")
    found = {name: _find_idx(folder, name) for name in IDX_FILES}
    missing = [name + ".gz" for name, path in found.items() if path is None]
    if missing and not download:
        raise FileNotFoundError(f"{', '.join(missing)} not found in {folder} and download is off; "
                                f"put the files there or pass another data_dir")
    if missing:
        os.makedirs(folder, exist_ok=True)  # a folder that cannot be made fails before any download
    checksums = SHA256[dataset]
    arrays = []
    for name, path in found.items():
        if path is None:
            arrays.append(_download(name, folder, MIRRORS[dataset], checksums))
        else:
            array, trusted = _read_idx(path, name, checksums)
            if not trusted:
                for other in SHA256:  # both datasets' files have the same names: easily mixed up
                    if other != dataset and _read_idx(path, name, SHA256[other])[1]:
                        raise ValueError(f"{path} is the published {other} file, not the {dataset} "
                                         f"one; give each dataset its own folder")
                warnings.warn(f"{path} is not the published {dataset} file (checksum differs or is "
                              f"unknown); using it because its IDX header and size are valid",
                              stacklevel=2)
            arrays.append(array)
    (train_images, train_labels), (test_images, test_labels) = arrays[:2], arrays[2:]
    for images, labels, part in ((train_images, train_labels, "train"), (test_images, test_labels, "t10k")):
        if len(images) != len(labels):
            raise ValueError(f"the {part} files of {folder} disagree: {len(images)} images "
                             f"but {len(labels)} labels")

    def scaled(images: np.ndarray) -> np.ndarray:
        x = images.reshape(len(images), -1).astype(np.float32)
        x /= 255
        return x

    return ((scaled(train_images), train_labels.astype(np.int64)),
            (scaled(test_images), test_labels.astype(np.int64)))


def _find_idx(folder: str, name: str) -> str | None:
    """The path of IDX file `name` in folder, in any of its usual spellings, or None."""
    dotted = name.replace("-idx", ".idx")  # train-images.idx3-ubyte
    for candidate in (name + ".gz", name, dotted + ".gz", dotted):
        path = os.path.join(folder, candidate)
        if os.path.isfile(path):
            return path
    return None


def _read_idx(path: str, name: str, checksums: dict[str, str]) -> tuple[np.ndarray, bool]:
    """The array in IDX file `name` at path, and whether the file is the published one."""
    with open(path, "rb") as f:
        try:
            return _unpack(f, name, checksums)
        except ValueError as e:
            raise ValueError(f"{path}: {e}") from None


class _Hashed:
    """A binary file that computes the SHA-256 of what is read from it."""

    def __init__(self, f) -> None:
        self.f, self.sha256 = f, hashlib.sha256()

    def read(self, n: int = -1) -> bytes:
        data = self.f.read(n)
        self.sha256.update(data)
        return data


def _unpack(f, name: str, checksums: dict[str, str]) -> tuple[np.ndarray, bool]:
    """The array in IDX file `name`, read from the binary file f and gunzipped if it is gzip, and
    whether the file matches the published .gz checksum or its payload the published payload
    checksum."""
    gzipped = f.read(2) == b"\x1f\x8b"  # the gzip signature, whatever the file name says
    f.seek(0)
    file = _Hashed(f)
    payload = _Hashed(gzip.GzipFile(fileobj=file) if gzipped else file)
    try:
        array = _parse_idx(payload, name)
    except (gzip.BadGzipFile, EOFError, zlib.error) as e:
        raise ValueError(f"not a valid gzip file ({e})") from None
    # _parse_idx read to the end, so both checksums cover the whole file.
    return array, (file.sha256.hexdigest() == checksums.get(name + ".gz")
                   or payload.sha256.hexdigest() == checksums.get(name))


def _parse_idx(f, name: str) -> np.ndarray:
    """The array in the IDX payload of file `name`, read from f: a big-endian magic number, the
    dimensions, then the bytes. Never reads more than the header announces, plus one byte."""
    kind = "images" if "images" in name else "labels"
    head = f.read(4)
    if len(head) < 4:
        raise ValueError(f"too short ({len(head)} bytes) to be an IDX file")
    magic = int.from_bytes(head, "big")
    if magic != IDX_MAGIC[kind]:
        raise ValueError(f"magic number {magic}, but IDX {kind} have {IDX_MAGIC[kind]}")
    ndim = head[3]
    header = f.read(4 * ndim)
    if len(header) < 4 * ndim:
        raise ValueError(f"too short ({4 + len(header)} bytes) for the header of an IDX file")
    dims = struct.unpack(f">{ndim}I", header)
    if kind == "images" and dims[1:] != (28, 28):
        raise ValueError(f"images of {'x'.join(map(str, dims[1:]))} pixels; expected 28x28")
    most = IDX_ITEMS[name.split("-")[0]]
    if dims[0] > most:
        raise ValueError(f"its header announces {dims[0]:,} {kind}; the published file has {most:,}")
    size = math.prod(dims)
    data = f.read(size)
    if len(data) < size or f.read(1):
        got = f"{len(data)}" if len(data) < size else "more"
        raise ValueError(f"{got} bytes of data, but its header announces {size} "
                         f"({' x '.join(map(str, dims))})")
    array = np.frombuffer(data, np.uint8).reshape(dims)
    if kind == "labels":
        wrong = np.flatnonzero(array > 9)  # both datasets have ten classes
        if len(wrong):
            raise ValueError(f"labels must be 0-9; found {array[wrong[0]]} at index {wrong[0]} "
                             f"({len(wrong)} in all)")
    return array


def _download(name: str, folder: str, mirrors: list[str], checksums: dict[str, str]) -> np.ndarray:
    """Fetch name + ".gz" from the first mirror that serves the published file, keep it in
    folder, and return its array. Any failure moves on to the next mirror; nothing is
    decompressed before its checksum is verified, and only a verified file is ever written."""
    filename = name + ".gz"
    failures = []
    for mirror in mirrors:
        url = mirror + filename
        try:
            data, checksum = _fetch(url)
            if checksum != checksums.get(filename):
                raise ValueError("not the published file (checksum differs)")
            array, _ = _unpack(io.BytesIO(data), name, checksums)
        # Network, HTTP and time-out errors are OSErrors; a garbled or cut reply, HTTPException.
        except (OSError, ValueError, http.client.HTTPException) as e:
            failures.append(f"{url}: {str(e) or type(e).__name__}")
            continue
        _write_whole(os.path.join(folder, filename), lambda f: f.write(data))
        return array
    raise OSError(f"could not download {filename}: " + "; ".join(failures) +
                  f". Put the four files ({', '.join(n + '.gz' for n in IDX_FILES)}) in {folder} "
                  f"by hand, or point data_dir (--data-dir) to a folder that has them")


def _fetch(url: str) -> tuple[bytes, str]:
    """The body at url and its SHA-256, within the limits above, with a percentage on stderr if
    it is a terminal."""
    deadline = time.monotonic() + DOWNLOAD_DEADLINE
    request = urllib.request.Request(url, headers={"User-Agent": "mlp.py (numpy MLP)"})
    with urllib.request.urlopen(request, timeout=READ_TIMEOUT) as response:
        total = int(response.headers.get("Content-Length") or 0)
        if total > DOWNLOAD_BYTES:
            raise ValueError(f"announces {total:,} bytes; no published file has more than {DOWNLOAD_BYTES:,}")
        data, sha256 = bytearray(), hashlib.sha256()
        progress = total and sys.stderr.isatty()
        try:
            # read1 returns what one read of the socket brings, so that a server trickling
            # bytes meets the deadline; a file thus takes at most one READ_TIMEOUT longer.
            while chunk := response.read1(1 << 16):
                data += chunk
                sha256.update(chunk)
                if len(data) > DOWNLOAD_BYTES:
                    raise ValueError(f"sent more than {DOWNLOAD_BYTES:,} bytes, more than any published file")
                if time.monotonic() > deadline:
                    raise TimeoutError(f"not done after {DOWNLOAD_DEADLINE:g} s "
                                       f"({len(data):,} bytes received)")
                if progress:
                    print(f"\rdownloading {url}: {100 * len(data) // total}%", end="", file=sys.stderr)
        finally:
            if progress:
                print(file=sys.stderr)
    if len(data) < total:
        raise ConnectionError(f"the connection closed after {len(data):,} of {total:,} bytes")
    return bytes(data), sha256.hexdigest()


# ============================================================================ command line

# The demo's recipe for each dataset, chosen on a held-out tenth of the training images (the
# README says how); every entry can be overridden by its flag.
RECIPES = {
    "mnist": {"hidden": [512, 512], "epochs": 20, "batch_size": 128, "dropout": 0.2,
              "l2": 0.0, "shift": 1, "flip": False},
    "fashion": {"hidden": [512, 512], "epochs": 30, "batch_size": 128, "dropout": 0.3,
                "l2": 0.0, "shift": 0, "flip": False},
}


def _confusion_lines(labels: np.ndarray, predictions: np.ndarray,
                     names: Sequence[str]) -> list[str]:
    """The confusion matrix as text: row i, column j counts the samples of class i predicted as
    class j. Rows are labelled by number and name (the digits of MNIST need no name)."""
    k = len(names)
    counts = np.bincount(labels * k + predictions, minlength=k * k).reshape(k, k)
    longest = max(len(name) for name in names)
    rows = [f"{i:5d}" + ("" if name == str(i) else f" {name:<{longest}}")
            for i, name in enumerate(names)]
    return ([" " * len(rows[0]) + "".join(f"{j:6d}" for j in range(k))]
            + [row + "".join(f"{c:6d}" for c in counts[i]) for i, row in enumerate(rows)])


def _png(pixels: np.ndarray) -> bytes:
    """An 8-bit grayscale PNG of a 2-D uint8 array, built with zlib and struct alone."""
    height, width = pixels.shape

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = np.hstack([np.zeros((height, 1), np.uint8), pixels])  # filter type 0 before each row
    return (b"\x89PNG\r\n\x1a\n"
            + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows.tobytes(), 9))
            + chunk(b"IEND", b""))


def _weights_picture(W: np.ndarray, shape: tuple[int, int] = (28, 28)) -> np.ndarray:
    """The first-layer weights as a grid of images, one per hidden unit, each scaled to its own
    range (mid-gray is 0) and separated by a line of black pixels."""
    height, width = shape
    units = W.shape[1]
    columns = math.ceil(math.sqrt(units))
    grid_rows = math.ceil(units / columns)
    picture = np.zeros((grid_rows * (height + 1) + 1, columns * (width + 1) + 1), np.uint8)
    tiles = W.T.reshape(units, height, width)
    scale = np.abs(tiles).max(axis=(1, 2), keepdims=True)
    tiles = 127.5 + 127.5 * tiles / np.where(scale > 0, scale, 1)
    for unit, tile in enumerate(tiles.round().astype(np.uint8)):
        top, left = 1 + (unit // columns) * (height + 1), 1 + (unit % columns) * (width + 1)
        picture[top:top + height, left:left + width] = tile
    return picture


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:
        """Report a bad flag in one line, without the usage text."""
        self.exit(2, f"{self.prog}: error: {message} (see python mlp.py --help)\n")


def _parser() -> argparse.ArgumentParser:
    def default(key: str) -> str:
        def shown(value):
            if isinstance(value, bool):
                return "on" if value else "off"
            return " ".join(map(str, value)) if isinstance(value, list) else value
        return "default: " + ", ".join(f"{shown(recipe[key])} for {dataset}"
                                       for dataset, recipe in RECIPES.items())

    p = _Parser(prog="mlp.py", description="Train a multilayer perceptron on MNIST (or "
                "Fashion-MNIST), downloading it on first use, and report its test accuracy. "
                "Each dataset has its own default recipe; the flags override it.")
    p.add_argument("--dataset", choices=sorted(MIRRORS), default="mnist", help="default: mnist")
    p.add_argument("--data-dir", metavar="DIR", help="folder with the four IDX files "
                   "(default: $MLP_DATA, else ~/.cache/mlp/<dataset>)")
    p.add_argument("--no-download", action="store_true", help="fail rather than download missing files")
    p.add_argument("--hidden", type=int, nargs="+", metavar="N",
                   help="widths of the hidden layers (" + default("hidden") + ")")
    p.add_argument("--epochs", type=int, help=default("epochs"))
    p.add_argument("--batch-size", type=int, help=default("batch_size"))
    p.add_argument("--optimizer", choices=["adam", "sgd"], default="adam", help="default: adam")
    p.add_argument("--lr", type=float, help="learning rate, the peak of the schedule "
                   "(default: 0.002 for adam, 0.1 for sgd)")
    p.add_argument("--schedule", choices=["none", *SCHEDULES], default="onecycle",
                   help="learning-rate schedule (default: onecycle)")
    p.add_argument("--dropout", type=float,
                   help="dropout rate of the hidden units (" + default("dropout") + ")")
    p.add_argument("--l2", type=float, help="L2 penalty on the weights (" + default("l2") + ")")
    p.add_argument("--shift", type=int, metavar="N", help="shift training images by up to N "
                   "pixels, 0 for none (" + default("shift") + ")")
    p.add_argument("--flip", action=argparse.BooleanOptionalAction, help="mirror half of the "
                   "training images left to right (" + default("flip") + ")")
    p.add_argument("--validation-split", type=float, default=0.0, metavar="F",
                   help="hold out this fraction of the training images to report on after "
                   "each epoch (default: 0)")
    p.add_argument("--seed", type=int, default=0, help="default: 0")
    p.add_argument("--save", metavar="PATH", help="save the trained network as .npz (not after "
                   "Ctrl-C: an interrupted run writes no file)")
    p.add_argument("--weights-png", metavar="PATH", help="draw the first-layer weights as a PNG "
                   "(not after Ctrl-C)")
    return p


def _check_writable(path: str) -> None:
    """Raise if no file could be written at path, by making one beside it and removing it."""
    temporary, f = _temporary_beside(path)
    f.close()
    os.remove(temporary)


def _write_and_say(path: str, write: Callable[[str], None], what: str) -> None:
    """write(path), then say so, and whether a file was there before."""
    replaced = os.path.lexists(path)
    write(path)
    print(f"{what} {path}" + (" (it replaced the file that was there)" if replaced else ""))


def _chain(augments: list[Callable]) -> Callable | None:
    """One augment that applies each of augments in turn, or None for none."""
    def augment(X: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        for each in augments:
            X = each(X, rng)
        return X
    return augment if augments else None


def main(argv: Sequence[str] | None = None) -> int:
    """Run the demo: train on MNIST or Fashion-MNIST, print one line per epoch, the confusion
    matrix on the test set and, last, the test accuracy. Returns the exit status: 0, 1 after an
    error, 130 after Ctrl-C (which stops training, reports the network so far, saves nothing)."""
    args = _parser().parse_args(argv)
    recipe = {key: value if getattr(args, key) is None else getattr(args, key)
              for key, value in RECIPES[args.dataset].items()}
    try:
        for flag, path in (("--save", args.save), ("--weights-png", args.weights_png)):
            if path == "":  # an unset $VARIABLE, say: not a request to write nothing
                raise ValueError(f"{flag} needs a file name; got an empty one")
            if path:
                _check_writable(path)  # before minutes of training, not after
        if args.save and args.weights_png and \
                os.path.realpath(args.save) == os.path.realpath(args.weights_png):
            raise ValueError(f"--save and --weights-png name the same file, {args.save}")
        # fit checks these too, but only after the data is loaded
        _positive_int(recipe["epochs"], "--epochs")
        _positive_int(recipe["batch_size"], "--batch-size")
        _fraction(recipe["dropout"], "--dropout")
        _non_negative(recipe["l2"], "--l2")
        _fraction(args.validation_split, "--validation-split")
        lr = args.lr if args.lr is not None else {"adam": 0.002, "sgd": 0.1}[args.optimizer]
        lr = _positive(lr, "--lr")
        augments = ([random_shift(max_shift=recipe["shift"])] if recipe["shift"] else []) + \
                   ([random_flip()] if recipe["flip"] else [])
        net = Network([784, *recipe["hidden"], 10], hidden="relu", output="softmax", seed=args.seed)
        with warnings.catch_warnings():
            warnings.showwarning = lambda message, *rest, **kw: print(f"warning: {message}",
                                                                      file=sys.stderr)
            (X, y), (X_test, y_test) = load_mnist(args.data_dir, args.dataset, not args.no_download)
        print(f"{args.dataset}: {len(X):,} training and {len(X_test):,} test images; "
              f"network {'-'.join(map(str, net.sizes))}")
        shifts = f"shifts up to {recipe['shift']} px" if recipe["shift"] else "no shifts"
        print(f"{args.optimizer}, lr {lr:g}, schedule {args.schedule}, batch {recipe['batch_size']}, "
              f"dropout {recipe['dropout']}, l2 {recipe['l2']:g}, {shifts}, "
              f"{'mirrors' if recipe['flip'] else 'no mirrors'}")
        history = net.fit(X, y, epochs=recipe["epochs"], batch_size=recipe["batch_size"],
                          optimizer=args.optimizer, lr=lr, l2=recipe["l2"],
                          dropout=recipe["dropout"], augment=_chain(augments),
                          schedule=None if args.schedule == "none" else args.schedule,
                          validation_split=args.validation_split, verbose=1)
        interrupted = len(history["time"]) < recipe["epochs"]  # fit stops early only on Ctrl-C here
        predictions = net.predict(X_test)
        print("confusion matrix on the test set (rows: true class, columns: predicted)")
        print("\n".join(_confusion_lines(y_test, predictions, CLASS_NAMES[args.dataset])))
        if interrupted:
            print(f"mlp.py: interrupted in epoch {len(history['time']) + 1}: the results are those "
                  f"of the network so far, and no file was written", file=sys.stderr)
        else:
            if args.save:
                _write_and_say(args.save, net.save, "saved the network to")
            if args.weights_png:
                png = _png(_weights_picture(net.weights[0]))
                _write_and_say(args.weights_png, lambda path: _write_whole(path, lambda f: f.write(png)),
                               "drew the first-layer weights in")
        print(f"test accuracy: {100 * np.mean(predictions == y_test):.2f}%")
    except (OSError, ValueError, TypeError, FloatingPointError, MemoryError) as e:
        print(f"mlp.py: error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("mlp.py: interrupted", file=sys.stderr)
        return 130
    return 130 if interrupted else 0


if __name__ == "__main__":
    sys.exit(main())
