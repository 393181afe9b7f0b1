"""
A neural network: scikit-learn's MLP, and what fastdescent adds
===============================================================

:class:`fastdescent.MLPClassifier` takes scikit-learn's parameters and, with the same
``random_state``, trains the same weights as :class:`sklearn.neural_network.MLPClassifier`
(first two curves: they coincide). Beyond scikit-learn's solvers, any of fastdescent's
optimizers and schedules train the same network: AdamW with a cosine schedule, Lion, and SGD
with Nesterov momentum and gradient clipping below. The training loss per epoch
(``loss_curve_``) and the test accuracy of each.
"""

import time
import warnings

import matplotlib.pyplot as plt
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier as SklearnMLP

import fastdescent as fd

X, y = load_digits(return_X_y=True)
X_train, X_test, y_train, y_test = train_test_split(X / 16, y, random_state=0)
common = dict(hidden_layer_sizes=(64,), max_iter=40, random_state=0)

models = {
    "scikit-learn, adam": SklearnMLP(**common),
    "fastdescent, adam (the same)": fd.MLPClassifier(**common),
    "fastdescent, adamw + cosine": fd.MLPClassifier(
        optimizer="adamw", learning_rate="cosine", learning_rate_init=0.01, **common
    ),
    "fastdescent, lion": fd.MLPClassifier(optimizer="lion", learning_rate_init=1e-3, **common),
    "fastdescent, nesterov + clip_norm": fd.MLPClassifier(
        optimizer="nesterov", learning_rate_init=0.05, clip_norm=1.0, **common
    ),
}

fig, ax = plt.subplots(figsize=(7, 4))
for name, model in models.items():
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(X_train, y_train)
    seconds = time.perf_counter() - start
    accuracy = model.score(X_test, y_test)
    print(f"{name:<36} test accuracy {accuracy:.3f}  {seconds:.2f} s")
    style = "--" if name.startswith("fastdescent, adam ") else "-"
    ax.plot(range(1, len(model.loss_curve_) + 1), model.loss_curve_, style, label=name)
ax.set_yscale("log")
ax.set_xlabel("epoch")
ax.set_ylabel("training loss")
ax.legend()
plt.show()
