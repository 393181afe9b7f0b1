"""Small sparse text problems, where a fit's fixed cost matters: fastdescent's SGDClassifier
against scikit-learn's with the same hyperparameters (one-vs-rest, one thread), hinge and
log_loss, at equal accuracy (target: at least as fast).

* tfidf: a TF-IDF-like 1,000 x 9,000 CSR matrix, about 60 nonzeros per row, 7 classes: words
  drawn from a Zipf law, each class favouring its own words, rows scaled to unit norm.
* docstrings: the docstrings of the functions and classes of installed packages (NumPy, SciPy,
  scikit-learn and four standard-library packages: the label), through HashingVectorizer
  (2^18 columns) and TF-IDF weighting.

Each problem is fitted with the defaults (tol=1e-3, so each library stops by its own rule),
with scikit-learn's number of epochs from that fit and tol=None (the same work, at equal
accuracy), and with 5 epochs and tol=None; each time is the best of ROUNDS fits, the two
libraries taking turns. Test accuracy is on a held-out quarter.

In scikit-learn's mode both libraries compute the same updates (with shuffle=False the fits
are identical; the shuffled orders differ), but with the default tol scikit-learn 1.9 stops
sparse fits sooner: its stopping objective reads the squared norm of the weights of the last
updated row's features only, where fastdescent reads the norm of all the weights.

Run:

    python benchmarks/bench_small_sparse.py
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import time
import warnings

import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction.text import HashingVectorizer, TfidfTransformer
from sklearn.linear_model import SGDClassifier as SklearnSGDClassifier
from sklearn.model_selection import train_test_split

import fastdescent as fd

ROUNDS = 15
PACKAGES = ("numpy", "scipy", "sklearn", "email", "asyncio", "unittest", "xml")


def tfidf_like(rows=1_000, cols=9_000, draws=85, classes=7, seed=0):
    """Zipf-distributed words (85 draws, about 60 distinct per row); each class draws a third
    of its words, also by a Zipf law, from its own slice of the vocabulary."""
    rng = np.random.default_rng(seed)
    y = rng.integers(classes, size=rows)

    def zipf(n):
        p = 1.0 / np.arange(1, n + 1) ** 1.1
        return p / p.sum()

    common = zipf(cols)
    own = np.array_split(rng.permutation(cols), classes)
    indptr, indices, data = [0], [], []
    for label in y:
        n_own = draws // 3
        words = np.concatenate([rng.choice(cols, draws - n_own, p=common),
                                rng.choice(own[label], n_own, p=zipf(own[label].size))])
        cols_row, counts = np.unique(words, return_counts=True)
        indices.append(cols_row)
        data.append(np.log1p(counts) * np.log(cols / (1 + cols_row)))  # tf x a rank-based idf
        indptr.append(indptr[-1] + cols_row.size)
    X = sp.csr_matrix((np.concatenate(data), np.concatenate(indices), np.array(indptr)),
                      shape=(rows, cols))
    norms = np.sqrt(np.asarray(X.multiply(X).sum(axis=1)).ravel())
    return sp.diags(1.0 / np.maximum(norms, 1e-12)) @ X, y


def docstring_corpus():
    """(texts, package index) for every function and class docstring of PACKAGES' modules
    (test modules left out)."""
    texts, labels = [], []
    for label, name in enumerate(PACKAGES):
        package = importlib.import_module(name)
        modules = [package]
        for info in pkgutil.walk_packages(package.__path__, name + "."):
            if "test" in info.name or "._" in info.name:
                continue
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    modules.append(importlib.import_module(info.name))
            except Exception:  # optional dependencies, platform-only modules
                continue
        seen = set()
        for module in modules:
            for _, obj in inspect.getmembers(module):
                doc = getattr(obj, "__doc__", None)
                if (inspect.isfunction(obj) or inspect.isclass(obj)) and doc and id(obj) not in seen:
                    if getattr(obj, "__module__", "").split(".")[0] == name and len(doc) > 80:
                        seen.add(id(obj))
                        texts.append(doc)
                        labels.append(label)
    return texts, np.array(labels)


def docstrings():
    texts, y = docstring_corpus()
    X = HashingVectorizer(n_features=2**18, alternate_sign=False, norm=None).transform(texts)
    return TfidfTransformer().fit_transform(X).tocsr(), y


def timed_fit(cls, params, X, y):
    start = time.perf_counter()
    est = cls(**params).fit(X, y)
    return time.perf_counter() - start, est


def compare(name, X, y):
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, random_state=0,
                                                        stratify=y)
    print(f"\n{name}: {X_train.shape[0]} x {X_train.shape[1]} train rows, "
          f"{X_train.nnz / X_train.shape[0]:.0f} nonzeros per row, {np.unique(y).size} classes")
    print(f"  {'loss':<9} {'epochs':<12} {'scikit-learn':>13} {'fastdescent':>12} {'speed-up':>9} "
          f"{'accuracy sk / fd':>17} {'n_iter_ sk / fd':>16}")
    for loss in ("hinge", "log_loss"):
        sk_epochs = SklearnSGDClassifier(loss=loss, random_state=0).fit(X_train, y_train).n_iter_
        for label, kw in (("default", {}),
                          (f"{sk_epochs}, tol=None", dict(max_iter=sk_epochs, tol=None)),
                          ("5, tol=None", dict(max_iter=5, tol=None))):
            params = dict(loss=loss, random_state=0, **kw)
            runs = {"sk": [], "fd": []}
            for _ in range(ROUNDS):
                for key, cls in (("sk", SklearnSGDClassifier), ("fd", fd.SGDClassifier)):
                    runs[key].append(timed_fit(cls, params, X_train, y_train))
            (t_sk, sk), (t_fd, est) = (min(runs[k], key=lambda r: r[0]) for k in ("sk", "fd"))
            print(f"  {loss:<9} {label:<12} {t_sk * 1e3:10.1f} ms {t_fd * 1e3:9.1f} ms "
                  f"{t_sk / t_fd:8.2f}x {sk.score(X_test, y_test):8.3f} / "
                  f"{est.score(X_test, y_test):.3f} {sk.n_iter_:>8} / {est.n_iter_}")


def main():
    warnings.simplefilter("ignore")
    compare("tfidf-like", *tfidf_like())
    compare("docstrings", *docstrings())


if __name__ == "__main__":
    main()
