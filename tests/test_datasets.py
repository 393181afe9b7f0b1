"""fastdescent against scikit-learn's SGD on the real data sets in ../shared/data.

Each test skips (through the data_dir fixture) when the folder is absent. The test score of
fastdescent, averaged over a few fixed random_state values, must be at least scikit-learn's
(same hyperparameters, same seeds) minus 0.01, and above a floor a broken trainer cannot reach.
"""

import functools
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
import sklearn.linear_model as sklm
from sklearn.datasets import load_svmlight_file
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

from fastdescent import SGDClassifier, SGDRegressor


def _mean_scores(est_cls, params, seeds, X_tr, y_tr, X_te, y_te):
    scores = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        for seed in seeds:
            est = est_cls(random_state=seed, **params).fit(X_tr, y_tr)
            scores.append(est.score(X_te, y_te))
    return float(np.mean(scores)), scores


# Loaders are cached so that each file is read once per session; the fixtures go through
# conftest's data_dir, which skips when ../shared/data is absent.


def _folder(data_dir, name):
    folder = Path(data_dir) / name
    if not folder.is_dir():
        pytest.skip(f"{folder} not found")
    return folder


@pytest.fixture
def higgs(data_dir):
    return _load_higgs(_folder(data_dir, "higgs_subset"))


@pytest.fixture
def california(data_dir):
    return _load_california(_folder(data_dir, "california_housing"))


@pytest.fixture
def a9a(data_dir):
    return _load_a9a(_folder(data_dir, "a9a"))


@functools.cache
def _load_higgs(folder):
    train = np.loadtxt(folder / "binary.train")
    test = np.loadtxt(folder / "binary.test")
    assert train.shape == (7000, 29) and test.shape == (500, 29)
    # The data set comes with its own train / test split; standardize on the train part.
    scaler = StandardScaler().fit(train[:, 1:])
    return scaler.transform(train[:, 1:]), train[:, 0], scaler.transform(test[:, 1:]), test[:, 0]


@functools.cache
def _load_california(folder):
    df = pd.read_csv(folder / "housing.csv").drop(columns=["ocean_proximity"]).dropna()
    assert df.shape == (20640 - 207, 9)
    y = df.pop("median_house_value").to_numpy()
    X_tr, X_te, y_tr, y_te = train_test_split(df.to_numpy(), y, test_size=0.3, random_state=0)
    scaler = StandardScaler().fit(X_tr)
    return scaler.transform(X_tr), y_tr, scaler.transform(X_te), y_te


@functools.cache
def _load_a9a(folder):
    X_tr, y_tr = load_svmlight_file(str(folder / "a9a"), n_features=123)
    X_te, y_te = load_svmlight_file(str(folder / "a9a.t"), n_features=123)
    return X_tr, y_tr, X_te, y_te


# SGD on HIGGS is noisy (one seed can move the accuracy by 0.03), hence five seeds.
@pytest.mark.parametrize("params", [{}, {"loss": "log_loss"}], ids=["hinge", "log_loss"])
def test_higgs_not_worse_than_sklearn(higgs, params):
    X_tr, y_tr, X_te, y_te = higgs
    seeds = range(5)
    ours, our_scores = _mean_scores(SGDClassifier, params, seeds, X_tr, y_tr, X_te, y_te)
    theirs, their_scores = _mean_scores(sklm.SGDClassifier, params, seeds, X_tr, y_tr, X_te, y_te)
    assert ours >= theirs - 0.01, (our_scores, their_scores)
    assert ours > 0.58, our_scores  # the majority class alone gives 0.544


def test_higgs_batch_modes(higgs):
    X_tr, y_tr, X_te, y_te = higgs
    mini, scores = _mean_scores(SGDClassifier, {"loss": "log_loss", "batch_size": 32},
                                range(2), X_tr, y_tr, X_te, y_te)
    assert mini > 0.6, scores
    full = SGDClassifier(loss="log_loss", batch_size="full", learning_rate="constant", eta0=0.5,
                         max_iter=300, tol=None).fit(X_tr, y_tr)
    assert full.score(X_te, y_te) > 0.62


def test_california_housing_not_worse_than_sklearn(california):
    X_tr, y_tr, X_te, y_te = california
    seeds = range(3)
    ours, our_scores = _mean_scores(SGDRegressor, {}, seeds, X_tr, y_tr, X_te, y_te)
    theirs, their_scores = _mean_scores(sklm.SGDRegressor, {}, seeds, X_tr, y_tr, X_te, y_te)
    assert ours >= theirs - 0.01, (our_scores, their_scores)
    assert ours > 0.6, our_scores  # ordinary least squares reaches 0.64


def test_california_housing_float32_and_full_batch(california):
    X_tr, y_tr, X_te, y_te = california
    reg = SGDRegressor(random_state=0).fit(X_tr.astype(np.float32), y_tr)
    assert reg.coef_.dtype == np.float32
    assert reg.score(X_te, y_te) > 0.6
    full = SGDRegressor(batch_size="full", learning_rate="constant", eta0=0.3, max_iter=1000,
                        tol=None).fit(X_tr, y_tr / 1e5)
    assert full.score(X_te, y_te / 1e5) > 0.6


def test_a9a_sparse_not_worse_than_sklearn(a9a):
    X_tr, y_tr, X_te, y_te = a9a
    # scikit-learn's SGD accepts only 32-bit sparse indices; fastdescent takes either.
    assert X_tr.indices.dtype == np.int64 or X_tr.indptr.dtype == np.int64

    def to32(X):
        return sp.csr_matrix(
            (X.data, X.indices.astype(np.int32), X.indptr.astype(np.int32)), shape=X.shape
        )

    seeds = range(3)
    ours, our_scores = _mean_scores(SGDClassifier, {}, seeds, X_tr, y_tr, X_te, y_te)
    theirs, their_scores = _mean_scores(
        sklm.SGDClassifier, {}, seeds, to32(X_tr), y_tr, to32(X_te), y_te
    )
    assert ours >= theirs - 0.01, (our_scores, their_scores)
    assert ours > 0.83, our_scores  # the majority class alone gives 0.76
    ours32 = SGDClassifier(random_state=0).fit(to32(X_tr), y_tr)
    ours64 = SGDClassifier(random_state=0).fit(X_tr, y_tr)
    np.testing.assert_allclose(ours32.coef_, ours64.coef_, rtol=1e-12)
