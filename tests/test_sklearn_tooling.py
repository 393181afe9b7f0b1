"""The estimators inside scikit-learn's tooling: pipelines, searches, clone, persistence,
set_output and metadata routing."""

import copy
import io
import pickle

import joblib
import numpy as np
import pytest
import scipy.sparse as sp
import sklearn
from numpy.testing import assert_array_equal
from scipy.stats import loguniform, randint
from sklearn.base import clone
from sklearn.datasets import load_breast_cancer, load_iris
from sklearn.model_selection import GridSearchCV, RandomizedSearchCV, cross_validate
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler

from fastdescent import SGDClassifier, SGDRegressor
from fastdescent.callbacks import EarlyStopping, ModelCheckpoint


@pytest.fixture(scope="module")
def cancer():
    return load_breast_cancer(return_X_y=True)


def test_pipeline_with_standard_scaler(cancer):
    X, y = cancer
    pipe = make_pipeline(StandardScaler(), SGDClassifier(loss="log_loss", random_state=0))
    pipe.fit(X[:400], y[:400])
    assert pipe.score(X[400:], y[400:]) > 0.9
    # The scaler is what makes it work: raw features of very different scales are worse.
    raw = SGDClassifier(loss="log_loss", random_state=0).fit(X[:400], y[:400])
    assert pipe.score(X[400:], y[400:]) > raw.score(X[400:], y[400:])
    assert pipe[-1].history_["loss"] == pipe[-1].loss_curve_


def test_grid_search_over_optimizer_learning_rate_and_batch_size(cancer):
    X, y = cancer
    pipe = Pipeline([("scale", StandardScaler()),
                     ("sgd", SGDClassifier(loss="log_loss", max_iter=20, tol=None,
                                           random_state=0))])
    grid = {
        "sgd__optimizer": ["sgd", "adam"],
        "sgd__learning_rate": ["constant", "cosine"],
        "sgd__batch_size": [1, 32],
        "sgd__eta0": [0.01],
    }
    search = GridSearchCV(pipe, grid, cv=3).fit(X, y)
    results = search.cv_results_
    assert len(results["params"]) == 8
    assert np.all(np.isfinite(results["mean_test_score"]))
    assert np.all(results["mean_test_score"] > 0.85)
    # Different settings train different models.
    assert len(set(np.round(results["mean_test_score"], 12))) > 1
    best = search.best_params_
    assert best in results["params"]
    assert search.best_estimator_[-1].optimizer == best["sgd__optimizer"]
    assert search.score(X, y) > 0.9


def test_randomized_search(cancer):
    X, y = cancer
    pipe = make_pipeline(StandardScaler(), SGDClassifier(loss="log_loss", max_iter=15,
                                                         tol=None, random_state=0))
    dists = {
        "sgdclassifier__optimizer": ["sgd", "momentum", "adam", "rmsprop"],
        "sgdclassifier__learning_rate": ["constant", "cosine", "exponential"],
        "sgdclassifier__batch_size": randint(1, 65),
        "sgdclassifier__eta0": loguniform(1e-3, 1e-1),
    }
    search = RandomizedSearchCV(pipe, dists, n_iter=6, cv=3, random_state=0).fit(X, y)
    params = search.cv_results_["params"]
    assert len(params) == 6
    assert all(1 <= p["sgdclassifier__batch_size"] <= 64 for p in params)
    assert len({p["sgdclassifier__optimizer"] for p in params}) > 1
    assert search.best_score_ > 0.9


def test_clone_keeps_parameters_and_copies_callbacks(cancer):
    X, y = cancer
    es = EarlyStopping("loss", patience=2)
    est = SGDClassifier(optimizer="adam", batch_size=8, callbacks=[es], random_state=0)
    est.fit(StandardScaler().fit_transform(X), y)
    twin = clone(est)
    assert not hasattr(twin, "coef_")
    assert twin.get_params()["optimizer"] == "adam" and twin.batch_size == 8
    assert isinstance(twin.callbacks[0], EarlyStopping) and twin.callbacks[0] is not es
    assert twin.callbacks[0].patience == 2


@pytest.mark.parametrize("make", [
    lambda: SGDClassifier(loss="log_loss", random_state=0),
    lambda: SGDClassifier(loss="log_loss", multi_class="multinomial", batch_size=16,
                          optimizer="adam", random_state=0),
    lambda: SGDClassifier(loss="hinge", average=True, random_state=0),
    lambda: SGDRegressor(random_state=0),
])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("sparse", [False, True])
def test_pickle_and_joblib_round_trip(make, dtype, sparse):
    X, y = load_iris(return_X_y=True)
    X = StandardScaler().fit_transform(X).astype(dtype)
    if sparse:
        X = sp.csr_matrix(X)
    est = make()
    if isinstance(est, SGDRegressor):
        y = X[:, 0].toarray().ravel() * 2 if sparse else X[:, 0] * 2
        y = y + 0.1
        est.set_params(max_iter=5, tol=None)
        X = X[:, 1:]
    est.fit(X, y)
    reference = copy.deepcopy(est)
    buffer = io.BytesIO()
    joblib.dump(est, buffer)
    buffer.seek(0)
    for again in (pickle.loads(pickle.dumps(est)), joblib.load(buffer)):
        assert_array_equal(again.predict(X), est.predict(X))
        assert_array_equal(again.coef_, est.coef_)
        assert again.coef_.dtype == est.coef_.dtype
        assert again.history_ == est.history_
        if hasattr(est, "decision_function"):
            assert_array_equal(again.decision_function(X), est.decision_function(X))
        # A loaded model keeps training where the saved one was.
        resumed = copy.deepcopy(reference).partial_fit(X, y)
        assert_array_equal(again.partial_fit(X, y).coef_, resumed.coef_)


def test_set_output_pandas_in_a_pipeline(cancer):
    pd = pytest.importorskip("pandas")
    data = load_breast_cancer(as_frame=True)
    X, y = data.data, data.target
    pipe = make_pipeline(StandardScaler(), SGDClassifier(loss="log_loss", random_state=0))
    pipe.set_output(transform="pandas")
    pipe.fit(X, y)
    est = pipe[-1]
    assert list(est.feature_names_in_) == list(X.columns)
    plain = make_pipeline(StandardScaler(), SGDClassifier(loss="log_loss", random_state=0))
    plain.fit(X.to_numpy(), y.to_numpy())
    assert_array_equal(pipe.predict(X), plain.predict(X.to_numpy()))
    assert_array_equal(pipe[-1].coef_, plain[-1].coef_)
    # The scaler's output really is a DataFrame, with the names the estimator checks.
    assert isinstance(pipe[:-1].transform(X), pd.DataFrame)
    with pytest.warns(UserWarning, match="feature names"):
        est.predict(pipe[:-1].transform(X).to_numpy())


@pytest.fixture
def routing():
    with sklearn.config_context(enable_metadata_routing=True):
        yield


def test_metadata_routing_of_sample_weight(cancer, routing):
    X, y = cancer
    w = np.random.default_rng(0).uniform(0.0, 3.0, y.shape[0])
    make = lambda: SGDClassifier(loss="log_loss", max_iter=10, tol=None,  # noqa: E731
                                 random_state=0)
    pipe = make_pipeline(StandardScaler().set_fit_request(sample_weight=False),
                         make().set_fit_request(sample_weight=True)
                               .set_score_request(sample_weight=True))
    pipe.fit(X, y, sample_weight=w)
    Xs = StandardScaler().fit_transform(X)
    weighted = make().fit(Xs, y, sample_weight=w)
    unweighted = make().fit(Xs, y)
    assert_array_equal(pipe[-1].coef_, weighted.coef_)
    assert not np.array_equal(weighted.coef_, unweighted.coef_)

    # Routed through a search and cross-validation too.
    search = GridSearchCV(pipe, {"sgdclassifier__optimizer": ["sgd", "adam"]}, cv=3)
    search.fit(X, y, sample_weight=w)
    assert search.best_score_ > 0.9
    res = cross_validate(pipe, X, y, cv=3, params={"sample_weight": w})
    assert np.all(res["test_score"] > 0.85)


def test_unrequested_sample_weight_is_an_error_with_routing(cancer, routing):
    X, y = cancer
    pipe = make_pipeline(StandardScaler().set_fit_request(sample_weight=False),
                         SGDClassifier())
    with pytest.raises(ValueError, match="sample_weight"):
        pipe.fit(X, y, sample_weight=np.ones(y.shape[0]))


def test_model_checkpoint_inside_a_search_is_cloned(cancer):
    X, y = cancer
    ck = ModelCheckpoint()
    pipe = make_pipeline(StandardScaler(), SGDClassifier(max_iter=5, tol=None, callbacks=[ck]))
    search = GridSearchCV(pipe, {"sgdclassifier__alpha": [1e-4, 1e-3]}, cv=2).fit(X, y)
    # Each fit watched its own copy; the user's object stays untouched.
    assert not hasattr(ck, "best_coef_")
    refit_ck = search.best_estimator_[-1].callbacks[0]
    assert refit_ck.best_coef_.shape == search.best_estimator_[-1].coef_.shape
