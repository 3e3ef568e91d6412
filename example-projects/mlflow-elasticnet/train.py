"""Fit an ElasticNet to scikit-learn's diabetes table and log it all with MLflow.

Usage: python train.py [ALPHA] [L1_RATIO]. The table ships with scikit-learn: nothing is
downloaded. Run it with `mlflow run` or `proj run`; both pass the parameters the same way.
"""

import sys

import mlflow
import mlflow.sklearn
import numpy as np
from mlflow.models import infer_signature
from sklearn.datasets import load_diabetes
from sklearn.linear_model import ElasticNet
from sklearn.metrics import mean_absolute_error, mean_squared_error, r2_score
from sklearn.model_selection import train_test_split


def evaluate(actual, predicted):
    rmse = float(np.sqrt(mean_squared_error(actual, predicted)))
    return rmse, float(mean_absolute_error(actual, predicted)), float(r2_score(actual, predicted))


if __name__ == "__main__":
    alpha = float(sys.argv[1]) if len(sys.argv) > 1 else 0.01
    l1_ratio = float(sys.argv[2]) if len(sys.argv) > 2 else 0.5

    features, target = load_diabetes(return_X_y=True, as_frame=True)
    train_x, test_x, train_y, test_y = train_test_split(features, target, test_size=0.25, random_state=42)

    with mlflow.start_run():
        mlflow.log_param("alpha", alpha)
        mlflow.log_param("l1_ratio", l1_ratio)
        mlflow.set_tag("dataset", "sklearn diabetes")

        # A learning curve: the held-out error as the model sees more of the training rows.
        for step, share in enumerate((0.2, 0.4, 0.6, 0.8, 1.0)):
            rows = int(len(train_x) * share)
            partial = ElasticNet(alpha=alpha, l1_ratio=l1_ratio, random_state=42)
            partial.fit(train_x[:rows], train_y[:rows])
            mlflow.log_metric("curve_rmse", evaluate(test_y, partial.predict(test_x))[0], step=step)

        model = ElasticNet(alpha=alpha, l1_ratio=l1_ratio, random_state=42)
        model.fit(train_x, train_y)
        rmse, mae, r2 = evaluate(test_y, model.predict(test_x))
        print(f"Elasticnet model (alpha={alpha:f}, l1_ratio={l1_ratio:f}):")
        print(f"  RMSE: {rmse:.4f}")
        print(f"  MAE: {mae:.4f}")
        print(f"  R2: {r2:.4f}")
        mlflow.log_metric("rmse", rmse)
        mlflow.log_metric("mae", mae)
        mlflow.log_metric("r2", r2)

        signature = infer_signature(train_x, model.predict(train_x))
        mlflow.sklearn.log_model(model, name="model", signature=signature, input_example=train_x[:3])
