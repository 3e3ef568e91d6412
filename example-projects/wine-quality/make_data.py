"""Write a synthetic wine-quality data set (standard library only, the same rows for a seed).

The columns are those of the well-known red-wine table: eleven physico-chemical measurements and
a quality score from 3 to 8. Quality here is a noisy linear function of alcohol, volatile
acidity, sulphates and a few others, rounded: enough signal for a regression to find.
"""

import argparse
import csv
import random

# name, low, high: a plausible range for each measurement
FEATURES = [
    ("fixed acidity", 4.6, 15.9), ("volatile acidity", 0.12, 1.58), ("citric acid", 0.0, 1.0),
    ("residual sugar", 0.9, 15.5), ("chlorides", 0.012, 0.611), ("free sulfur dioxide", 1.0, 72.0),
    ("total sulfur dioxide", 6.0, 289.0), ("density", 0.990, 1.004), ("pH", 2.74, 4.01),
    ("sulphates", 0.33, 2.0), ("alcohol", 8.4, 14.9),
]
WEIGHTS = {"alcohol": 0.30, "volatile acidity": -1.1, "sulphates": 0.9, "citric acid": 0.25,
           "chlorides": -1.5, "total sulfur dioxide": -0.003, "pH": -0.4}


def make_row(rng: random.Random) -> list[str]:
    values = {name: rng.triangular(low, high, low + (high - low) * 0.35) for name, low, high in FEATURES}
    score = 3.9 + sum(weight * values[name] for name, weight in WEIGHTS.items()) + rng.gauss(0, 0.45)
    quality = min(8, max(3, round(score)))
    return [f"{values[name]:.4g}" for name, _low, _high in FEATURES] + [str(quality)]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=800)
    parser.add_argument("--seed", type=int, default=2009)
    parser.add_argument("--out", default="data/wine-quality.csv")
    args = parser.parse_args()
    rng = random.Random(args.seed)
    with open(args.out, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow([name for name, _low, _high in FEATURES] + ["quality"])
        for _ in range(args.rows):
            writer.writerow(make_row(rng))
    print(f"wrote {args.rows} rows to {args.out}")


if __name__ == "__main__":
    main()
