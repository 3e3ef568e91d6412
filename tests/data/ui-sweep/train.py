"""A deterministic stand-in for training: the loss falls at a rate set by lr and the optimizer."""

import argparse
import json
import math
import os
import time

SPEED = {"adam": 1.0, "sgd": 0.6, "rmsprop": 0.8}

parser = argparse.ArgumentParser()
parser.add_argument("--lr", type=float, required=True)
parser.add_argument("--optimizer", required=True)
parser.add_argument("--epochs", type=int, required=True)
args = parser.parse_args()

rate = SPEED.get(args.optimizer, 0.5) * (1 - abs(math.log10(args.lr) + 2) / 4)
start = time.time()
points = []
for epoch in range(1, args.epochs + 1):
    loss = 2.0 * math.exp(-rate * epoch) + 0.05
    points.append({"key": "loss", "value": round(loss, 6), "step": epoch, "timestamp": start + epoch * 0.5})
final = points[-1]["value"]
points.append({"key": "rmse", "value": round(final * 1.3, 6)})
points.append({"key": "val_accuracy", "value": round(1 - final / 2.5, 6)})
print(f"lr={args.lr} optimizer={args.optimizer}: rmse {final * 1.3:.4f}")
with open(os.path.join(os.environ["PROJ_OUTPUT_DIR"], "metrics.jsonl"), "a") as handle:
    handle.writelines(json.dumps(point) + "\n" for point in points)
