"""A stand-in for training: prints where it runs, its parameters and a few "epochs"."""

import argparse
import os
import platform

parser = argparse.ArgumentParser()
parser.add_argument("--alpha", type=float, required=True)
parser.add_argument("--epochs", type=int, required=True)
args = parser.parse_args()

print(os.environ.get("GREETING", "(no GREETING)"))
print(f"python {platform.python_version()} in {os.getcwd()}, run {os.environ.get('PROJ_RUN_ID', '?')}")
loss = 1.0
for epoch in range(1, args.epochs + 1):
    loss *= 1 - args.alpha / 2
    print(f"epoch {epoch}: loss {loss:.4f}")
