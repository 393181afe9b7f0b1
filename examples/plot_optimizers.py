"""
Optimizers compared on one problem
==================================

Softmax regression on scikit-learn's digits, trained by mini-batch gradient descent with five of
the twelve optimizers, each with ``learning_rate="auto"`` (its default step, scaled for the
batch). The training objective per epoch comes from ``history_``.
"""

import matplotlib.pyplot as plt
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

import fastdescent as fd
from fastdescent.plot import loss_curves

X, y = load_digits(return_X_y=True)
X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=0)
scaler = StandardScaler().fit(X_train)
X_train, X_test = scaler.transform(X_train), scaler.transform(X_test)

models = {}
for name in ["sgd", "momentum", "adam", "rmsprop", "lion"]:
    models[name] = fd.SGDClassifier(
        loss="log_loss", multi_class="multinomial", optimizer=name, batch_size=32,
        max_iter=30, tol=None, random_state=0,
    ).fit(X_train, y_train)
    print(f"{name:<9} test accuracy {models[name].score(X_test, y_test):.3f}")

ax = loss_curves(list(models.values()), list(models))
ax.set_title("digits, multinomial log_loss, batch 32")
plt.show()
