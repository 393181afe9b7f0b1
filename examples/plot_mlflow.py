"""
Tracking fits with MLflow
=========================

:func:`fastdescent.mlflow.autolog` logs every ``fit``: parameters, the per-epoch metrics of
``history_``, the training score and the model. The runs go to a SQLite tracking store in a
temporary folder; the figure is drawn from the metrics read back from the store.
"""

import tempfile
from pathlib import Path

import matplotlib.pyplot as plt
import mlflow
from sklearn.datasets import load_breast_cancer
from sklearn.preprocessing import StandardScaler

import fastdescent as fd
import fastdescent.mlflow

folder = Path(tempfile.mkdtemp())
mlflow.set_tracking_uri(f"sqlite:///{folder / 'mlflow.db'}")
experiment = mlflow.create_experiment("breast_cancer", (folder / "artifacts").as_uri())
mlflow.set_experiment(experiment_id=experiment)
X, y = load_breast_cancer(return_X_y=True)
X = StandardScaler().fit_transform(X)

fastdescent.mlflow.autolog(log_models=False)
client = mlflow.tracking.MlflowClient()
fig, ax = plt.subplots()
for optimizer in ["adam", "momentum"]:
    fd.SGDClassifier(loss="log_loss", optimizer=optimizer, batch_size=32, max_iter=20,
                     tol=None, random_state=0).fit(X, y)
    run = mlflow.last_active_run()
    history = sorted(client.get_metric_history(run.info.run_id, "loss"), key=lambda m: m.step)
    ax.plot([m.step for m in history], [m.value for m in history], label=optimizer)
    print(optimizer, "training accuracy", run.data.metrics["training_accuracy_score"])
fastdescent.mlflow.autolog(disable=True)
ax.set_xlabel("epoch")
ax.set_ylabel("logged loss")
ax.legend()
plt.show()
