"""Type stubs for the compiled core (internal; use the fastdescent package)."""

from collections.abc import Callable, Sequence
from typing import Any, ClassVar, SupportsIndex, SupportsInt, TypedDict, overload

import numpy as np
from numpy.typing import NDArray
from typing_extensions import Self

# Stub-only helpers (private names, so stubtest does not look for them at runtime).

class _pybind11_type(type):
    """pybind11_builtins.pybind11_type: the metaclass of every class the module binds."""

class _Enum(metaclass=_pybind11_type):
    """What every py::enum_ of the module has: members as class attributes, name and value."""

    __members__: ClassVar[dict[str, Self]]
    def __init__(self, value: SupportsInt | SupportsIndex) -> None: ...
    @property
    def name(self) -> str: ...
    @property
    def value(self) -> int: ...
    def __int__(self) -> int: ...
    def __index__(self) -> int: ...
    def __eq__(self, other: object) -> bool: ...
    def __ne__(self, other: object) -> bool: ...
    def __hash__(self) -> int: ...

class LossKind(_Enum):
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
    absolute_error: LossKind
    quantile: LossKind
    poisson: LossKind
    gamma: LossKind
    tweedie: LossKind

class PenaltyKind(_Enum):
    none: PenaltyKind
    l2: PenaltyKind
    l1: PenaltyKind
    elasticnet: PenaltyKind

class ScheduleKind(_Enum):
    constant: ScheduleKind
    optimal: ScheduleKind
    invscaling: ScheduleKind
    adaptive: ScheduleKind
    pa1: ScheduleKind
    pa2: ScheduleKind
    exponential: ScheduleKind
    step: ScheduleKind
    multistep: ScheduleKind
    cosine: ScheduleKind
    cosine_restarts: ScheduleKind
    onecycle: ScheduleKind
    polynomial: ScheduleKind
    plateau: ScheduleKind

class TrainConfig(metaclass=_pybind11_type):
    loss: LossKind
    loss_param: float
    penalty: PenaltyKind
    alpha: float
    l1_ratio: float
    schedule: Schedule
    classification: bool
    fit_intercept: bool
    intercept_decay: float
    intercept_linear: float
    max_iter: int
    tol: float
    n_iter_no_change: int
    early_stopping: bool
    shuffle: bool
    seed: int
    batch_size: int
    average: int
    clip_value: float
    clip_norm: float
    n_threads: int
    sparse_lazy: bool
    solver: bool
    solver_tol: float
    explosion_diverges: bool
    running_objective: bool
    check_input: bool
    hook_runs_user_code: bool
    def __init__(self) -> None: ...

class TrainResult(metaclass=_pybind11_type):
    @property
    def n_iter(self) -> int: ...
    @property
    def t(self) -> float: ...
    @property
    def strategy(self) -> str: ...
    @property
    def loss_curve(self) -> list[float]: ...
    @property
    def validation_scores(self) -> list[float]: ...
    @property
    def last_eta(self) -> float: ...
    @property
    def diverged(self) -> bool: ...
    @property
    def stopped_by_callback(self) -> bool: ...
    @property
    def non_finite_input(self) -> bool: ...
    # Set on the results of train_dense / train_csr: the optimizer's state after training.
    optimizer_state: _OptimizerState

# One entry per optimizer slot (None: never used): {"size": n, "step": k, "exp_avg": array, ...}
_OptimizerState = list[dict[str, Any] | None]

# (epoch, objective, validation score, step size, t, gradient norm) -> stop training
# (epoch, objective, validation score, eta, t, grad norm, optimizer-state getter) -> stop
_EpochCallback = Callable[..., bool]

def train_dense(
    X: NDArray[np.floating],
    y: NDArray[np.floating],
    coef: NDArray[np.floating],
    intercept: NDArray[np.floating],
    config: TrainConfig,
    sample_weight: NDArray[np.floating] | None = None,
    class_weight: NDArray[np.float64] | None = None,
    validation_mask: NDArray[np.uint8] | None = None,
    average_coef: NDArray[np.floating] | None = None,
    average_intercept: NDArray[np.floating] | None = None,
    t0: float = 1.0,
    epoch_callback: _EpochCallback | None = None,
    optimizer: object = None,
    optimizer_state: _OptimizerState | None = None,
    cancel: object = None,  # anything with is_set(), e.g. threading.Event
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
    sample_weight: NDArray[np.floating] | None = None,
    class_weight: NDArray[np.float64] | None = None,
    validation_mask: NDArray[np.uint8] | None = None,
    average_coef: NDArray[np.floating] | None = None,
    average_intercept: NDArray[np.floating] | None = None,
    t0: float = 1.0,
    epoch_callback: _EpochCallback | None = None,
    optimizer: object = None,
    optimizer_state: _OptimizerState | None = None,
    cancel: object = None,  # anything with is_set(), e.g. threading.Event
) -> TrainResult: ...
def all_finite(a: NDArray[Any], n_threads: int = 1) -> bool: ...
def linear_scores(
    X: NDArray[Any],
    coef: NDArray[np.floating],
    intercept: NDArray[np.floating],
    n_threads: int = 1,
) -> NDArray[np.floating]: ...
def row_squared_norms(X: NDArray[Any], n_threads: int = 1) -> NDArray[np.float64]: ...
def check_csr(indices: NDArray[np.integer], indptr: NDArray[np.integer], n_cols: int) -> bool: ...
def integer_classes(y: NDArray[Any], max_span: int) -> NDArray[Any] | None: ...
def class_codes(y: NDArray[Any], classes: NDArray[Any]) -> NDArray[np.int64]: ...
def binary_targets(
    y: NDArray[Any], positive: object, dtype: np.dtype[Any]
) -> NDArray[np.floating]: ...
def shuffled_order(rows: Sequence[int], seed: int, epochs: int) -> list[int]: ...
def build_info() -> dict[str, object]: ...
def openmp_max_threads() -> int: ...
def get_isa() -> str: ...
def set_isa(name: str) -> None: ...
def available_isas() -> list[str]: ...
@overload
def kernel_exp(isa: str, x: NDArray[np.float32]) -> NDArray[np.float32]: ...  # type: ignore[overload-overlap]
@overload
def kernel_exp(isa: str, x: object) -> NDArray[np.float64]: ...
@overload
def kernel_log1p(isa: str, x: NDArray[np.float32]) -> NDArray[np.float32]: ...  # type: ignore[overload-overlap]
@overload
def kernel_log1p(isa: str, x: object) -> NDArray[np.float64]: ...

# ---- optimizers and clipping (src/bind_optim.cpp) ----

_Array = NDArray[np.floating]

# Members come from the optimizer registry (optimizer_registry()); look them up by name.
class OptimizerKind(_Enum): ...

class _OptimizerInfo(TypedDict):
    name: str
    kind: OptimizerKind
    state: list[str]
    defaults: OptimizerSpec

def optimizer_registry() -> list[_OptimizerInfo]: ...

class OptimizerSpec(metaclass=_pybind11_type):
    kind: OptimizerKind
    weight_decay: float
    momentum: float
    dampening: float
    nesterov: bool
    lr_decay: float
    initial_accumulator_value: float
    alpha: float
    centered: bool
    beta1: float
    beta2: float
    eps: float
    amsgrad: bool
    momentum_decay: float
    decoupled_weight_decay: bool
    decay_rate: float
    clipping_threshold: float
    multiply_by_parameter_scale: bool
    eps_scale: float
    min_dim_size_to_factor: int
    factored: bool
    relative_step: bool
    scaled_velocity: bool
    eps_before_bias_correction: bool
    def __init__(self, kind: OptimizerKind = ...) -> None: ...
    def validate(self) -> None: ...
    def to_dict(self) -> dict[str, object]: ...

class CoreOptimizer(metaclass=_pybind11_type):
    def __init__(self, spec: OptimizerSpec, dtype: object, n_threads: int = -1) -> None: ...
    def begin_step(self) -> None: ...
    def update(
        self, slot: int, param: _Array, grad: _Array, lr: float, rows: int | None = None
    ) -> None: ...

def sgd_step(
    param: _Array,
    grad: _Array,
    momentum_buffer: _Array | None,
    step: int,
    lr: float,
    momentum: float = 0.0,
    dampening: float = 0.0,
    nesterov: bool = False,
    weight_decay: float = 0.0,
    n_threads: int = -1,
) -> None: ...
def adagrad_step(
    param: _Array,
    grad: _Array,
    state_sum: _Array,
    step: int,
    lr: float,
    lr_decay: float = 0.0,
    weight_decay: float = 0.0,
    eps: float = 1e-10,
    n_threads: int = -1,
) -> None: ...
def rmsprop_step(
    param: _Array,
    grad: _Array,
    square_avg: _Array,
    grad_avg: _Array | None,
    momentum_buffer: _Array | None,
    lr: float,
    alpha: float = 0.99,
    eps: float = 1e-8,
    weight_decay: float = 0.0,
    momentum: float = 0.0,
    centered: bool = False,
    n_threads: int = -1,
) -> None: ...
def adam_step(
    param: _Array,
    grad: _Array,
    exp_avg: _Array,
    exp_avg_sq: _Array,
    max_exp_avg_sq: _Array | None,
    step: int,
    lr: float = 1e-3,
    beta1: float = 0.9,
    beta2: float = 0.999,
    eps: float = 1e-8,
    weight_decay: float = 0.0,
    amsgrad: bool = False,
    decoupled: bool = False,
    n_threads: int = -1,
) -> None: ...
def nadam_step(
    param: _Array,
    grad: _Array,
    exp_avg: _Array,
    exp_avg_sq: _Array,
    step: int,
    mu_product: float,
    lr: float = 2e-3,
    beta1: float = 0.9,
    beta2: float = 0.999,
    eps: float = 1e-8,
    weight_decay: float = 0.0,
    momentum_decay: float = 4e-3,
    decoupled: bool = False,
    n_threads: int = -1,
) -> float: ...
def adamax_step(
    param: _Array,
    grad: _Array,
    exp_avg: _Array,
    exp_inf: _Array,
    step: int,
    lr: float = 2e-3,
    beta1: float = 0.9,
    beta2: float = 0.999,
    eps: float = 1e-8,
    weight_decay: float = 0.0,
    n_threads: int = -1,
) -> None: ...
def lamb_step(
    param: _Array,
    grad: _Array,
    exp_avg: _Array,
    exp_avg_sq: _Array,
    step: int,
    lr: float = 1e-3,
    beta1: float = 0.9,
    beta2: float = 0.999,
    eps: float = 1e-6,
    weight_decay: float = 0.0,
    n_threads: int = -1,
) -> float: ...
def adafactor_step(
    param: _Array,
    grad: _Array,
    v_row: _Array | None,
    v_col: _Array | None,
    v: _Array | None,
    momentum_buffer: _Array | None,
    step: int,
    lr: float,
    decay_rate: float = 0.8,
    eps: float = 1e-30,
    clipping_threshold: float = 1.0,
    multiply_by_parameter_scale: bool = True,
    eps_scale: float = 1e-3,
    momentum: float = 0.0,
    weight_decay: float = 0.0,
    n_threads: int = -1,
) -> None: ...
def lion_step(
    param: _Array,
    grad: _Array,
    exp_avg: _Array,
    lr: float = 1e-4,
    beta1: float = 0.9,
    beta2: float = 0.99,
    weight_decay: float = 0.0,
    n_threads: int = -1,
) -> None: ...
def clip_grad_value(
    grads: _Array | list[_Array], clip_value: float, n_threads: int = -1
) -> None: ...
def clip_grad_norm(
    grads: _Array | list[_Array],
    max_norm: float,
    norm_type: float = 2.0,
    error_if_nonfinite: bool = False,
    n_threads: int = -1,
) -> float: ...

# ---- step-size schedules (src/bind_schedule.cpp) ----

class AnnealStrategy(_Enum):
    cos: AnnealStrategy
    linear: AnnealStrategy

class PlateauMode(_Enum):
    min: PlateauMode
    max: PlateauMode

class ThresholdMode(_Enum):
    rel: ThresholdMode
    abs: ThresholdMode

class Schedule(metaclass=_pybind11_type):
    kind: ScheduleKind
    eta0: float
    power_t: float
    adaptive_divisor: float
    alpha: float
    optimal_init: float
    gamma: float
    step_size: int
    milestones: list[float]
    T_max: int
    eta_min: float
    T_0: int
    T_mult: int
    total_steps: int
    pct_start: float
    anneal_strategy: AnnealStrategy
    div_factor: float
    final_div_factor: float
    three_phase: bool
    total_iters: int
    power: float
    mode: PlateauMode
    factor: float
    patience: int
    threshold: float
    threshold_mode: ThresholdMode
    cooldown: int
    min_lr: float
    eps: float
    best: float
    num_bad_epochs: int
    cooldown_counter: int
    warmup_steps: int
    warmup_start_factor: float
    def __init__(self, kind: ScheduleKind = ..., **kwargs: object) -> None: ...
    def eta(self, t: float, current: float | None = None) -> float: ...
    def end_epoch(self, metric: float) -> None: ...
    def validate(self) -> None: ...
    def to_dict(self) -> dict[str, object]: ...

def schedule_values(
    schedule: Schedule,
    t0: float,
    n: int,
    metrics: Sequence[float] | None = None,
    updates_per_epoch: int = 1,
) -> NDArray[np.float64]: ...

# ---- loss and gradient sums for data-parallel training (src/bind_gradient.cpp) ----

_Sums = tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.floating], NDArray[np.floating]]

def loss_gradient_dense(
    X: NDArray[np.floating],
    y: NDArray[np.floating],
    coef: NDArray[np.floating],
    intercept: NDArray[np.floating],
    loss: LossKind,
    loss_param: float = 0.1,
    sample_weight: NDArray[np.floating] | None = None,
    class_weight: NDArray[np.float64] | None = None,
    one_vs_rest: bool = False,
    rows: NDArray[np.int64] | None = None,
    n_threads: int = 1,
) -> _Sums: ...
def loss_gradient_csr(
    data: NDArray[np.floating],
    indices: NDArray[np.integer],
    indptr: NDArray[np.integer],
    n_cols: int,
    y: NDArray[np.floating],
    coef: NDArray[np.floating],
    intercept: NDArray[np.floating],
    loss: LossKind,
    loss_param: float = 0.1,
    sample_weight: NDArray[np.floating] | None = None,
    class_weight: NDArray[np.float64] | None = None,
    one_vs_rest: bool = False,
    rows: NDArray[np.int64] | None = None,
    n_threads: int = 1,
) -> _Sums: ...
def loss_value_and_deriv(
    loss: LossKind,
    p: NDArray[np.float64],
    y: NDArray[np.float64],
    loss_param: float = 0.1,
    joint: bool = False,
) -> tuple[NDArray[np.float64], NDArray[np.float64]]: ...
def loss_curvature_bound(loss: LossKind) -> float: ...
def softmax_cross_entropy(
    scores: NDArray[np.floating], labels: NDArray[np.int64]
) -> tuple[NDArray[np.float64], NDArray[np.floating]]: ...

# ---- the training engine, for backends that run their own arithmetic (bind_engine.cpp) ----

class ValidationSums(metaclass=_pybind11_type):
    weight: float
    hit: float
    wy: float
    wyy: float
    sse: float
    deviance: float
    constant: float
    def __init__(self) -> None: ...
    def add_deviance(
        self, loss: LossKind, loss_param: float, p: float, y: float, weight: float
    ) -> None: ...
    def score(
        self, classification: bool, loss: LossKind = ..., loss_param: float = 0.0
    ) -> float: ...

class EpochPolicy(metaclass=_pybind11_type):
    def __init__(
        self, config: TrainConfig, t0: float = 1.0, epoch_callback: _EpochCallback | None = None
    ) -> None: ...
    def eta(self, t: float) -> float: ...
    def end_epoch(
        self,
        sumloss: float,
        train_weight: float,
        penalty: float,
        finite: bool,
        validation_score: float,
        last_eta: float,
        t: float,
        grad_norm: float,
        running_penalty: float = ...,
    ) -> bool: ...
    @property
    def schedule(self) -> Schedule: ...
    @property
    def eta_adaptive(self) -> float: ...
    @property
    def result(self) -> TrainResult: ...

class GradientStep(metaclass=_pybind11_type):
    def __init__(
        self,
        config: TrainConfig,
        optimizer: OptimizerSpec | None,
        dtype: np.dtype[Any],
        optimizer_state: _OptimizerState | None = None,
    ) -> None: ...
    def apply(
        self,
        coef: NDArray[np.floating],
        intercept: NDArray[np.floating],
        grad: NDArray[np.floating],
        grad_b: NDArray[np.floating],
        batch_weight: float,
        eta: float,
        t: float,
        average_coef: NDArray[np.floating] | None = None,
        average_intercept: NDArray[np.floating] | None = None,
        want_norm: bool = False,
    ) -> float: ...
    def apply_arrays(
        self,
        params: Sequence[NDArray[np.floating]],
        grads: Sequence[NDArray[np.floating]],
        penalized: Sequence[bool],
        batch_weight: float,
        eta: float,
        t: float,
        want_norm: bool = False,
    ) -> float: ...
    def penalty_value(
        self, coef: NDArray[np.floating], intercept: NDArray[np.floating] | None = None
    ) -> float: ...
    def optimizer_state(self) -> _OptimizerState: ...

class Penalty(metaclass=_pybind11_type):
    def __init__(self, config: TrainConfig) -> None: ...
    @property
    def l2(self) -> float: ...
    @property
    def l1(self) -> float: ...
    @property
    def intercept_linear(self) -> float: ...
    def value_from_sums(self, squared: float, absolute: float) -> float: ...

# ---- multi-layer perceptrons (bind_mlp.cpp) ------------------------------------------------

class Activation(_Enum):
    identity: Activation
    logistic: Activation
    tanh: Activation
    relu: Activation
    softmax: Activation
    exp: Activation

class MlpLoss(_Enum):
    squared_error: MlpLoss
    poisson: MlpLoss
    log_loss: MlpLoss
    binary_log_loss: MlpLoss

class MlpTrainConfig(metaclass=_pybind11_type):
    train: TrainConfig
    schedule_in_samples: bool
    samples_seen: float
    fresh_schedule: bool
    def __init__(self) -> None: ...

# A dense array, or a CSR matrix as (data, indices, indptr, n_cols).
_MlpX = (
    NDArray[np.floating]
    | tuple[NDArray[np.floating], NDArray[np.integer], NDArray[np.integer], int]
)

def train_mlp(
    X: _MlpX,
    Y: NDArray[np.floating],
    coefs: list[NDArray[np.floating]],
    intercepts: list[NDArray[np.floating]],
    hidden: Activation,
    loss: MlpLoss,
    config: MlpTrainConfig,
    train_rows: NDArray[np.int64],
    val_rows: NDArray[np.int64] | None = None,
    sample_weight: NDArray[np.floating] | None = None,
    t0: float = 1.0,
    epoch_callback: _EpochCallback | None = None,
    optimizer: object = None,
    optimizer_state: _OptimizerState | None = None,
    cancel: object = None,
    permutation: Callable[[int], NDArray[np.int64]] | None = None,
) -> TrainResult: ...
def mlp_forward(
    X: _MlpX,
    coefs: list[NDArray[np.floating]],
    intercepts: list[NDArray[np.floating]],
    hidden: Activation,
    loss: MlpLoss,
    out: NDArray[np.floating],
) -> None: ...
def mlp_loss_gradient(
    X: _MlpX,
    Y: NDArray[np.floating],
    sample_weight: NDArray[np.floating] | None,
    coefs: list[NDArray[np.floating]],
    intercepts: list[NDArray[np.floating]],
    grad_coefs: list[NDArray[np.floating]],
    grad_intercepts: list[NDArray[np.floating]],
    hidden: Activation,
    loss: MlpLoss,
    alpha: float,
) -> float: ...
