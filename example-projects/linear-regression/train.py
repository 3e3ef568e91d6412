"""Ridge regression by gradient descent, in pure Python.

Reads a CSV whose last column is the target, standardises the features, trains on 80 % of the
rows and reports the root mean squared error on the rest. The output is deterministic for a
given seed, which makes it a good subject for `proj rerun`.
"""

import argparse
import csv
import json
import math
import os
import random


def load(path):
    with open(path, newline="") as handle:
        rows = list(csv.reader(handle))
    header, body = rows[0], [[float(x) for x in row] for row in rows[1:]]
    return header[:-1], [row[:-1] for row in body], [row[-1] for row in body]


def standardise(columns_of_rows):
    columns = list(zip(*columns_of_rows))
    means = [sum(c) / len(c) for c in columns]
    stds = [math.sqrt(sum((x - m) ** 2 for x in c) / len(c)) or 1.0 for c, m in zip(columns, means)]
    return [[(x - m) / s for x, m, s in zip(row, means, stds)] for row in columns_of_rows]


def train(features, targets, alpha, epochs, learning_rate, report=None):
    """Gradient descent; `report(epoch, weights, bias)` is called every tenth epoch and at the end."""
    weights, bias = [0.0] * len(features[0]), sum(targets) / len(targets)
    n = len(features)
    for epoch in range(1, epochs + 1):
        gradient, gradient_bias = [0.0] * len(weights), 0.0
        for row, target in zip(features, targets):
            error = sum(w * x for w, x in zip(weights, row)) + bias - target
            gradient = [g + error * x for g, x in zip(gradient, row)]
            gradient_bias += error
        weights = [w - learning_rate * (g / n + alpha * w) for w, g in zip(weights, gradient)]
        bias -= learning_rate * gradient_bias / n
        if report is not None and (epoch % 10 == 0 or epoch == epochs):
            report(epoch, weights, bias)
    return weights, bias


def rmse(weights, bias, features, targets):
    errors = [sum(w * x for w, x in zip(weights, row)) + bias - t for row, t in zip(features, targets)]
    return math.sqrt(sum(e * e for e in errors) / len(errors))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", required=True)
    parser.add_argument("--alpha", type=float, default=0.01)
    parser.add_argument("--epochs", type=int, default=200)
    parser.add_argument("--learning-rate", type=float, default=0.05)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()

    names, features, targets = load(args.data)
    features = standardise(features)
    order = list(range(len(targets)))
    random.Random(args.seed).shuffle(order)
    cut = int(len(order) * 0.8)
    train_rows, test_rows = order[:cut], order[cut:]
    train_x, train_y = [features[i] for i in train_rows], [targets[i] for i in train_rows]
    test_x, test_y = [features[i] for i in test_rows], [targets[i] for i in test_rows]
    output_dir = os.environ.get("PROJ_OUTPUT_DIR")  # proj keeps whatever lands here with the run
    curve = []

    def report(epoch, weights, bias):
        curve.append({"key": "train_rmse", "value": rmse(weights, bias, train_x, train_y), "step": epoch})

    weights, bias = train(train_x, train_y, args.alpha, args.epochs, args.learning_rate, report)
    score = rmse(weights, bias, test_x, test_y)
    print(f"trained on {len(train_rows)} rows, tested on {len(test_rows)}")
    for name, weight in zip(names, weights):
        print(f"  weight {name:>10}: {weight:8.3f}")
    print(f"test rmse: {score:.4f}")

    if output_dir:
        with open(os.path.join(output_dir, "metrics.jsonl"), "a") as handle:
            handle.writelines(json.dumps(point) + "\n" for point in curve)
            handle.write(json.dumps({"key": "rmse", "value": score}) + "\n")
        with open(os.path.join(output_dir, "model.json"), "w") as handle:
            json.dump({"features": names, "weights": weights, "bias": bias}, handle, indent=2)
        with open(os.path.join(output_dir, "predictions.csv"), "w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["target", "predicted"])
            for row, target in zip(test_x, test_y):
                writer.writerow([target, round(sum(w * x for w, x in zip(weights, row)) + bias, 4)])


if __name__ == "__main__":
    main()
