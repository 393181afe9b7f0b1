"""fastdescent: gradient descent for linear models and small neural networks, C++ kernels behind
scikit-learn estimators."""

from . import callbacks, clip, optim, schedules
from ._classifier import SGDClassifier
from ._config import show_config
from ._mlp import MLPClassifier, MLPRegressor
from ._one_class import SGDOneClassSVM
from ._regressor import SGDRegressor

__version__ = "0.1.0"
__all__ = [
    "MLPClassifier",
    "MLPRegressor",
    "SGDClassifier",
    "SGDOneClassSVM",
    "SGDRegressor",
    "show_config",
    "__version__",
    "callbacks",
    "clip",
    "optim",
    "schedules",
]
