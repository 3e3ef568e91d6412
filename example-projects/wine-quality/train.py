"""Fit an ElasticNet to the wine-quality table and report how well it predicts held-out wines.

Usage: python train.py ALPHA L1_RATIO [--data CSV]. Under `proj run` the metrics and the model
are also kept with the run (in $PROJ_OUTPUT_DIR, see docs/outputs.md).
"""

import argparse
import json
import os
import pickle
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.linear_model import ElasticNet
from sklearn.metrics import mean_absolute_error, mean_squared_error, r2_score
from sklearn.model_selection import train_test_split


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("alpha", type=float)
    parser.add_argument("l1_ratio", type=float)
    parser.add_argument("--data", default="data/wine-quality.csv")
    args = parser.parse_args()

    table = pd.read_csv(args.data)
    train, test = train_test_split(table, test_size=0.25, random_state=42)
    features = [column for column in table.columns if column != "quality"]
    model = ElasticNet(alpha=args.alpha, l1_ratio=args.l1_ratio, random_state=42)
    model.fit(train[features], train["quality"])
    predicted = model.predict(test[features])

    metrics = {
        "rmse": float(np.sqrt(mean_squared_error(test["quality"], predicted))),
        "mae": float(mean_absolute_error(test["quality"], predicted)),
        "r2": float(r2_score(test["quality"], predicted)),
    }
    print(f"Elasticnet model (alpha={args.alpha:f}, l1_ratio={args.l1_ratio:f}):")
    for name, value in metrics.items():
        print(f"  {name.upper()}: {value:.4f}")
    keep(metrics, model)


def keep(metrics: dict, model: ElasticNet) -> None:
    """Write the metrics and the model where proj keeps them with the run."""
    output = os.environ.get("PROJ_OUTPUT_DIR")
    if not output:
        return
    with open(Path(output) / "metrics.jsonl", "a") as handle:
        handle.writelines(json.dumps({"key": name, "value": value}) + "\n" for name, value in metrics.items())
    with open(Path(output) / "model.pkl", "wb") as handle:
        pickle.dump(model, handle)


if __name__ == "__main__":
    main()
