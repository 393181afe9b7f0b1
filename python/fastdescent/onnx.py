"""ONNX export of the fitted estimators through skl2onnx (``pip install "fastdescent[onnx]"``).

Importing this module registers converters with skl2onnx, so that ``skl2onnx.to_onnx`` (and
``convert_sklearn``) converts SGDClassifier, SGDRegressor, SGDOneClassSVM, MLPClassifier and
MLPRegressor, alone or inside a scikit-learn pipeline::

    import fastdescent.onnx  # registers the converters
    from skl2onnx import to_onnx
    onx = to_onnx(model, X[:1].astype(np.float32))

or, the same in one call, ``fastdescent.onnx.to_onnx(model, X[:1])``.

A fitted linear model is a matrix product and a link, so the graph is skl2onnx's own for
scikit-learn's linear models, chosen by what the model computes: scikit-learn's SGDClassifier
graph for binary and one-vs-rest models (scores; probabilities for log_loss and modified_huber,
normalized over the classes as :meth:`SGDClassifier.predict_proba` does), the softmax linear
classifier for ``multi_class="multinomial"``, and the linear regressor for SGDRegressor (the
GLM regressors' graph, the exp of the score, for the log-link losses poisson, gamma and tweedie
with power >= 1). The
options are skl2onnx's: ``zipmap`` (probabilities as a list of dicts, the default, or
``False`` for a tensor), ``raw_scores``, ``nocl``, ``output_class_labels``. As for
scikit-learn's own SGDClassifier, skl2onnx labels a modified_huber model by its largest
probability: where clipping makes several classes' probabilities equal, it takes the first of
them, while ``predict`` takes the largest score. A sparsified model (``sparsify()``) must be
densified first. The MLPs use skl2onnx's graph for scikit-learn's MLPs (the same attributes),
which has no exponential output and one regression output: ``loss="poisson"`` and
multi-output MLPRegressor models are refused with an error.
"""

from __future__ import annotations

from types import SimpleNamespace

import scipy.sparse as sp

from ._classifier import SGDClassifier
from ._mlp import MLPClassifier, MLPRegressor
from ._one_class import SGDOneClassSVM
from ._regressor import SGDRegressor

__all__ = ["register", "to_onnx"]

_CLASSIFIER_OPTIONS = {
    "zipmap": [True, False, "columns"],
    "nocl": [True, False],
    "output_class_labels": [False, True],
    "raw_scores": [True, False],
}


def _import_skl2onnx():
    try:
        import skl2onnx
    except ImportError as exc:
        raise ImportError(
            "ONNX export needs skl2onnx (and onnxruntime to run the model): "
            'pip install "fastdescent[onnx]"'
        ) from exc
    return skl2onnx


def _require_dense_coef(model):
    if sp.issparse(model.coef_):
        raise ValueError(
            f"{type(model).__name__}.coef_ is sparse (sparsify() was called); call densify() "
            "before converting to ONNX."
        )


def _convert_classifier(scope, operator, container):
    from skl2onnx.operator_converters.linear_classifier import convert_sklearn_linear_classifier
    from skl2onnx.operator_converters.sgd_classifier import convert_sklearn_sgd_classifier

    model = operator.raw_operator
    _require_dense_coef(model)
    if model.multi_class == "multinomial" and len(model.classes_) > 2:
        # The multinomial log_loss model: softmax of the scores (skl2onnx reads multi_class).
        convert_sklearn_linear_classifier(scope, operator, container)
    else:
        convert_sklearn_sgd_classifier(scope, operator, container)


def _convert_regressor(scope, operator, container):
    from skl2onnx.operator_converters.linear_regressor import (
        convert_sklearn_linear_regressor,
        convert_sklearn_poisson_regressor,
    )

    model = operator.raw_operator
    _require_dense_coef(model)
    if not model._log_link():
        convert_sklearn_linear_regressor(scope, operator, container)
        return
    # The log link: skl2onnx's graph for scikit-learn's GLM regressors (the exp of the linear
    # score), which reads coef_, intercept_ and the loss that names the link.
    from sklearn._loss.loss import HalfPoissonLoss

    link = SimpleNamespace(
        coef_=model.coef_, intercept_=model.intercept_, _get_loss=lambda: HalfPoissonLoss()
    )
    operator.raw_operator = link
    try:
        convert_sklearn_poisson_regressor(scope, operator, container)
    finally:
        operator.raw_operator = model


def _convert_one_class(scope, operator, container):
    from skl2onnx.operator_converters.sgd_oneclass_svm import convert_sklearn_sgd_oneclass_svm

    _require_dense_coef(operator.raw_operator)
    convert_sklearn_sgd_oneclass_svm(scope, operator, container)


def _convert_mlp_classifier(scope, operator, container):
    from skl2onnx.operator_converters.multilayer_perceptron import (
        convert_sklearn_mlp_classifier,
    )

    convert_sklearn_mlp_classifier(scope, operator, container)


def _convert_mlp_regressor(scope, operator, container):
    from skl2onnx.operator_converters.multilayer_perceptron import convert_sklearn_mlp_regressor

    model = operator.raw_operator
    if model.out_activation_ != "identity" or model.n_outputs_ != 1:
        raise NotImplementedError(
            "skl2onnx's MLP graph has an identity output for one target: an MLPRegressor "
            f"with loss={model.loss!r} and {model.n_outputs_} outputs cannot be exported."
        )
    convert_sklearn_mlp_regressor(scope, operator, container)


def register():
    """Registers the converters with skl2onnx (done on import; calling again is harmless)."""
    skl2onnx = _import_skl2onnx()
    from skl2onnx.common.shape_calculator import (
        calculate_linear_classifier_output_shapes,
        calculate_linear_regressor_output_shapes,
    )
    from skl2onnx.shape_calculators.sgd_oneclass_svm import (
        calculate_sgd_oneclass_svm_output_shapes,
    )

    skl2onnx.update_registered_converter(
        SGDClassifier,
        "FastdescentSGDClassifier",
        calculate_linear_classifier_output_shapes,
        _convert_classifier,
        options=_CLASSIFIER_OPTIONS,
    )
    skl2onnx.update_registered_converter(
        SGDRegressor,
        "FastdescentSGDRegressor",
        calculate_linear_regressor_output_shapes,
        _convert_regressor,
    )
    skl2onnx.update_registered_converter(
        MLPClassifier,
        "FastdescentMLPClassifier",
        calculate_linear_classifier_output_shapes,
        _convert_mlp_classifier,
        options={k: v for k, v in _CLASSIFIER_OPTIONS.items() if k != "raw_scores"},
    )
    skl2onnx.update_registered_converter(
        MLPRegressor,
        "FastdescentMLPRegressor",
        calculate_linear_regressor_output_shapes,
        _convert_mlp_regressor,
    )
    skl2onnx.update_registered_converter(
        SGDOneClassSVM,
        "FastdescentSGDOneClassSVM",
        calculate_sgd_oneclass_svm_output_shapes,
        _convert_one_class,
    )


def to_onnx(model, X, **kwargs):
    """``skl2onnx.to_onnx(model, X, **kwargs)`` with the converters registered.

    Parameters
    ----------
    model : a fitted estimator of fastdescent's, or a pipeline holding one
    X : array-like
        A few rows of input: their dtype (float32 or float64) and width set the graph's input.
    **kwargs
        Passed to ``skl2onnx.to_onnx`` (``options``, ``target_opset``, ...).

    Returns
    -------
    onnx.ModelProto
    """
    skl2onnx = _import_skl2onnx()
    register()
    return skl2onnx.to_onnx(model, X, **kwargs)


register()
