"""Write a synthetic housing data set: price from size, rooms and age, plus noise."""

import argparse
import csv
import random


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=400)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", default="data/housing.csv")
    args = parser.parse_args()
    rng = random.Random(args.seed)
    with open(args.out, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["size_m2", "rooms", "age_years", "price_k"])
        for _ in range(args.rows):
            size = rng.uniform(30, 200)
            rooms = rng.randint(1, 6)
            age = rng.uniform(0, 80)
            price = 40 + 2.8 * size + 12 * rooms - 0.9 * age + rng.gauss(0, 15)
            writer.writerow([f"{size:.1f}", rooms, f"{age:.1f}", f"{price:.1f}"])
    print(f"wrote {args.rows} rows to {args.out}")


if __name__ == "__main__":
    main()
