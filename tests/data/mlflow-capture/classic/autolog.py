"""mlflow.autolog(): the client logs the estimator's parameters, training metrics and model."""

import mlflow
import numpy as np
from sklearn.linear_model import Ridge

mlflow.autolog()
features = np.array([[0.0, 1.0], [1.0, 0.0], [1.0, 1.0], [2.0, 1.0]])
with mlflow.start_run():
    Ridge(alpha=0.3).fit(features, [1.0, 2.0, 3.0, 4.0])
print("autologged")
