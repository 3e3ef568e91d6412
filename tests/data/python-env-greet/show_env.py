"""What the entry point sees: the interpreter, the environment, and the packages imported."""

import platform
import sys

import tinydep

print("python", platform.python_version())
print("prefix", sys.prefix)
print("dep", tinydep.VALUE)
