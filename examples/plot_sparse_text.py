"""
Sparse text classification
==========================

Which library does a docstring come from? The corpus is built offline from the docstrings of
the installed NumPy, SciPy and scikit-learn, hashed into a sparse matrix of 2**18 columns
(CSR, never densified), and classified by a linear model trained on the sparse rows.
"""

import inspect

import matplotlib.pyplot as plt
import numpy as np
import scipy.linalg
import scipy.optimize
import scipy.signal
import scipy.stats
import sklearn.linear_model
import sklearn.metrics
import sklearn.preprocessing
from sklearn.feature_extraction.text import HashingVectorizer
from sklearn.model_selection import train_test_split

import fastdescent as fd


def docstrings(*modules):
    seen = set()
    for module in modules:
        for _, obj in inspect.getmembers(module):
            doc = inspect.getdoc(obj)
            if doc and len(doc) > 200 and doc not in seen:
                seen.add(doc)
                yield doc


sources = {
    "numpy": [np, np.linalg, np.random],
    "scipy": [scipy.linalg, scipy.optimize, scipy.signal, scipy.stats],
    "scikit-learn": [sklearn.linear_model, sklearn.metrics, sklearn.preprocessing],
}
texts, labels = [], []
for label, modules in sources.items():
    for doc in docstrings(*modules):
        texts.append(doc)
        labels.append(label)
X = HashingVectorizer(n_features=2**18, alternate_sign=False).transform(texts)
y = np.array(labels)
X_train, X_test, y_train, y_test = train_test_split(X, y, stratify=y, random_state=0)
print(f"{X.shape[0]} docstrings, {X.shape[1]:,} columns, {X.nnz:,} stored entries")

scores = {}
for name, model in {
    "per-sample SGD (scikit-learn's algorithm)": fd.SGDClassifier(random_state=0),
    "multinomial, mini-batch Adam": fd.SGDClassifier(
        loss="log_loss", multi_class="multinomial", optimizer="adam", batch_size=32,
        sparse_updates="lazy", random_state=0,
    ),
}.items():
    scores[name] = model.fit(X_train, y_train).score(X_test, y_test)
    print(f"{name}: test accuracy {scores[name]:.3f}")

fig, ax = plt.subplots()
ax.barh(list(scores), list(scores.values()))
ax.set_xlim(0, 1)
ax.set_xlabel("test accuracy")
fig.tight_layout()
plt.show()
