"""ONNX export (fastdescent.onnx registers skl2onnx converters): onnxruntime's labels,
probabilities, scores and predictions equal the estimators' on dense input, float32 to 1e-5
relative, float64 to 1e-10, for binary, one-vs-rest and multinomial classifiers, the regressor,
and a pipeline."""

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import fastdescent as fd

pytest.importorskip("skl2onnx", reason="the onnx extra is not installed")
rt = pytest.importorskip("onnxruntime", reason="the onnx extra is not installed")
fo = pytest.importorskip("fastdescent.onnx")

TOL = {np.float32: dict(rtol=1e-5, atol=1e-6), np.float64: dict(rtol=1e-10, atol=1e-12)}


def _run(onx, X):
    session = rt.InferenceSession(onx.SerializeToString(), providers=["CPUExecutionProvider"])
    return session.run(None, {session.get_inputs()[0].name: X})


def _data(dtype, n_classes):
    rng = np.random.default_rng(0)
    X = (3 * rng.standard_normal((400, 8)) + 1).astype(dtype)
    if n_classes == 0:
        return X, X @ rng.standard_normal(8) + 2
    y = (X[:, 0] > 1).astype(int)
    if n_classes == 3:
        y += X[:, 1] > 1
    return X, np.array(["ant", "bee", "cat"])[y] if n_classes == 3 else y


CLASSIFIERS = [
    ("hinge-binary", dict(), 2),
    ("log-binary", dict(loss="log_loss"), 2),
    ("log-ovr", dict(loss="log_loss"), 3),
    ("hinge-ovr-adam", dict(optimizer="adam", batch_size=16), 3),
    ("multinomial", dict(loss="log_loss", multi_class="multinomial"), 3),
    ("multinomial-full-batch", dict(loss="log_loss", multi_class="multinomial",
                                    batch_size="full"), 3),
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name, params, n_classes", CLASSIFIERS, ids=[c[0] for c in CLASSIFIERS])
def test_classifier_matches_onnxruntime(name, params, n_classes, dtype):
    X, y = _data(dtype, n_classes)
    est = fd.SGDClassifier(random_state=0, **params).fit(StandardScaler().fit_transform(X), y)
    X = StandardScaler().fit_transform(X).astype(dtype)
    labels, scores = _run(fo.to_onnx(est, X[:1], options={"zipmap": False}), X)
    assert_array_equal(labels, est.predict(X))
    if hasattr(est, "predict_proba"):
        assert_allclose(scores, est.predict_proba(X), **TOL[dtype])
    else:  # hinge: the decision function, as two columns (-s, s) for a binary model
        expected = est.decision_function(X)
        if expected.ndim == 1:
            expected = np.column_stack([-expected, expected])
        assert_allclose(scores, expected, **TOL[dtype])


@pytest.mark.parametrize("loss", ["squared_error", "quantile", "poisson", "gamma"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_regressor_matches_onnxruntime(dtype, loss):
    X, y = _data(dtype, 0)
    if loss in ("poisson", "gamma"):  # the log link: predictions are exp(score)
        y = np.exp(0.3 * (y - y.mean()) / y.std()) + (loss == "gamma")
    est = fd.SGDRegressor(loss=loss, random_state=0, optimizer="adam", batch_size=32).fit(X, y)
    (pred,) = _run(fo.to_onnx(est, X[:1]), X)
    assert_allclose(pred.ravel(), est.predict(X), **TOL[dtype])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_one_class_svm_matches_onnxruntime(dtype):
    """scikit-learn's graph for its SGDOneClassSVM: labels (+1 / -1) and the decision."""
    X, _ = _data(dtype, 0)
    est = fd.SGDOneClassSVM(nu=0.2, random_state=0).fit(X)
    labels, scores = _run(fo.to_onnx(est, X[:1]), X)
    assert_allclose(scores.ravel(), est.decision_function(X), **TOL[dtype])
    np.testing.assert_array_equal(labels.ravel(), est.predict(X))


def test_pipeline_converts_through_skl2onnx():
    from skl2onnx import to_onnx

    X, y = _data(np.float32, 3)
    pipe = make_pipeline(StandardScaler(), fd.SGDClassifier(loss="log_loss", random_state=0))
    pipe.fit(X, y)
    labels, proba = _run(to_onnx(pipe, X[:1], options={"zipmap": False}), X)
    assert_array_equal(labels, pipe.predict(X))
    assert_allclose(proba, pipe.predict_proba(X), rtol=1e-4, atol=1e-6)


def test_sparsified_model_asks_for_densify():
    X, y = _data(np.float32, 2)
    est = fd.SGDClassifier(random_state=0).fit(X, y).sparsify()
    with pytest.raises(ValueError, match="call densify"):
        fo.to_onnx(est, X[:1])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n_classes", [2, 3])
def test_mlp_classifier_matches_onnxruntime(dtype, n_classes):
    X, y = _data(dtype, n_classes)
    X = StandardScaler().fit_transform(X).astype(dtype)
    est = fd.MLPClassifier(hidden_layer_sizes=(7, 5), activation="tanh", max_iter=30, random_state=0)
    est.fit(X, y)
    labels, proba = _run(fo.to_onnx(est, X[:1], options={"zipmap": False}), X)
    assert_array_equal(labels, est.predict(X))
    assert_allclose(proba, est.predict_proba(X), **TOL[dtype])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_mlp_regressor_matches_onnxruntime_and_refuses_what_it_cannot_export(dtype):
    X, y = _data(dtype, 0)
    est = fd.MLPRegressor(hidden_layer_sizes=(6,), max_iter=30, random_state=0).fit(X, y)
    (pred,) = _run(fo.to_onnx(est, X[:1]), X)
    assert_allclose(pred.ravel(), est.predict(X), **TOL[dtype])
    poisson = fd.MLPRegressor(loss="poisson", hidden_layer_sizes=(3,), max_iter=3).fit(X, np.abs(y))
    with pytest.raises(NotImplementedError, match="poisson"):
        fo.to_onnx(poisson, X[:1])
