"""
Streaming with partial_fit
==========================

Data that arrives in chunks: each ``partial_fit`` call trains one epoch on the chunk and
carries the optimizer's state (Adam's moments), the update count and the schedule over to the
next, so the chunks train as one epoch over all of them would. The held-out score after each
chunk shows the model learning as the stream goes.
"""

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import make_classification
from sklearn.model_selection import train_test_split

import fastdescent as fd

X, y = make_classification(n_samples=60_000, n_features=40, n_informative=20, random_state=0)
X_stream, X_test, y_stream, y_test = train_test_split(X, y, test_size=10_000, random_state=0)

model = fd.SGDClassifier(loss="log_loss", optimizer="adam", batch_size=64, random_state=0)
scores = []
for chunk in np.array_split(np.arange(len(y_stream)), 25):
    model.partial_fit(X_stream[chunk], y_stream[chunk], classes=[0, 1])
    scores.append(model.score(X_test, y_test))
print(f"after {len(scores)} chunks: test accuracy {scores[-1]:.3f}, t_ = {model.t_:.0f}")

fig, ax = plt.subplots()
ax.plot(np.arange(1, len(scores) + 1), scores, marker="o")
ax.set_xlabel("chunks seen")
ax.set_ylabel("test accuracy")
plt.show()
