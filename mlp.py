"""A multilayer perceptron in one file of numpy: feedforward, backpropagation, training.

Copy this file into a project, run ``python mlp.py`` to watch a network learn MNIST, or read it
top to bottom. It holds two things. Above the line ``# ===== end of the core =====`` stands the
core: these equations and the reasons they hold, the activations, the losses, the optimizers,
and the class MLP, whose forward pass, backward pass and training step compute them, with a
plain fit, predict and gradient_check. The core uses nothing below that line: the file cut
there is a whole MLP. Below it stands the machinery that makes the core a careful library:
Network, which extends MLP with checked arguments, labels, validation, early stopping,
schedules, augments, a fit that keeps whole weights whatever stops it, and save/load; then the
MNIST loader and the command line (``python mlp.py --check`` runs gradient_check on every
activation and loss).

Notation. A batch X holds n samples, one per row. The network has L layers; layer l = 1..L
has weights W^l of shape (sizes[l-1], sizes[l]) and biases b^l of shape (sizes[l],), so a
whole batch goes through a layer in one matrix product. Y holds the targets, one row per
sample; a is a row of outputs and y a row of targets when one sample is meant. "*" is the
elementwise product, "@" the matrix product, (M)^T the transpose of M, and 1 a column of ones:
1^T M is the row of the sums of M's columns (its rows added together), M 1 the column of the
sums of its rows. As in numpy, a row (b^l) or a column ((q * a^L) 1 in (4s)) is repeated to the
shape of the matrix it meets. ||W||^2 is the sum of the squares of W's entries. The code counts
layers from 0, one below the equations: weights[l] is W^(l+1), zs[l] is z^(l+1), and
activations[l] is a^l (activations[0] is X).

Forward pass, for l = 1..L:
    (1)  z^l = a^(l-1) @ W^l + b^l            a^0 = X; b^l is added to every row
    (2)  a^l = f_l(z^l)                       f_l acts on each entry (softmax: on each row)
   (2d)  a^l = f_l(z^l) * r^l / (1 - p)       dropout at rate p, on hidden layers in training
                                              only: each entry of the mask r^l is 1 with
                                              probability 1 - p, else 0
Dividing by 1 - p keeps the expected value of a^l, so a trained network predicts with every
unit and no rescaling.

The objective that training minimises, for loss(a, y), the loss of one row, and an L2 penalty
of strength lambda (the argument l2 of loss, backprop and Network.fit):
    (3)  C = 1/n sum_{i=1..n} loss(a^L_i, Y_i) + lambda/2 (||W^1||^2 + ... + ||W^L||^2)

Backward pass. delta^l = dC/dz^l is shaped like z^l, and q = loss'(a^L, Y) = dloss/da^L like a^L.
    (4)  delta^L = q * f_L'(z^L) / n                        an output f_L that acts on each entry
   (4s)  delta^L = a^L * (q - (q * a^L) 1) / n              softmax
   (4n)  delta^L = (a^L - Y) / n                            the natural pairs: softmax with
                                                            cross-entropy (each row of Y adding
                                                            up to 1, which Network checks),
                                                            sigmoid with binary cross-entropy
    (5)  delta^l = (delta^(l+1) @ (W^(l+1))^T) * f_l'(z^l)  for l = L-1..1; times r^l / (1 - p)
                                                            where dropout was applied
    (6)  dC/dW^l = (a^(l-1))^T @ delta^l + lambda W^l
    (7)  dC/db^l = 1^T delta^l                              the rows of delta^l added together

Why they hold: each is the chain rule, entry by entry, with i a row (a sample) and j, k units.
- (4): the entry z^L_ik reaches C only through a^L_ik = f_L(z^L_ik), in row i's loss, which C
  weighs by 1/n; so dC/dz^L_ik = 1/n q_ik f_L'(z^L_ik).
- (4s): softmax ties a row together. In one row i of the output layer, write a_j for a^L_ij and
  z_k for z^L_ik: a_j = e^(z_j) / sum_c e^(z_c) depends on every z_k of the row, with
  da_j/dz_k = a_j (1 - a_k) for j = k and -a_j a_k otherwise (for the row a, the matrix
  diag(a) - (a)^T a). So dC/dz_k = 1/n sum_j q_j da_j/dz_k = 1/n a_k (q_k - sum_j q_j a_j), and
  sum_j q_j a_j is row i of the column (q * a^L) 1.
- (4n): cross-entropy's q_j = -y_j / a_j, so sum_j q_j a_j = -sum_j y_j = -1 when the row of Y
  adds up to 1, and (4s) becomes a_k (-y_k / a_k + 1) / n = (a_k - y_k) / n. Binary
  cross-entropy's q = (a - y) / (a (1 - a)) meets sigmoid's f' = a (1 - a): their product is
  a - y. The fused form is also the stable one: it never divides by an output that has rounded
  to 0 or 1 (the log losses clip such an output, see below, so there C and (4n) differ a little).
- (5): z^(l+1)_ij = sum_k a^l_ik W^(l+1)_kj + b^(l+1)_j, so a^l_ik reaches C through every unit
  j of layer l+1: dC/da^l_ik = sum_j delta^(l+1)_ij W^(l+1)_kj, which is entry (i, k) of
  delta^(l+1) @ (W^(l+1))^T. Then a^l_ik = f_l(z^l_ik) (times r^l_ik / (1 - p) with dropout)
  multiplies it by f_l'(z^l_ik) (and by that same factor: a dropped unit passes back nothing).
- (6): W^l_kj enters z^l_ij of every row i, with the factor a^(l-1)_ik; adding up the rows,
  dC/dW^l_kj = sum_i a^(l-1)_ik delta^l_ij, which is entry (k, j) of (a^(l-1))^T @ delta^l.
  The penalty lambda/2 ||W^l||^2 adds its own derivative, lambda W^l.
- (7): b^l_j enters z^l_ij of every row with the factor 1: dC/db^l_j = sum_i delta^l_ij.

The update, once per batch, of every parameter theta (an entry of some W^l or b^l), with g its
gradient dC/dtheta from (6)-(7), at the learning rate eta; "<-" replaces a value, left to right:
    (8)  SGD with momentum mu and velocity u:   u <- mu u - eta g;   theta <- theta + u
         Nesterov's:                            u <- mu u - eta g;   theta <- theta + mu u - eta g
    (9)  Adam, at step t = 1, 2, ...:   m <- b1 m + (1 - b1) g;   v <- b2 v + (1 - b2) g^2;
         m_hat = m / (1 - b1^t);   v_hat = v / (1 - b2^t);   theta <- theta - eta m_hat / (sqrt(v_hat) + eps)
u, m and v start at 0 and are kept per parameter: u is SGD's velocity; m and v are Adam's
running means of g and of g^2, which forget at the rates b1 and b2 (0.9 and 0.999); eps (1e-8)
keeps the division finite. Unrolled, m = (1 - b1) sum_{s=1..t} b1^(t-s) g_s, whose weights add
up to 1 - b1^t, not 1: for a constant g, m = (1 - b1^t) g, too small in the first steps. m_hat
divides that factor out, and v_hat its like for v. Nesterov's method takes its gradient at the
look-ahead point phi = theta + mu u: u_new = mu u - eta grad C(phi), theta_new = theta + u_new.
The code keeps phi in place of theta (they start equal, since u starts at 0). Then phi moves by
phi_new - phi = (theta_new + mu u_new) - (theta + mu u) = u_new - mu u + mu u_new
= mu u_new - eta grad C(phi): the second line of (8), with g the gradient where the parameters are.

Quick start:

    import mlp
    (X, y), (X_test, y_test) = mlp.load_mnist()
    net = mlp.Network([784, 128, 128, 10], hidden="relu", output="softmax", seed=0)
    history = net.fit(X, y, epochs=10, validation_split=0.1)
    print(net.evaluate(X_test, y_test))     # {'loss': ..., 'accuracy': ...}

The core alone takes targets shaped like its output: mlp.MLP([784, 128, 10]).fit(X, np.eye(10)[y]).
"""

from __future__ import annotations

# The core needs math, collections.abc and numpy; the rest is for the machinery.
import argparse
import contextlib
import functools
import hashlib
import http.client
import inspect
import math
import os
import signal
import stat
import sys
import time
import urllib.request
import warnings
import zipfile
import zlib
from collections.abc import Callable, Sequence
from typing import IO, Any, NamedTuple, NoReturn, cast

import numpy as np

# ============================================================================ activations
# Each activation is a function f and its derivative f', both of the pre-activation z, entry by
# entry (softmax, row by row). Each returns a new array of z's dtype and leaves z as it was.

def identity(z: np.ndarray) -> np.ndarray:
    """f(z) = z, as a copy, so that a^l and z^l are never one array."""
    return z.copy()


def identity_prime(z: np.ndarray) -> np.ndarray:
    """f'(z) = 1."""
    return np.ones_like(z)


def sigmoid(z: np.ndarray) -> np.ndarray:
    """f(z) = 1 / (1 + e^-z), written (1 + tanh(z/2)) / 2: the same values, and no exp to overflow."""
    return 0.5 * (1 + np.tanh(0.5 * z))


def sigmoid_prime(z: np.ndarray) -> np.ndarray:
    """f'(z) = f(z) (1 - f(z)), taken at the pre-activation z (not at the activation f(z))."""
    s = sigmoid(z)
    return s * (1 - s)


def tanh(z: np.ndarray) -> np.ndarray:
    """f(z) = (e^z - e^-z) / (e^z + e^-z), numpy's own, which saturates without overflow."""
    return np.tanh(z)


def tanh_prime(z: np.ndarray) -> np.ndarray:
    """f'(z) = 1 - tanh(z)^2."""
    return 1 - np.tanh(z) ** 2


def relu(z: np.ndarray) -> np.ndarray:
    """f(z) = max(z, 0)."""
    return np.maximum(z, 0)


def relu_prime(z: np.ndarray) -> np.ndarray:
    """f'(z) = 1 where z > 0, else 0 (0 at the kink)."""
    return (z > 0).astype(z.dtype)


def leaky_relu(z: np.ndarray) -> np.ndarray:
    """f(z) = z for z > 0, else 0.01 z; max() picks the right one because the slope is below 1."""
    return np.maximum(z, 0.01 * z)


def leaky_relu_prime(z: np.ndarray) -> np.ndarray:
    """f'(z) = 1 where z > 0, else 0.01."""
    return np.where(z > 0, 1, 0.01).astype(z.dtype)


def elu(z: np.ndarray) -> np.ndarray:
    """f(z) = z for z > 0, else e^z - 1; exp only ever sees min(z, 0), so it cannot overflow."""
    return np.maximum(z, 0) + np.expm1(np.minimum(z, 0))


def elu_prime(z: np.ndarray) -> np.ndarray:
    """f'(z) = 1 for z > 0, else e^z: both are e^min(z, 0)."""
    return np.exp(np.minimum(z, 0))


def softmax(z: np.ndarray) -> np.ndarray:
    """f(z)_k = e^z_k / sum_j e^z_j along each row. The row's largest z is subtracted first, so
    that exp never overflows; the result is the same, since the factor e^-max cancels."""
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def softmax_prime(z: np.ndarray) -> np.ndarray:
    """Not an array like z: softmax's derivative is a matrix for each row a, diag(a) - (a)^T a,
    which the output delta (4s) takes into account."""
    raise NotImplementedError("softmax's derivative is a matrix per row: see eq. (4s)")


ACTIVATIONS = {  # name: (f, f')
    "identity": (identity, identity_prime),
    "sigmoid": (sigmoid, sigmoid_prime),
    "tanh": (tanh, tanh_prime),
    "relu": (relu, relu_prime),
    "leaky_relu": (leaky_relu, leaky_relu_prime),
    "elu": (elu, elu_prime),
    "softmax": (softmax, softmax_prime),  # the output layer's only
}
RELU_FAMILY = ("relu", "leaky_relu", "elu")  # initialised by He, the others by Glorot


# ============================================================================ losses
# Each loss gives loss(a, y) for every row of a, and its derivative loss'(a, y) = dloss/da,
# shaped like a. The log losses clip a probability to [eps_m, 1 - eps_m], with eps_m the machine
# epsilon of a's dtype (1.2e-7 in float32): where an output has rounded to 0 or 1, the loss stays
# finite and loss' below 1/eps_m, instead of growing past what the dtype holds.

def _clip(a: np.ndarray) -> np.ndarray:
    eps_m = np.finfo(a.dtype).eps
    return np.clip(a, eps_m, 1 - eps_m)


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


LOSSES = {  # name: (loss, loss')
    "cross_entropy": (cross_entropy, cross_entropy_prime),
    "binary_cross_entropy": (binary_cross_entropy, binary_cross_entropy_prime),
    "mse": (mse, mse_prime),
}
# The natural loss of each output, taken when loss=None (mse for the others): the pairs of (4n).
NATURAL_LOSS = {"softmax": "cross_entropy", "sigmoid": "binary_cross_entropy"}


# ============================================================================ the update: optimizers

class Optimizer:
    """Takes a step of gradient descent on a network's parameters, eq. (8) or (9), at a rate
    ``lr`` by default. Its state (``t``, the steps taken, and ``state``, one array shaped like
    the parameters per name in ``state_names``) starts at zero on the first step and belongs to
    the one network it steps, so it carries over from one call of fit to the next.
    """
    state_names: tuple[str, ...] = ()
    chunk = 1 << 16  # entries updated at a time: see step

    def __init__(self, lr: float) -> None:
        self.lr, self.t = lr, 0  # t: the steps taken
        self.state: list[np.ndarray] = []

    def step(self, params: np.ndarray, grads: np.ndarray, lr: float) -> None:
        """Update params, every weight and bias in one flat array, in place from grads, their
        gradient in the same places."""
        if not self.state:
            self.state = [np.zeros_like(params) for _ in self.state_names]
        self.t += 1
        # An entry's update depends on that entry alone, so it can run on a slice at a time: the
        # update's temporaries then stay small, in the CPU's cache (Adam's step over the 118,282
        # parameters of a 784-128-128-10 network: 0.89 ms in one piece, 0.15 ms in slices).
        for i in range(0, len(params), self.chunk):
            piece = slice(i, i + self.chunk)
            self._update(params[piece], grads[piece], *(s[piece] for s in self.state), lr)

    # _update(theta, g, *state, eta) updates theta, some parameters, in place, from g, their
    # gradient, given the same part of each state array (in the order of state_names) and the rate.
    _update: Callable[..., None]


class SGD(Optimizer):
    """Stochastic gradient descent with momentum, optionally Nesterov's: eq. (8)."""
    state_names = ("u",)

    def __init__(self, lr: float = 0.1, momentum: float = 0.9, nesterov: bool = False) -> None:
        super().__init__(lr)
        self.momentum, self.nesterov = momentum, nesterov

    def _update(self, theta: np.ndarray, g: np.ndarray, u: np.ndarray, eta: float) -> None:
        u *= self.momentum
        u -= eta * g                              # eq. (8): u <- mu u - eta g
        if self.nesterov:
            theta += self.momentum * u - eta * g  # eq. (8): theta <- theta + mu u - eta g
        else:
            theta += u                            # eq. (8): theta <- theta + u


class Adam(Optimizer):
    """Adam (Kingma and Ba, 2015), eq. (9): momentum on the gradient, and each parameter's step
    divided by a running root-mean-square of its gradients. fit's ``l2`` adds lambda W to the
    gradient (an L2 penalty on the objective), which Adam then rescales like the rest of it:
    this is not AdamW's decoupled weight decay."""
    state_names = ("m", "v")

    def __init__(self, lr: float = 1e-3, beta1: float = 0.9, beta2: float = 0.999, eps: float = 1e-8) -> None:
        super().__init__(lr)
        self.beta1, self.beta2, self.eps = beta1, beta2, eps

    def _update(self, theta: np.ndarray, g: np.ndarray, m: np.ndarray, v: np.ndarray,
                eta: float) -> None:
        b1, b2, t = self.beta1, self.beta2, self.t
        m *= b1
        m += (1 - b1) * g                                 # eq. (9): m <- b1 m + (1 - b1) g
        v *= b2
        v += (1 - b2) * g**2                              # eq. (9): v <- b2 v + (1 - b2) g^2
        m_hat = m / (1 - b1**t)                           # eq. (9): m_hat = m / (1 - b1^t)
        v_hat = v / (1 - b2**t)                           # eq. (9): v_hat = v / (1 - b2^t)
        theta -= eta * m_hat / (np.sqrt(v_hat) + self.eps)  # eq. (9): theta <- theta - eta m_hat / (...)


OPTIMIZERS = {"sgd": SGD, "adam": Adam}


# ============================================================================ the network

class MLP:
    """A fully connected feedforward network, trained by backpropagation: the core's.

    MLP([784, 128, 10]) takes rows of 784 inputs through a hidden layer of 128 units to 10
    outputs. ``hidden`` names the activation of every hidden layer (one name, or a list with one
    per hidden layer), ``output`` that of the output layer, ``loss`` the loss (None: the natural
    one for the output, else mse). ``seed`` fixes the initial weights, the shuffling and the
    dropout masks; ``dtype`` is "float32" or "float64". Targets Y are shaped like the output:
    one-hot rows for softmax. It checks none of its arguments: Network, below the core, does.

    weights[l], shape (sizes[l], sizes[l+1]), is W^(l+1) of the equations; biases[l], shape
    (sizes[l+1],), is b^(l+1).
    """

    def __init__(self, sizes: Sequence[int], hidden: str | Sequence[str] = "relu",
                 output: str = "softmax", loss: str | None = None, seed: int | None = None,
                 dtype: str | np.dtype = "float32") -> None:
        self.sizes, self.output, self.dtype = list(sizes), output, np.dtype(dtype)
        self.hidden = [hidden] * (len(sizes) - 2) if isinstance(hidden, str) else list(hidden)
        self.loss_name = loss or NATURAL_LOSS.get(output, "mse")
        self.rng = np.random.default_rng(seed)  # the network's own: no global random state
        self.f, self.f_prime = zip(*(ACTIVATIONS[name] for name in self.hidden + [output]))  # f_l, f_l'
        self.loss_fn, self.loss_prime = LOSSES[self.loss_name]
        # Every weight and bias lives in one flat array, params, and every gradient in another,
        # grads, at the same places: an optimizer step is then a few numpy calls over one long
        # array, not over each array in turn (a 784-128-128-10 network's Adam step: 0.16 ms
        # against 0.20). weights[l] and biases[l] are views into params, W^(l+1) and b^(l+1).
        n_params = sum(n_in * n_out + n_out for n_in, n_out in zip(self.sizes, self.sizes[1:]))
        self.params, self.grads = np.zeros(n_params, self.dtype), np.zeros(n_params, self.dtype)
        self.weights, self.biases = self._views(self.params)
        self.grad_weights, self.grad_biases = self._views(self.grads)  # shaped like weights, biases
        for l, W in enumerate(self.weights):
            # He's spread, sqrt(2 / n_in), makes up for a ReLU that zeroes about half of the
            # layer's inputs, so that z keeps its variance from layer to layer; Glorot's suits
            # activations symmetric about 0. What counts is the activation that feeds the layer;
            # the first layer, fed by the data, takes the spread its own activation wants.
            feeding = self.hidden[max(l - 1, 0)] if self.hidden else output
            n_in, n_out = W.shape
            std = math.sqrt(2 / n_in) if feeding in RELU_FAMILY else math.sqrt(2 / (n_in + n_out))
            W[...] = self.rng.standard_normal(W.shape) * std  # biases start at 0

    def _views(self, flat: np.ndarray) -> tuple[tuple[np.ndarray, ...], tuple[np.ndarray, ...]]:
        """Views into flat, shaped like the weights and like the biases, layer by layer."""
        weights, biases, start = [], [], 0
        for n_in, n_out in zip(self.sizes, self.sizes[1:]):
            weights.append(flat[start:start + n_in * n_out].reshape(n_in, n_out))
            biases.append(flat[start + n_in * n_out:start + n_in * n_out + n_out])
            start += n_in * n_out + n_out
        return tuple(weights), tuple(biases)

    def __getstate__(self) -> dict:
        """For copy.deepcopy and pickle: all but the views, which __setstate__ makes anew, so
        that a copy's weights are views into its own params."""
        views = ("weights", "biases", "grad_weights", "grad_biases")
        return {key: value for key, value in vars(self).items() if key not in views}

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self.weights, self.biases = self._views(self.params)
        self.grad_weights, self.grad_biases = self._views(self.grads)

    # ------------------------------------------------------------------ forward

    def _forward(self, X: np.ndarray, dropout: float = 0.0
                 ) -> tuple[list[np.ndarray], list[np.ndarray], list[np.ndarray]]:
        """The forward pass, eqs. (1)-(2d). Returns (zs, activations, masks): zs[l] is z^(l+1),
        activations[l] is a^l, and masks[l] is r^(l+1) / (1 - p), the factor by which dropout
        scaled hidden layer l+1 (no masks without dropout)."""
        zs, activations, masks = [], [X], []
        for l, (W, b) in enumerate(zip(self.weights, self.biases)):  # layer l+1
            z = activations[l] @ W + b                # (n, sizes[l+1]), eq. (1)
            a = self.f[l](z)                          # eq. (2)
            if dropout and l < len(self.weights) - 1:
                keep = self.rng.random(a.shape, dtype=a.dtype) >= dropout   # r^(l+1)
                mask = keep.astype(a.dtype) / (1 - dropout)
                a *= mask                             # eq. (2d)
                masks.append(mask)
            zs.append(z)
            activations.append(a)
        return zs, activations, masks

    def feedforward(self, X: np.ndarray) -> tuple[list[np.ndarray], list[np.ndarray]]:
        """Run X through the network, eqs. (1)-(2): (zs, activations), with zs[l] = z^(l+1) and
        activations[l] = a^l, so activations[0] is X and activations[-1] the output."""
        return self._forward(X)[:2]

    def _output(self, X: np.ndarray) -> np.ndarray:
        """The network's output a^L for the rows of X."""
        return self._forward(X)[1][-1]

    def loss(self, X: np.ndarray, Y: np.ndarray, l2: float = 0.0) -> float:
        """The objective C of eq. (3) on (X, Y), with lambda = l2."""
        mean_loss = float(np.mean(self.loss_fn(self._output(X), Y)))
        return mean_loss + l2 / 2 * sum(float(np.sum(W * W)) for W in self.weights)  # eq. (3)

    # ------------------------------------------------------------------ backward

    def _backward(self, zs: list[np.ndarray], activations: list[np.ndarray], masks: list[np.ndarray], Y: np.ndarray,
                  l2: float, grad_weights: Sequence[np.ndarray], grad_biases: Sequence[np.ndarray]) -> None:
        """The backward pass, eqs. (4)-(7), after the forward pass that gave zs, activations and
        masks: writes the gradient of C into grad_weights and grad_biases, shaped like weights
        and biases (in place, so that a training step allocates no gradient arrays)."""
        delta = self._output_delta(zs[-1], activations[-1], Y)             # (n, sizes[-1]): delta^L
        for l in reversed(range(len(self.weights))):  # layer l+1; delta is delta^(l+1)
            grad_W = grad_weights[l]                                       # (sizes[l], sizes[l+1])
            np.matmul(activations[l].T, delta, out=grad_W)                 # eq. (6): (a^l)^T @ delta^(l+1)
            if l2:
                grad_W += l2 * self.weights[l]                             # eq. (6): + lambda W^(l+1)
            np.sum(delta, axis=0, out=grad_biases[l])                      # (sizes[l+1],), eq. (7): 1^T delta
            if l > 0:  # no delta for the input
                delta = delta @ self.weights[l].T                          # (n, sizes[l]), eq. (5); now delta^l
                delta *= self.f_prime[l - 1](zs[l - 1])                    # eq. (5): * f_l'(z^l)
                if masks:
                    delta *= masks[l - 1]                                  # eq. (5): * r^l / (1 - p)

    def _output_delta(self, z: np.ndarray, a: np.ndarray, Y: np.ndarray) -> np.ndarray:
        """delta^L = dC/dz^L, for the mean loss over the n rows of a batch."""
        n = len(a)
        if NATURAL_LOSS.get(self.output) == self.loss_name:
            return (a - Y) / n                                       # eq. (4n)
        q = self.loss_prime(a, Y)
        if self.output == "softmax":
            return a * (q - np.sum(q * a, axis=1, keepdims=True)) / n   # (q * a) 1 is (n, 1); eq. (4s)
        return q * self.f_prime[-1](z) / n                           # eq. (4)

    def backprop(self, X: np.ndarray, Y: np.ndarray, l2: float = 0.0):
        """The gradient of loss(X, Y, l2) with respect to every weight and bias, eqs. (1)-(7):
        (grad_weights, grad_biases), lists of new arrays shaped like weights and biases."""
        grad_weights, grad_biases = self._views(np.empty_like(self.params))
        self._backward(*self._forward(X), Y, l2, grad_weights, grad_biases)
        return list(grad_weights), list(grad_biases)

    # ------------------------------------------------------------------ one training step

    def _step(self, X: np.ndarray, Y: np.ndarray, optimizer: Optimizer, lr: float,
              l2: float = 0.0, dropout: float = 0.0) -> np.ndarray:
        """One step of gradient descent on the batch (X, Y), eqs. (1)-(9). Returns the batch's
        output a^L, as the network was before the step."""
        # forward
        zs, activations, masks = self._forward(X, dropout)
        # backward
        self._backward(zs, activations, masks, Y, l2, self.grad_weights, self.grad_biases)
        # update
        optimizer.step(self.params, self.grads, lr)
        return activations[-1]

    def fit(self, X: np.ndarray, Y: np.ndarray, epochs: int = 10, batch_size: int = 64,
            optimizer: str | Optimizer = "adam", lr: float | None = None) -> dict[str, list[float]]:
        """Plain mini-batch gradient descent on C: each epoch visits the rows of X in a new
        random order, one step per batch of batch_size rows. ``optimizer`` is "sgd", "adam" or
        an SGD or Adam; ``lr`` overrides its rate. Returns {"loss": the mean loss of each
        epoch's batches, as the network was while it learned}."""
        step = OPTIMIZERS[optimizer]() if isinstance(optimizer, str) else optimizer
        history: dict[str, list[float]] = {"loss": []}
        for _ in range(epochs):
            order = self.rng.permutation(len(X))
            losses = []
            for first in range(0, len(X), batch_size):
                batch = order[first:first + batch_size]
                a = self._step(X[batch], Y[batch], step, step.lr if lr is None else lr)
                losses.append(np.mean(self.loss_fn(a, Y[batch])))
            history["loss"].append(float(np.mean(losses)))
        return history

    def predict(self, X: np.ndarray) -> np.ndarray:
        """Class labels for softmax (the most probable class), 0/1 for sigmoid, the outputs
        themselves for the others; shape (n,) for a network with one output unit."""
        a = self._output(X)
        if self.output == "softmax":
            return a.argmax(axis=1)
        labels = (a > 0.5).astype(np.int64) if self.output == "sigmoid" else a
        return labels[:, 0] if labels.shape[1] == 1 else labels


def gradient_check(net: MLP, X: np.ndarray, Y: np.ndarray, l2: float = 0.0,
                   h: float = 1e-6) -> list[tuple[float, float]]:
    """Check backprop against central differences, (C(theta + h) - C(theta - h)) / 2h, one
    parameter at a time. Returns, for each layer, the largest relative error of its weights and
    of its biases: the largest difference over the largest entry of either gradient. Use a
    float64 network: in float32, rounding swamps the differences. Below about 1e-6 is right;
    a wrong derivative gives 1e-2 or more."""
    grads = net.backprop(X, Y, l2)
    errors = []
    for theta, g in zip(net.weights + net.biases, grads[0] + grads[1]):
        numeric = np.zeros_like(theta)
        for i in np.ndindex(theta.shape):
            saved = theta[i]
            theta[i] = saved + h
            plus = net.loss(X, Y, l2)
            theta[i] = saved - h
            numeric[i] = (plus - net.loss(X, Y, l2)) / (2 * h)
            theta[i] = saved
        errors.append(float(np.abs(g - numeric).max() / max(np.abs(g).max(), np.abs(numeric).max(), 1e-300)))
    return list(zip(errors[:len(net.weights)], errors[len(net.weights):]))


# ===== end of the core =====

# ============================================================================ the machinery
# Everything below makes the core a careful library, and none of it changes the math above.
# Public methods check their arguments and compute through the core's private methods.

__all__ = ["ACTIVATIONS", "CLASS_NAMES", "LOSSES", "MLP", "SGD", "Adam", "Network",
           "gradient_check", "load_mnist", "main", "random_shift"]

# ---------------------------------------------------------------- every argument, checked once

class Interval(NamedTuple):
    """The numbers of one kind (int, float, or bool for True and False) in a range written as in
    mathematics: "[0, 1)" holds 0 and not 1."""
    kind: type
    range: str

    def holds(self, x: Any) -> bool:
        low, high = (float(end) for end in self.range[1:-1].split(","))
        return (low <= x if self.range[0] == "[" else low < x) and (x <= high if self.range[-1] == "]" else x < high)

    def __str__(self) -> str:
        return {bool: "True or False", int: f"an integer in {self.range}", float: f"a number in {self.range}"}[self.kind]


# What each argument of the public API may be, declared once and read by _check alone: an
# Interval, a set of names, callable (any function) or a class (an instance of it). None is
# allowed wherever it is the argument's default.
ARGUMENTS: dict[str, tuple[Any, ...]] = {
    **dict.fromkeys(["width", "epochs", "batch_size", "early_stopping"], (Interval(int, "[1, inf)"),)),
    **dict.fromkeys(["seed", "max_shift"], (Interval(int, "[0, inf)"),)),
    "shift": (Interval(int, "[0, 27]"),),  # --shift, of 28 x 28 images
    **dict.fromkeys(["lr", "eps"], (Interval(float, "(0, inf)"),)),
    **dict.fromkeys(["l2", "factor"], (Interval(float, "[0, inf)"),)),  # factor: a schedule's value
    **dict.fromkeys(["dropout", "validation_split", "momentum", "beta1", "beta2"], (Interval(float, "[0, 1)"),)),
    **dict.fromkeys(["shuffle", "verbose", "nesterov", "download"], (Interval(bool, "[0, 1]"),)),
    "activation": (set(ACTIVATIONS) - {"softmax"},), "output": (set(ACTIVATIONS),),  # activation: each hidden's
    "loss": (set(LOSSES),), "float": ({"float32", "float64"},),  # float: dtype's name
    "optimizer": (set(OPTIMIZERS), Optimizer), "schedule": ({"cosine", "onecycle"}, callable), "augment": (callable,),
}
_KINDS = {int: (int, np.integer), float: (int, float, np.integer, np.floating), bool: (bool, np.bool_, int, np.integer)}


def _check(name: str, value: Any, label: str = "") -> Any:
    """value, if ARGUMENTS[name] allows it (numbers as Python's own), else a TypeError (no
    allowed kind) or ValueError (the right kind, but not allowed) naming label, by default name."""
    right_kind = False
    for rule in ARGUMENTS[name]:
        if isinstance(rule, Interval):
            of_kind = isinstance(value, _KINDS[rule.kind]) and (rule.kind is bool or not isinstance(value, (bool, np.bool_)))
            if of_kind and rule.holds(value):
                return rule.kind(value)
        else:  # names, a function or a class
            of_kind = isinstance(value, str) if isinstance(rule, set) else callable(value) if rule is callable else \
                isinstance(value, rule)
            if of_kind and (not isinstance(rule, set) or value in rule):
                return value
        right_kind = right_kind or of_kind
    allowed = " or ".join(str(rule) if isinstance(rule, Interval) else "a function" if rule is callable else
                          f"an {rule.__name__} such as mlp.Adam()" if isinstance(rule, type) else
                          "one of " + ", ".join(map(repr, sorted(rule))) for rule in ARGUMENTS[name])
    raise (ValueError if right_kind else TypeError)(f"{label or name} must be {allowed}; got {value!r}")


def _checked(function: Callable) -> Any:
    """function, with each argument that ARGUMENTS names checked before it runs, and run with
    numpy's floating-point warnings off: the machinery checks for itself what is not finite."""
    signature = inspect.signature(function)

    @functools.wraps(function)
    def checked(*args, **kwargs):
        bound = signature.bind(*args, **kwargs)
        for name, value in bound.arguments.items():
            if name in ARGUMENTS and not (value is None and signature.parameters[name].default is None):
                bound.arguments[name] = _check(name, value)
        with np.errstate(all="ignore"):
            return function(*bound.args, **bound.kwargs)
    return checked


# ---------------------------------------------------------------- Network: the core, made careful

def cosine(progress: float) -> float:
    """Learning-rate factor falling from 1 to 0 along half a cosine, as progress goes 0 to 1."""
    return 0.5 * (1 + math.cos(math.pi * progress))


def onecycle(progress: float, warmup: float = 0.25) -> float:
    """Learning-rate factor rising from 0 to 1 over the first quarter, then cosine down to 0."""
    return progress / warmup if progress < warmup else cosine((progress - warmup) / (1 - warmup))


SCHEDULES = {"cosine": cosine, "onecycle": onecycle}


class Network(MLP):
    """A fully connected feedforward network, trained by backpropagation: the core's MLP, with
    every argument checked, labels for targets, and the training loop of a careful library.

    Network([784, 128, 10]) takes rows of 784 inputs through one hidden layer of 128 units to
    10 outputs. ``hidden`` names the activation of every hidden layer (one name, or a list with
    one per hidden layer), ``output`` that of the output layer, and ``loss`` the loss (None:
    the natural one for the output, else mse). ``seed`` fixes the initial weights, the
    shuffling, the dropout masks and the rows validation_split holds out; ``dtype`` is
    "float32" or "float64".

    Attributes: ``sizes``, ``hidden`` (one name per hidden layer), ``output``, ``loss_name``,
    ``dtype``, ``history`` (of the last call of fit) and the parameters ``weights`` and
    ``biases``: weights[l] has shape (sizes[l], sizes[l+1]) and biases[l] shape (sizes[l+1],).
    They are views into ``params``, every parameter in one flat array, so they are changed in
    place: ``net.weights[0][...] = W``.

    Targets y: for softmax, integer labels (n,) or one-hot rows (n, k); for sigmoid, 0/1 values
    (n,) for one unit or (n, k) for k independent units; for the other outputs, real values
    (n,) for one unit or (n, k).
    """

    @_checked
    def __init__(self, sizes: Sequence[int], hidden: str | Sequence[str] = "relu", output: str = "softmax",
                 loss: str | None = None, seed: int | None = None, dtype: str | np.dtype = "float32") -> None:
        if not isinstance(sizes, (list, tuple, np.ndarray)) or len(sizes) < 2:
            kind = ValueError if isinstance(sizes, (list, tuple, np.ndarray)) else TypeError
            raise kind(f"sizes must be a list of 2 or more layer widths, like [784, 128, 10]; got {sizes!r}")
        sizes = [_check("width", n, "every entry of sizes") for n in sizes]
        names = [hidden] * (len(sizes) - 2) if isinstance(hidden, str) else hidden
        if not isinstance(names, (list, tuple)) or len(names) != len(sizes) - 2:
            kind = ValueError if isinstance(names, (list, tuple)) else TypeError
            raise kind(f"hidden must be an activation name or a list of {len(sizes) - 2}; got {hidden!r}")
        names = [_check("activation", name, "hidden") for name in names]
        if output == "softmax" and sizes[-1] < 2:
            raise ValueError("a softmax output needs 2 units or more; for one yes/no unit use 'sigmoid'")
        if loss not in (None, "mse") and output not in NATURAL_LOSS:
            raise ValueError(f"loss={loss!r} needs probabilities: output='softmax' or 'sigmoid', not {output!r}")
        dtype = getattr(dtype, "name", getattr(dtype, "__name__", dtype))  # a dtype, a type, a name
        super().__init__(sizes, names, output, loss, seed, _check("float", dtype, "dtype"))
        self.history: dict[str, list[float]] = {}
        self._split_seed = cast(int, np.random.SeedSequence(seed).entropy)  # see _split

    # ------------------------------------------------------------------ the study methods, checked

    @_checked
    def feedforward(self, X: Any) -> tuple[list[np.ndarray], list[np.ndarray]]:
        """Run X through the network, eqs. (1)-(2): (zs, activations), with zs[l] = z^(l+1) and
        activations[l] = a^l, so activations[0] is X and activations[-1] the output."""
        return super().feedforward(self._inputs(X))

    @_checked
    def loss(self, X: Any, y: Any, l2: float = 0.0) -> float:
        """The objective (3) that fit minimises: the mean loss over the rows of X, plus l2/2
        times the sum of the squared weights (not the biases)."""
        return super().loss(*self._data(X, y), l2)

    @_checked
    def backprop(self, X: Any, y: Any, l2: float = 0.0):
        """The gradient of loss(X, y, l2) with respect to every weight and bias, eqs. (1)-(7):
        (grad_weights, grad_biases), new lists shaped like weights and biases. It runs the
        same _forward and _backward as each training step of fit (without dropout)."""
        return super().backprop(*self._data(X, y), l2)

    # ------------------------------------------------------------------ training: epochs

    @_checked
    def fit(self, X: Any, y: Any, epochs: int = 10, batch_size: int = 64, optimizer: str | Optimizer = "adam",
            lr: float | None = None, l2: float = 0.0, dropout: float = 0.0,
            schedule: str | Callable[[float], float] | None = None,
            augment: Callable[[np.ndarray, np.random.Generator], np.ndarray] | None = None,
            validation_data: tuple[Any, Any] | None = None, validation_split: float = 0.0,
            early_stopping: int | None = None, shuffle: bool = True, verbose: int = 1) -> dict[str, list[float]]:
        """Train by mini-batch gradient descent on the objective (3).

        Each epoch visits the training rows once, in a new random order (shuffle=True), one
        training step per batch of ``batch_size`` rows (the last batch may be smaller).

        optimizer: "sgd", "adam", or an SGD or Adam, whose state then carries over from one call
            of fit to the next. ``lr`` overrides its learning rate for this call.
        l2: lambda of eq. (3), an L2 penalty in the objective and so in the gradient (with
            Adam this is not AdamW's decoupled weight decay). dropout: the rate p of eq. (2d).
        schedule: None (a constant rate), "cosine", "onecycle" (warm-up, then cosine), or a
            function of progress in [0, 1] giving the factor on the rate of each step.
        augment: a function (X_batch, rng) -> X_batch applied to every training batch (never
            to validation data), e.g. mlp.random_shift(). The caller's X is never changed.
        validation_data=(X_val, y_val), or validation_split: the fraction of the rows held out
            from training, to be scored after each epoch: rows chosen at random, the same ones
            in every call of fit on this network with as many rows.
        early_stopping: stop when the validation loss has not improved for this many epochs,
            and restore the weights of the best epoch.
        verbose: 1 prints a line per epoch, 0 prints nothing.

        Returns the history, also kept as net.history: per-epoch lists "loss", "accuracy"
        (classifiers), "val_loss", "val_accuracy" (with validation data) and "time"
        (seconds). The training figures are those of the batches' outputs, as the network was
        while it learned. Each epoch is all or nothing: whatever stops one (Ctrl-C, an
        exception from an augment or a schedule) leaves the weights, and the optimizer's
        state, as the last whole epoch left them, then propagates; a loss or weights that turn
        NaN or inf do the same with a FloatingPointError. A call refused for its arguments
        changes nothing, not even the random state.
        """
        x, Y = self._data(X, y)
        train, validation = self._split(x, Y, validation_data, validation_split)
        if early_stopping and validation is None:
            raise ValueError("early_stopping needs validation_data or a validation_split to watch")
        optimizer = self._optimizer(optimizer)  # checked, then bound to this network: the last check
        lr = optimizer.lr if lr is None else lr
        factor = SCHEDULES[schedule] if isinstance(schedule, str) else schedule or (lambda _: 1.0)
        steps = math.ceil(len(train) / batch_size)

        def rate(step: int) -> float:
            """The learning rate of a step, at the progress of its middle through the run."""
            return lr * _check("factor", factor((step + 0.5) / (epochs * steps)), "the schedule's value")

        names = ["loss", "accuracy"] if self.output in NATURAL_LOSS else ["loss"]
        self.history = {name: [] for name in names + ["val_" + n for n in names if validation] + ["time"]}
        best = (math.inf, 0, self.params.copy())  # validation loss, epoch, parameters
        for epoch in range(1, epochs + 1):
            start = time.perf_counter()
            with self._whole(optimizer):
                order = self.rng.permutation(train) if shuffle else train
                scores = self._epoch(x, Y, order, batch_size, optimizer, rate, (epoch - 1) * steps, l2, dropout,
                                     augment)
                if not (math.isfinite(scores["loss"]) and _finite(self.params)):
                    raise FloatingPointError(f"training diverged in epoch {epoch}: the loss or the weights overflowed; "
                                             f"try a smaller learning rate than {lr:g}, or scale the data")
                if validation:
                    val_scores = self._score(self._output(validation[0], "X_val"), validation[1]).items()
                    scores.update({"val_" + name: value for name, value in val_scores})
                scores["time"] = time.perf_counter() - start
                if verbose:
                    print(_epoch_line(epoch, epochs, scores, len(train)), flush=True)
                self.history = {name: values + [scores[name]] for name, values in self.history.items()}
            if early_stopping and scores["val_loss"] < best[0]:
                best = (scores["val_loss"], epoch, self.params.copy())
            elif early_stopping and epoch - best[1] >= early_stopping:
                break
        if early_stopping and best[1] < epoch:
            with self._whole(optimizer):
                self.params[...] = best[2]
            if verbose:
                print(f"early stopping: restored the weights of epoch {best[1]} (validation loss {best[0]:.4f})")
        return self.history

    @contextlib.contextmanager
    def _whole(self, optimizer: Optimizer):
        """A block that is all or nothing: whatever escapes it (Ctrl-C, a divergence, an
        exception from a caller's augment, schedule or print) finds the weights, the optimizer's
        state, the history and the random state as they were when it began."""
        saved = (self.params.copy(), optimizer.t, [s.copy() for s in optimizer.state], self.history,
                 self.rng.bit_generator.state)
        try:
            yield
        except BaseException:  # even a Ctrl-C as the block ends, when the history is already written
            self.params[...], optimizer.t, optimizer.state, self.history, self.rng.bit_generator.state = saved
            raise

    def _optimizer(self, optimizer: str | Optimizer) -> Optimizer:
        """optimizer as an Optimizer with its settings checked, bound to this network (its state
        is shaped like this network's parameters)."""
        chosen = OPTIMIZERS[optimizer]() if isinstance(optimizer, str) else optimizer
        for name in ARGUMENTS.keys() & vars(chosen):
            _check(name, vars(chosen)[name], f"the {type(chosen).__name__}'s {name}")
        if vars(chosen).setdefault("_params", self.params) is not self.params:  # the machinery's own attribute
            raise ValueError("this optimizer holds another network's state; make one per network")
        return chosen

    def _epoch(self, x: np.ndarray, Y: np.ndarray, order: np.ndarray, batch_size: int, optimizer: Optimizer,
               rate: Callable[[int], float], first_step: int, l2: float, dropout: float,
               augment: Callable | None) -> dict[str, float]:
        """One pass over the rows of x in the given order, a training step per batch, the
        run's steps first_step, first_step + 1, ..., each at the rate rate(step). Returns the
        loss and accuracy of the batches' outputs."""
        outputs = np.empty((len(order), self.sizes[-1]), self.dtype)  # scored once, at the end
        for i, row in enumerate(range(0, len(order), batch_size)):
            batch = order[row:row + batch_size]
            x_batch = x.take(batch, axis=0)  # x[batch], with less overhead
            if augment is not None:
                x_batch = augment(x_batch, self.rng)
                if getattr(x_batch, "shape", None) != (len(batch), x.shape[1]):
                    raise ValueError(f"augment must return an array shaped like its batch, {(len(batch), x.shape[1])}")
            outputs[row:row + len(batch)] = self._step(x_batch, Y.take(batch, axis=0), optimizer,
                                                       rate(first_step + i), l2, dropout)
        # A speed device that changes eq. (8)-(9) a little: once an epoch, the optimizer's state
        # entries below the smallest normal float (1.2e-38 in float32) become 0. The moments of
        # a weight whose gradient stays 0 (fed by a pixel that is almost always blank) decay
        # into these subnormal floats and stick there, and x86 CPUs are slow at them (4% of
        # Adam's m subnormal made a step 10% slower). What a zeroed entry would still have moved
        # its weight, over all later steps, is below 1.2e-38 eta / (eps (1 - b1)) with Adam
        # and 1.2e-38 / (1 - mu) with SGD.
        for s in optimizer.state:
            s[np.abs(s) < np.finfo(s.dtype).tiny] = 0
        return self._score(outputs, Y.take(order, axis=0))

    def _split(self, x: np.ndarray, Y: np.ndarray, validation_data: Any, validation_split: float):
        """The indices of the training rows, and the validation (x, Y), or None."""
        if validation_data is not None and validation_split:
            raise ValueError("give validation_data or validation_split, not both")
        if validation_data is not None:
            if not isinstance(validation_data, (tuple, list)) or len(validation_data) != 2:
                raise TypeError(f"validation_data must be a pair (X_val, y_val); got {validation_data!r}")
            return np.arange(len(x)), self._data(validation_data[0], validation_data[1], ("X_val", "y_val"))
        n_val = round(len(x) * validation_split)
        if validation_split and not 0 < n_val < len(x):
            raise ValueError(f"validation_split={validation_split} leaves no rows of {len(x)} to one side")
        # At random, since the last rows may be sorted, but the same rows in every call of fit
        # on this network with as many rows: drawn from its seed, not from its random state.
        order = np.random.default_rng([self._split_seed, len(x)]).permutation(len(x))
        return np.sort(order[n_val:]), (x[order[:n_val]], Y[order[:n_val]]) if n_val else None

    # ------------------------------------------------------------------ using the network

    @_checked
    def predict(self, X: Any) -> np.ndarray:
        """Class labels (n,) for softmax; 0/1 for sigmoid; the outputs for the others; shape
        (n,) for one output unit and (n, k) for k."""
        return super().predict(self._inputs(X))

    @_checked
    def predict_proba(self, X: Any) -> np.ndarray:
        """The output activations a^L, one row per sample: probabilities for softmax and
        sigmoid outputs, raw values for the others."""
        return self._output(self._inputs(X))

    @_checked
    def evaluate(self, X: Any, y: Any) -> dict[str, float]:
        """{"loss": the mean loss over the rows, without the l2 term, "accuracy": the fraction
        of rows predicted right} (accuracy only for softmax and sigmoid outputs)."""
        x, Y = self._data(X, y)
        return self._score(self._output(x), Y)

    def _output(self, X: np.ndarray, name: str = "X", chunk: int = 4096) -> np.ndarray:
        """The output for every row of X, a chunk of rows at a time to bound the memory it
        takes; an output that is not finite is a ValueError that names X."""
        a = np.concatenate([super(Network, self)._output(X[i:i + chunk]) for i in range(0, len(X), chunk)])
        if not _finite(a):
            sizes = f"inputs up to {np.abs(X).max():.3g} and weights up to {np.abs(self.params).max():.3g}"
            raise ValueError(f"the network's output for {name} is not finite in {self.dtype.name}: {sizes}")
        return a

    def _score(self, a: np.ndarray, Y: np.ndarray) -> dict[str, float]:
        """The mean loss (without the l2 term) of outputs a against targets Y and, for a
        classifier, the accuracy: the fraction of rows whose class (softmax) or whose every 0/1
        output (sigmoid) is right."""
        scores = {"loss": float(np.mean(self.loss_fn(a, Y)))}
        if self.output in NATURAL_LOSS:  # a classifier
            right = a.argmax(axis=1) == Y.argmax(axis=1) if self.output == "softmax" else (a > 0.5) == (Y > 0.5)
            scores["accuracy"] = float(np.mean(np.all(right.reshape(len(a), -1), axis=1)))
        return scores

    # ------------------------------------------------------------------ checking the data

    def _inputs(self, X: Any, name: str = "X") -> np.ndarray:
        """X as a 2-D array of this network's dtype, after checking it; never a changed copy."""
        x = _array(X, self.dtype, name)
        if x.ndim != 2 or len(x) == 0 or x.shape[1] != self.sizes[0]:
            raise ValueError(f"{name} must be 2-D, one or more rows of sizes[0] = {self.sizes[0]} columns; got {x.shape}")
        return x

    def _targets(self, y: Any, n: int, name: str = "y") -> np.ndarray:
        """y as the target matrix Y, (n, sizes[-1]) in this network's dtype, after checking it."""
        y, k = _array(y, self.dtype, name), self.sizes[-1]
        if y.ndim not in (1, 2) or len(y) != n:
            raise ValueError(f"{name} must be 1-D or 2-D with a row for each of X's {n}; got shape {y.shape}")
        if self.output == "softmax" and y.ndim == 1:
            wrong = (y != np.round(y)) | (y < 0) | (y >= k)
            if wrong.any():
                raise ValueError(f"{name} holds the label {y[wrong][0]:g}, outside the classes 0..{k - 1}")
            Y = np.zeros((n, k), self.dtype)
            Y[np.arange(n), y.astype(np.intp)] = 1  # one-hot rows
            return Y
        Y = y.reshape(n, -1)
        if Y.shape[1] != k:
            raise ValueError(f"{name} has shape {y.shape}, not a column for each of the {k} output units")
        if self.loss_name != "mse" and (Y.min() < 0 or Y.max() > 1):
            raise ValueError(f"{name} must hold values in [0, 1] for {self.loss_name}")
        if self.output == "softmax" and np.any(np.abs(Y.sum(axis=1) - 1) > 1e-3):
            raise ValueError(f"every row of one-hot {name} must add up to 1")
        return Y

    def _data(self, X: Any, y: Any, names: tuple[str, str] = ("X", "y")) -> tuple[np.ndarray, np.ndarray]:
        x = self._inputs(X, names[0])
        return x, self._targets(y, len(x), names[1])

    # ------------------------------------------------------------------ saving

    @_checked
    def save(self, path: str | os.PathLike) -> None:
        """Write the architecture and the parameters to an .npz file at exactly ``path``: the
        layer sizes, the activation and loss names, and the weights and biases in this network's
        dtype, as plain arrays (no pickle); not the optimizer's state or the random state. The
        file is written whole or not at all, and replaces only a model file (see _write). The
        parameters are one flat array, params, as in the network: W^1, b^1, W^2, b^2, ..."""
        if not _finite(self.params):
            raise ValueError("the weights hold NaN or inf: not saved, since load would refuse them")
        arrays: dict[str, Any] = {"sizes": self.sizes, "hidden": self.hidden, "output": self.output, "loss": self.loss_name,
                                  "params": self.params}  # np.savez makes each an array
        _write(path, lambda f: np.savez(f, **arrays), _is_model, "a model saved by Network.save")

    @classmethod
    def load(cls, path: str | os.PathLike) -> Network:
        """Read a network written by save. A file that does not hold one raises ValueError;
        one that cannot be read, the OSError that says why.

        It never unpickles, and accepts only what save writes: a zip archive of a few arrays
        (a central directory of 1,000 bytes at most), stored uncompressed, each holding exactly
        the bytes its header declares, together no more than the file holds, all of it read
        before the network is made. So no file costs more memory than a few times its own size,
        or more time than reading it.
        """
        # non-blocking, so that a FIFO is not waited on
        with open(path, "rb", opener=lambda name, flags: os.open(name, flags | getattr(os, "O_NONBLOCK", 0))) as f:
            try:
                arrays = _arrays(f)
                sizes, params = arrays["sizes"].tolist(), arrays["params"]
                n_params = sum(sizes[l] * sizes[l + 1] + sizes[l + 1] for l in range(len(sizes) - 1))
                if set(arrays) != {"sizes", "hidden", "output", "loss", "params"} or params.shape != (n_params,) \
                        or not _finite(params):
                    raise ValueError(f"its arrays {sorted(arrays)} do not make a finite network of sizes {sizes}")
                net = cls(sizes, arrays["hidden"].tolist(), str(arrays["output"]), str(arrays["loss"]),
                          dtype=params.dtype.newbyteorder("="))  # which checks the rest
            except (ValueError, TypeError, KeyError, EOFError, RuntimeError, zipfile.BadZipFile) as e:
                raise ValueError(f"{os.fsdecode(path)} is not a model saved by Network.save: {e}") from None
        net.params[...] = params
        return net


def _arrays(f: IO[bytes]) -> dict[str, np.ndarray]:
    """The arrays in the open model file f, by name, read only if f is a regular file, an
    archive of a few members, each stored (not compressed, as save writes it) and
    holding exactly the bytes its header declares: so no header makes load allocate more
    than the file holds. Never unpickled."""
    info = os.fstat(f.fileno())
    if not stat.S_ISREG(info.st_mode):  # /dev/zero would never end
        raise ValueError("it is not a regular file")
    f.seek(max(info.st_size - 22, 0))
    end = f.read(22)  # the end record, where save's files have it, gives the size of the directory
    if end[:4] != b"PK\x05\x06" or int.from_bytes(end[12:16], "little") > 1000:  # a directory of a few members
        raise ValueError("it is not a zip archive of a few arrays")
    arrays = {}
    with zipfile.ZipFile(f) as archive:
        if sum(member.file_size for member in archive.infolist()) > info.st_size:  # overlapping members
            raise ValueError("its members declare more bytes than the file holds")
        for member in archive.infolist():
            if member.compress_type != zipfile.ZIP_STORED:
                raise ValueError(f"{member.filename} is compressed, which save never does")
            with archive.open(member) as npy:
                read_header = {(1, 0): np.lib.format.read_array_header_1_0,
                               (2, 0): np.lib.format.read_array_header_2_0}[np.lib.format.read_magic(npy)]
                shape, _, dtype = read_header(npy)
                too_long = dtype.kind == "U" and dtype.itemsize > 4 * 64  # a name of over 64 characters
                if too_long or npy.tell() + math.prod(shape) * dtype.itemsize != member.file_size:
                    raise ValueError(f"{member.filename} does not hold the {shape} of {dtype} it declares")
            with archive.open(member) as npy:
                arrays[member.filename.removesuffix(".npy")] = np.lib.format.read_array(npy, allow_pickle=False)
    return arrays


def _finite(a: np.ndarray) -> bool:
    """Whether a holds no NaN or inf. NaN and inf carry through a sum, so one pass over a, with
    no temporary the size of a, settles it; only a sum that overflows needs a second look."""
    with np.errstate(over="ignore", invalid="ignore"):
        return bool(np.isfinite(np.sum(a)) or np.isfinite(a.min()) and np.isfinite(a.max()))


def _array(value: Any, dtype: np.dtype, name: str) -> np.ndarray:
    """value as an array of dtype (value itself if it is one), after checking that it holds
    numbers and no NaN or inf, before or after the cast: 1e39 is a finite float64 but inf in
    float32."""
    try:
        a = np.asarray(value)
    except ValueError:  # numpy 1.24 and later: rows of different lengths
        raise ValueError(f"{name} must be a rectangular array of numbers; its rows differ in length") from None
    if a.dtype.kind not in "biuf":  # numpy 1.23 makes an object array of rows that differ in length
        raise TypeError(f"{name} must be a rectangular array of numbers; got dtype {a.dtype}")
    with np.errstate(over="ignore"):  # reported below, more clearly
        cast = a.astype(dtype, copy=False)
    if not _finite(cast):
        raise ValueError(f"{name} holds values too large for {dtype.name}: scale them, or use dtype='float64'"
                         if _finite(a) else f"{name} contains NaN or inf")
    return cast


def _epoch_line(epoch: int, epochs: int, scores: dict[str, float], rows: int) -> str:
    """One line of fit's progress report."""
    figures = [f"{k} {100 * v:.2f}%" if "accuracy" in k else f"{k} {v:.4f}" for k, v in scores.items() if k != "time"]
    return "  ".join([f"epoch {epoch}/{epochs}", *figures, f"{scores['time']:.1f}s  {rows / scores['time']:,.0f} samples/s"])


# ---------------------------------------------------------------- writing a file

def _write(path: str | os.PathLike, write: Callable | None, same_kind: Callable[[str], bool], kind: str) -> None:
    """Write a file at path whole or not at all: write(f) fills a new file beside it, which
    then takes its place in one rename, keeping the permission bits of the file it replaces.
    Refuses to replace anything but a regular file of the same kind (same_kind(path)), or one
    the user could not write. With write=None, only checks that the file could be written."""
    path = os.fsdecode(path)
    if not path:
        raise ValueError("the path to write to is empty")
    info = os.lstat(path) if os.path.lexists(path) else None
    if info and not (stat.S_ISREG(info.st_mode) and same_kind(path)):
        raise ValueError(f"{path} exists and is not {kind}: refusing to replace it")
    if info and not (os.access(path, os.W_OK) and info.st_mode & 0o222):
        raise PermissionError(f"{path} is read-only: refusing to replace it")
    # A short name, so that any name fits beside it, and a random one, so that it is not planted.
    temporary = os.path.join(os.path.dirname(path), f".{os.urandom(6).hex()}.part")
    try:
        with open(temporary, "xb") as f:  # x: made here, never through a link
            if write is None:
                return
            write(f)
        if info:
            os.chmod(temporary, stat.S_IMODE(info.st_mode))
        os.replace(temporary, path)
    except OSError as e:
        if e.filename in (temporary, None):  # name the file meant, not the temporary (or nothing: a full disk)
            raise type(e)(f"cannot write {path}: {e.strerror}") from None
        raise
    finally:
        if os.path.lexists(temporary):
            os.remove(temporary)


def _is_model(path: str) -> bool:
    try:
        Network.load(path)
    except (OSError, ValueError):
        return False
    return True


def _is_png(path: str) -> bool:
    with open(path, "rb") as f:
        return f.read(8) == PNG_SIGNATURE


# ============================================================================ MNIST data

@_checked
def random_shift(shape: tuple[int, int] = (28, 28), max_shift: int = 1) -> Callable:
    """An augment for fit: move each image of a batch by up to max_shift pixels up or down and
    left or right, independently and at random, filling the uncovered border with zeros.
    shape is (height, width) of the images stored in each row of X."""
    if not isinstance(shape, (tuple, list)) or len(shape) != 2:
        raise TypeError(f"shape must be (height, width); got {shape!r}")
    height, width = (_check("width", n, "shape") for n in shape)
    if max_shift >= min(height, width):
        raise ValueError(f"max_shift must be below the images' sides, {height} x {width}; got {max_shift}")
    moves = 2 * max_shift + 1

    def shift(X: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        if X.ndim != 2 or X.shape[1] != height * width:
            raise ValueError(f"random_shift needs rows of {height} x {width} pixels; got X of shape {X.shape}")
        # Each image is cropped from a blank frame max_shift pixels wide around it, at a random place.
        framed = np.pad(X.reshape(-1, height, width), ((0, 0), (max_shift, max_shift), (max_shift, max_shift)))
        moved = np.empty((len(X), height, width), X.dtype)
        dy, dx = rng.integers(0, moves, size=(2, len(X)))
        for oy in range(moves):  # one slice copy per distinct move, at most moves^2, not one per image
            for ox in range(moves):
                rows = np.flatnonzero((dy == oy) & (dx == ox))
                moved[rows] = framed[rows, oy:oy + height, ox:ox + width]
        return moved.reshape(X.shape)

    return shift


CLASS_NAMES = {
    "mnist": tuple("0123456789"),
    "fashion": ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"),
}
MIRRORS = {
    "mnist": ["https://ossci-datasets.s3.amazonaws.com/mnist/", "https://storage.googleapis.com/cvdf-datasets/mnist/",
              "http://yann.lecun.com/exdb/mnist/"],
    "fashion": ["https://storage.googleapis.com/tensorflow/tf-keras-datasets/",
                "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
                "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/"],
}
# Published SHA-256 of each .gz file, and of the IDX file inside it: the second also holds for a
# copy that was recompressed (as Debian's packages are, and those of ../shared here) or is kept
# uncompressed.
SHA256 = {
    "mnist/train-images-idx3-ubyte.gz": "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
    "mnist/train-labels-idx1-ubyte.gz": "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
    "mnist/t10k-images-idx3-ubyte.gz": "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
    "mnist/t10k-labels-idx1-ubyte.gz": "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
    "mnist/train-images-idx3-ubyte": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
    "mnist/train-labels-idx1-ubyte": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
    "mnist/t10k-images-idx3-ubyte": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    "mnist/t10k-labels-idx1-ubyte": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
    "fashion/train-images-idx3-ubyte.gz": "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84",
    "fashion/train-labels-idx1-ubyte.gz": "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845",
    "fashion/t10k-images-idx3-ubyte.gz": "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073",
    "fashion/t10k-labels-idx1-ubyte.gz": "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5",
    "fashion/train-images-idx3-ubyte": "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
    "fashion/train-labels-idx1-ubyte": "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
    "fashion/t10k-images-idx3-ubyte": "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
    "fashion/t10k-labels-idx1-ubyte": "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
}
# An IDX file is a big-endian header, the magic number (2051 for images, 28 x 28 unsigned bytes
# each; 2049 for labels) and the count of items, then a byte per pixel or label. IDX_BYTES: the
# size of each published one, which no file, on disk or downloaded, is read or unzipped past.
IDX_BYTES = {"train-images-idx3-ubyte": 16 + 60_000 * 784, "train-labels-idx1-ubyte": 8 + 60_000,
             "t10k-images-idx3-ubyte": 16 + 10_000 * 784, "t10k-labels-idx1-ubyte": 8 + 10_000}
# The limits of one download; a mirror that breaks one is left for the next.
DOWNLOAD_BYTES = 30_000_000  # the largest published .gz (Fashion's train-images) has 26.4 MB
READ_TIMEOUT = 30.0          # seconds that one read from a mirror may wait
DOWNLOAD_DEADLINE = 600.0    # seconds for one file, across all mirrors: 26 MB at 45 kB/s


@_checked
def load_mnist(dataset: str = "mnist", *, data_dir: str | os.PathLike | None = None,
               download: bool = True) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """MNIST digits (dataset="mnist") or Fashion-MNIST (dataset="fashion"), as
    ((X_train, y_train), (X_test, y_test)): X float32 in [0, 1] of shape (n, 784), y int64 in
    0-9; class k is called CLASS_NAMES[dataset][k].

    The four IDX files are looked for in data_dir (default: $MLP_DATA, else
    ~/.cache/mlp/<dataset>), gzipped or not, spelled train-images-idx3-ubyte or
    train-images.idx3-ubyte; files found there are used without any network access. Missing
    ones are downloaded (unless download=False) from the mirrors in MIRRORS, each checked
    against its published SHA-256 before it is decompressed, and kept in data_dir.
    """
    folder, source = _data_folder(dataset, data_dir)
    if os.path.exists(folder) and not os.path.isdir(folder):
        raise NotADirectoryError(f"{source} {folder} is a file, not a folder for the IDX files")
    paths = {name: _find_idx(folder, name) for name in IDX_BYTES}
    missing = [name + ".gz" for name, path in paths.items() if path is None]
    if missing and not download:
        raise FileNotFoundError(f"{', '.join(missing)} not in {folder}, and download is off")
    made = missing and not os.path.isdir(folder)
    try:
        if missing:  # a folder that cannot be made or written fails before any download
            os.makedirs(folder, exist_ok=True)
            _write(os.path.join(folder, missing[0]), None, lambda path: False, "a download")
        arrays = [_read_idx(path, name, dataset, source) if path else _download(name, folder, dataset)
                  for name, path in paths.items()]
    except BaseException:
        if made and os.path.isdir(folder) and not os.listdir(folder):  # no empty folder left behind
            os.rmdir(folder)
        raise
    if len(arrays[0]) != len(arrays[1]) or len(arrays[2]) != len(arrays[3]):
        raise ValueError(f"the files of {folder} disagree: {[len(a) for a in arrays]} images and labels")
    X_train, X_test = (images.reshape(-1, 784) / np.float32(255) for images in arrays[0::2])
    return (X_train, arrays[1].astype(np.int64)), (X_test, arrays[3].astype(np.int64))


def _data_folder(dataset: str, data_dir: Any) -> tuple[str, str]:
    """The folder of the dataset's files, and what named it (data_dir, $MLP_DATA or neither)."""
    if dataset not in MIRRORS:
        raise ValueError(f"dataset must be 'mnist' or 'fashion'; got {dataset!r} (a folder goes in data_dir=)")
    if data_dir is not None:
        if not os.fsdecode(data_dir):
            raise ValueError("data_dir is empty; pass None for the default folder")
        return os.path.expanduser(os.fsdecode(data_dir)), "data_dir"
    if os.environ.get("MLP_DATA"):
        return os.path.expanduser(os.environ["MLP_DATA"]), "$MLP_DATA"
    if not os.path.isabs(os.path.expanduser("~")):  # no $HOME and no passwd entry: not "./~"
        raise OSError("no home folder for the default data folder: pass data_dir or set $MLP_DATA")
    return os.path.join(os.path.expanduser("~"), ".cache", "mlp", dataset), "the data folder"


def _find_idx(folder: str, name: str) -> str | None:
    """The path of IDX file `name` in folder, in any of its usual spellings, or None."""
    dotted = name.replace("-idx", ".idx")  # train-images.idx3-ubyte
    return next((os.path.join(folder, spelling) for spelling in (name + ".gz", name, dotted + ".gz", dotted)
                 if os.path.isfile(os.path.join(folder, spelling))), None)


def _read_idx(path: str, name: str, dataset: str, source: str) -> np.ndarray:
    """The array in the IDX file `name` at path; a warning if it is not the published one."""
    with open(path, "rb") as f:
        data = f.read(IDX_BYTES[name] + 1)
    try:
        array, checksums = _parse_idx(data, name)
    except (ValueError, zlib.error) as e:
        raise ValueError(f"{path}: {e}. Delete it to have it downloaded again") from None
    published = {key.split("/")[0] for key, value in SHA256.items() if value in checksums}
    if published - {dataset}:  # both datasets' files have the same names
        raise ValueError(f"{path} is the published {published.pop()} file, not the {dataset} one; give each dataset "
                         f"its own folder ({source} names one)")
    if not published:
        warnings.warn(f"{path} is not the published {dataset} file (its checksum differs); using it because its "
                      f"IDX header and size are valid", stacklevel=2)
    return array


def _parse_idx(data: bytes, name: str) -> tuple[np.ndarray, set[str]]:
    """The array in IDX file `name`, from its bytes, gzipped or not, and the SHA-256 of the file
    and of the IDX file inside it, to compare with the published ones."""
    payload = data
    if data[:2] == b"\x1f\x8b":  # gzip's signature, whatever the file name says; a bomb stops at the limit
        payload = zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(data, IDX_BYTES[name] + 1)
    kind, magic, header = ("images", 2051, 16) if "images" in name else ("labels", 2049, 8)
    found, *dims = np.frombuffer(payload[:header].ljust(header, b"\0"), ">u4").tolist()
    if found != magic or dims[1:] not in ([], [28, 28]) or len(payload) - header != math.prod(dims):
        raise ValueError(f"not an IDX file of {kind} (magic number {found}, sizes {dims}, "
                         f"{len(payload) - header} bytes of data)")
    array = np.frombuffer(payload, np.uint8, offset=header).reshape(dims)
    if kind == "labels" and array.max(initial=0) > 9:  # both datasets have ten classes
        raise ValueError(f"labels must be 0-9; found {array.max()} at index {array.argmax()}")
    return array, {hashlib.sha256(data).hexdigest(), hashlib.sha256(payload).hexdigest()}


def _download(name: str, folder: str, dataset: str) -> np.ndarray:
    """Fetch name + ".gz" from the first mirror that serves the published file, keep it in
    folder, and return its array. Any failure moves on to the next mirror; nothing is
    decompressed before its checksum is verified, and only a verified file is written."""
    filename, deadline, failures = name + ".gz", time.monotonic() + DOWNLOAD_DEADLINE, []
    for url in (mirror + name + ".gz" for mirror in MIRRORS[dataset]):
        try:
            data = _fetch(url, deadline)
            if hashlib.sha256(data).hexdigest() != SHA256[f"{dataset}/{filename}"]:
                raise ValueError("not the published file (checksum differs)")
            array, _ = _parse_idx(data, name)
            break
        # Network, HTTP and time-out errors are OSErrors; a garbled or cut reply, HTTPException.
        except (OSError, ValueError, zlib.error, http.client.HTTPException) as e:
            failures.append(f"{url}: {str(e) or type(e).__name__}")
    else:
        raise OSError(f"could not download {filename}: {'; '.join(failures)}. Put the four .gz files in {folder} "
                      f"by hand, or point data_dir (--data-dir) to a folder that has them")
    _write(os.path.join(folder, filename), lambda f: f.write(data), lambda path: False, "a download")
    return array


def _fetch(url: str, deadline: float) -> bytes:
    """The body at url, within the limits above, with a percentage on stderr if it is a terminal."""
    request = urllib.request.Request(url, headers={"User-Agent": "mlp.py (numpy MLP)"})
    with urllib.request.urlopen(request, timeout=max(min(READ_TIMEOUT, deadline - time.monotonic()), 0.1)) as reply:
        total, data = int(reply.headers.get("Content-Length") or 0), bytearray()
        # read1 returns what one read of the socket brings, so that a server trickling bytes
        # meets the deadline: a file takes at most one READ_TIMEOUT longer.
        while max(total, len(data)) <= DOWNLOAD_BYTES and (chunk := reply.read1(1 << 16)):
            data += chunk
            if time.monotonic() > deadline:
                raise TimeoutError(f"not done after {DOWNLOAD_DEADLINE:g} s ({len(data):,} bytes received)")
            if total and sys.stderr.isatty():
                print(f"\rdownloading {url}: {100 * len(data) // total}%", end="\n" * (len(data) >= total), file=sys.stderr)
    if max(total, len(data)) > DOWNLOAD_BYTES or len(data) < total:
        raise ValueError(f"{len(data):,} bytes, where {total:,} were announced and no published file has "
                         f"more than {DOWNLOAD_BYTES:,}")
    return bytes(data)


# ============================================================================ command line

# The demo's recipe for each dataset, chosen on a held-out tenth of the training images (the
# README says how); each entry can be overridden by its flag.
RECIPES = {
    "mnist": {"hidden": [512, 512], "epochs": 20, "batch_size": 128, "dropout": 0.2, "l2": 0.0, "shift": 1},
    "fashion": {"hidden": [512, 512], "epochs": 30, "batch_size": 128, "dropout": 0.3, "l2": 0.0, "shift": 0},
}
DEFAULT_LR = {"adam": 0.002, "sgd": 0.1}
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        """Report a bad flag in one line, without the usage text."""
        self.exit(2, f"{self.prog}: error: {message} (see python mlp.py --help)\n")


def _parser() -> argparse.ArgumentParser:
    def default(key: str) -> str:
        return "default: " + ", ".join(f"{recipe[key]} for {dataset}" for dataset, recipe in RECIPES.items())

    p = _Parser(prog="mlp.py", description="Train a multilayer perceptron on MNIST (or Fashion-MNIST), downloading "
                "it on first use, and report its test accuracy. Each dataset has its recipe; the flags override it.")
    p.add_argument("--check", action="store_true", help="check backprop against finite differences and stop")
    p.add_argument("--dataset", choices=sorted(MIRRORS), default="mnist", help="default: mnist")
    p.add_argument("--data-dir", metavar="DIR", help="the IDX files' folder (default: $MLP_DATA or ~/.cache/mlp/...)")
    p.add_argument("--no-download", action="store_true", help="fail rather than download missing files")
    p.add_argument("--hidden", type=int, nargs="+", metavar="N", help=f"hidden layer widths ({default('hidden')})")
    p.add_argument("--epochs", type=int, help=default("epochs"))
    p.add_argument("--batch-size", type=int, help=default("batch_size"))
    p.add_argument("--optimizer", choices=sorted(DEFAULT_LR), default="adam", help="default: adam")
    p.add_argument("--lr", type=float, help=f"peak learning rate (default by optimizer: {DEFAULT_LR})")
    p.add_argument("--schedule", choices=["none", *SCHEDULES], default="onecycle", help="default: onecycle")
    p.add_argument("--dropout", type=float, help=f"dropout rate of the hidden units ({default('dropout')})")
    p.add_argument("--l2", type=float, help=f"L2 penalty on the weights ({default('l2')})")
    p.add_argument("--shift", type=int, metavar="N", help=f"shift images by up to N pixels ({default('shift')})")
    p.add_argument("--seed", type=int, default=0, help="default: 0")
    p.add_argument("--save", metavar="PATH", help="save the trained network as .npz")
    p.add_argument("--weights-png", metavar="PATH", help="draw the first-layer weights as a PNG")
    return p


def _settings(args: argparse.Namespace) -> dict[str, Any]:
    """The recipe of args.dataset with the flags that override it, every value checked, and
    the output files checked to be writable, before any data is loaded: an error names its flag."""
    settings: dict[str, Any] = {key: value if getattr(args, key) is None else getattr(args, key)
                                for key, value in [*RECIPES[args.dataset].items(), ("seed", 0),
                                                   ("lr", DEFAULT_LR[args.optimizer])]}
    for key in ("epochs", "batch_size", "lr", "dropout", "l2", "shift", "seed"):
        _check(key, settings[key], "--" + key.replace("_", "-"))
    for width in settings["hidden"]:
        _check("width", width, "--hidden")
    for flag, path, same_kind in (("--save", args.save, _is_model), ("--weights-png", args.weights_png, _is_png)):
        try:
            if path is not None:  # before minutes of training, not after
                _write(path, None, same_kind, "a model" if flag == "--save" else "a PNG")
        except (OSError, ValueError) as e:
            raise type(e)(f"{flag}: {e}") from None
    if args.save and args.weights_png and os.path.realpath(args.save) == os.path.realpath(args.weights_png):
        raise ValueError(f"--save and --weights-png name the same file, {args.save}")
    return settings


def main(argv: Sequence[str] | None = None) -> int:
    """Run the demo: train on MNIST or Fashion-MNIST, print one line per epoch, the confusion
    matrix on the test set and, last, the test accuracy. Returns the exit status: 0, 1 after an
    error, 130 after Ctrl-C (which stops training, reports the network as the last whole epoch
    left it, and writes no file)."""
    args = _parser().parse_args(argv)
    if args.check:
        return _gradient_table()
    try:
        s = _settings(args)
        net = Network([784, *s["hidden"], 10], hidden="relu", output="softmax", seed=s["seed"])
        (X, y), (X_test, y_test) = load_mnist(args.dataset, data_dir=args.data_dir, download=not args.no_download)
        print(f"{args.dataset}: {len(X):,} training and {len(X_test):,} test images; network {net.sizes}, {args.optimizer} "
              f"{s['lr']:g} {args.schedule}, batch {s['batch_size']}, dropout {s['dropout']}, l2 {s['l2']:g}, shift {s['shift']}")
        with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C: the network of the last whole epoch, reported
            net.fit(X, y, s["epochs"], s["batch_size"], args.optimizer, s["lr"], s["l2"], s["dropout"],
                    None if args.schedule == "none" else args.schedule,
                    random_shift(max_shift=s["shift"]) if s["shift"] else None)
        interrupted = len(net.history.get("time", [])) < s["epochs"]  # only Ctrl-C stops it early here
        predictions = net.predict(X_test)
        print("\n".join(_confusion_lines(y_test, predictions, CLASS_NAMES[args.dataset])))
        if interrupted:
            print(f"mlp.py: interrupted: the results are those of the network after epoch "
                  f"{len(net.history.get('time', []))}, and no file was written", file=sys.stderr)
        else:
            _write_outputs(net, args.save, args.weights_png)
        print(f"test accuracy: {100 * np.mean(predictions == y_test):.2f}%")
    except KeyboardInterrupt:
        print("mlp.py: interrupted", file=sys.stderr)
        return 130
    except (OSError, ValueError, TypeError, FloatingPointError, MemoryError) as e:
        print(f"mlp.py: error: {e}", file=sys.stderr)
        return 1
    return 130 if interrupted else 0


def _write_outputs(net: Network, save: str | None, weights_png: str | None) -> None:
    """Write the files that --save and --weights-png ask for, and say so."""
    if save:
        net.save(save)
        print(f"saved the network to {save!r}")
    if weights_png:
        png = _png(_weights_picture(net.weights[0]))
        _write(weights_png, lambda f: f.write(png), _is_png, "a PNG")
        print(f"drew the first-layer weights in {weights_png!r}")


def _confusion_lines(labels: np.ndarray, predictions: np.ndarray, names: Sequence[str]) -> list[str]:
    """The confusion matrix as text: row i, column j counts the samples of class i predicted as
    class j. Rows are labelled by number and name (the digits of MNIST need no name)."""
    k = len(names)
    counts = np.bincount(labels * k + predictions, minlength=k * k).reshape(k, k)
    longest = max(len(name) for name in names)
    rows = [f"{i:5d}" + ("" if name == str(i) else f" {name:<{longest}}") for i, name in enumerate(names)]
    return (["confusion matrix on the test set (rows: true class, columns: predicted)",
             " " * len(rows[0]) + "".join(f"{j:6d}" for j in range(k))]
            + [row + "".join(f"{c:6d}" for c in counts[i]) for i, row in enumerate(rows)])


def _png(pixels: np.ndarray) -> bytes:
    """An 8-bit grayscale PNG of a 2-D uint8 array, built with zlib alone."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return len(data).to_bytes(4, "big") + kind + data + zlib.crc32(kind + data).to_bytes(4, "big")

    height, width = pixels.shape
    rows = np.hstack([np.zeros((height, 1), np.uint8), pixels])  # filter type 0 before each row
    header = width.to_bytes(4, "big") + height.to_bytes(4, "big") + bytes([8, 0, 0, 0, 0])  # 8-bit gray
    return PNG_SIGNATURE + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows.tobytes(), 9)) + chunk(b"IEND", b"")


def _weights_picture(W: np.ndarray, side: int = 28) -> np.ndarray:
    """The first-layer weights as a grid of side x side images, one per hidden unit, each scaled
    to its own range (mid-gray is 0) and framed by black pixels."""
    units, columns = W.shape[1], math.ceil(math.sqrt(W.shape[1]))
    picture = np.zeros((math.ceil(units / columns) * (side + 1) + 1, columns * (side + 1) + 1), np.uint8)
    scale = np.abs(W).max(axis=0)
    tiles = (127.5 + 127.5 * W / np.where(scale > 0, scale, 1)).round().astype(np.uint8).T.reshape(units, side, side)
    for unit, tile in enumerate(tiles):
        top, left = 1 + (unit // columns) * (side + 1), 1 + (unit % columns) * (side + 1)
        picture[top:top + side, left:left + side] = tile
    return picture


def _gradient_table() -> int:
    """python mlp.py --check: gradient_check on a small float64 network with every hidden
    activation in it, for every output and loss; prints a table and returns 0 if every error
    is below 1e-6, else 1."""
    hidden, rng, worst = [name for name in ACTIVATIONS if name != "softmax"], np.random.default_rng(0), 0.0
    print(f"{'output':<12}{'loss':<22}{'weights':>9}{'biases':>9}  (largest relative errors; hidden: {hidden})")
    for output, loss in [(out, "mse") for out in ACTIVATIONS] + [(out, loss) for out in NATURAL_LOSS for loss in LOSSES
                                                                   if loss != "mse"]:
        net = Network([3] + [4] * len(hidden) + [3], hidden, output, loss, seed=0, dtype="float64")
        Y = np.eye(3)[rng.integers(0, 3, 5)] if output == "softmax" else rng.integers(0, 2, (5, 3))
        errors = np.array(gradient_check(net, rng.standard_normal((5, 3)), Y, l2=0.1)).max(axis=0)
        worst = max(worst, errors.max())
        print(f"{output:<12}{loss:<22}{errors[0]:9.1e}{errors[1]:9.1e}")
    print("every error is below 1e-6: backprop is the gradient" if worst <= 1e-6 else "FAILED: an error above 1e-6")
    return int(worst > 1e-6)


if __name__ == "__main__":
    if hasattr(signal, "SIGPIPE"):  # a reader that stops (| head) ends the run, as for other tools
        signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    sys.exit(main())
