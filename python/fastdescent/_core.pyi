"""Type stubs for the compiled core (internal; use the fastdescent package)."""

from typing import Callable, Optional

import numpy as np
from numpy.typing import NDArray

class LossKind:
    squared_error: LossKind
    huber: LossKind
    epsilon_insensitive: LossKind
    squared_epsilon_insensitive: LossKind
    log_loss: LossKind
    hinge: LossKind
    squared_hinge: LossKind
    modified_huber: LossKind
    perceptron: LossKind
    multinomial: LossKind

class PenaltyKind:
    none: PenaltyKind
    l2: PenaltyKind
    l1: PenaltyKind
    elasticnet: PenaltyKind

class ScheduleKind:
    constant: ScheduleKind
    optimal: ScheduleKind
    invscaling: ScheduleKind
    adaptive: ScheduleKind
    pa1: ScheduleKind
    pa2: ScheduleKind

class TrainConfig:
    loss: LossKind
    epsilon: float
    penalty: PenaltyKind
    alpha: float
    l1_ratio: float
    schedule: ScheduleKind
    eta0: float
    power_t: float
    classification: bool
    fit_intercept: bool
    intercept_decay: float
    max_iter: int
    tol: float
    n_iter_no_change: int
    early_stopping: bool
    shuffle: bool
    seed: int
    batch_size: int
    average: int
    n_threads: int
    def __init__(self) -> None: ...

class TrainResult:
    n_iter: int
    t: float
    loss_curve: list[float]
    validation_scores: list[float]
    diverged: bool
    stopped_by_callback: bool

EpochCallback = Callable[[int, float, float, float, float], bool]

def train_dense(
    X: NDArray[np.floating],
    y: NDArray[np.floating],
    coef: NDArray[np.floating],
    intercept: NDArray[np.floating],
    config: TrainConfig,
    sample_weight: Optional[NDArray[np.floating]] = None,
    class_weight: Optional[NDArray[np.float64]] = None,
    validation_mask: Optional[NDArray[np.uint8]] = None,
    average_coef: Optional[NDArray[np.floating]] = None,
    average_intercept: Optional[NDArray[np.floating]] = None,
    t0: float = 1.0,
    epoch_callback: Optional[EpochCallback] = None,
) -> TrainResult: ...
def train_csr(
    data: NDArray[np.floating],
    indices: NDArray[np.integer],
    indptr: NDArray[np.integer],
    n_cols: int,
    y: NDArray[np.floating],
    coef: NDArray[np.floating],
    intercept: NDArray[np.floating],
    config: TrainConfig,
    sample_weight: Optional[NDArray[np.floating]] = None,
    class_weight: Optional[NDArray[np.float64]] = None,
    validation_mask: Optional[NDArray[np.uint8]] = None,
    average_coef: Optional[NDArray[np.floating]] = None,
    average_intercept: Optional[NDArray[np.floating]] = None,
    t0: float = 1.0,
    epoch_callback: Optional[EpochCallback] = None,
) -> TrainResult: ...
def shuffled_order(rows: list[int], seed: int, epochs: int) -> list[int]: ...
def build_info() -> dict[str, object]: ...
