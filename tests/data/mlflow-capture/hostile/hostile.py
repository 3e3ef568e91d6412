"""Write hostile content into the MLflow file store proj gave this run (MLFLOW_TRACKING_URI)."""

import os
import sys
from urllib.parse import urlsplit
from urllib.request import url2pathname

secret_file = sys.argv[1]  # a file outside the run holding a secret
root = url2pathname(urlsplit(os.environ["MLFLOW_TRACKING_URI"]).path)
run = os.path.join(root, "0", os.environ["MLFLOW_RUN_ID"])

os.symlink(secret_file, os.path.join(run, "params", "stolen"))  # a parameter that is a link
with open(os.path.join(run, "params", "alpha"), "w") as handle:
    handle.write("0.5")
with open(os.path.join(run, "tags", "huge"), "w") as handle:
    handle.write("x" * (1024 * 1024))  # far beyond any tag MLflow keeps
with open(os.path.join(run, "metrics", "loss"), "w") as handle:
    handle.write("1795990000000 0.5 0\nnot a metric line\n1795990000001 0.25 1\n")
os.mkfifo(os.path.join(run, "metrics", "fifo"))  # reading it would block forever
os.symlink(os.path.dirname(secret_file), os.path.join(run, "artifacts", "outside"))
os.symlink(secret_file, os.path.join(run, "artifacts", "stolen.txt"))
with open(os.path.join(run, "artifacts", "kept.txt"), "w") as handle:
    handle.write("a real artifact\n")

nested = os.path.join(root, "0", "ab" * 16)  # a nested run with an alias bomb for meta.yaml
os.makedirs(nested)
with open(os.path.join(nested, "meta.yaml"), "w") as handle:
    handle.write("a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, "
        f"*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}]\n" for i in range(8)))
broken = os.path.join(root, "0", "cd" * 16)  # and one whose meta.yaml is not YAML at all
os.makedirs(broken)
with open(os.path.join(broken, "meta.yaml"), "w") as handle:
    handle.write("run_id: [unclosed\n")
print("hostile content written")
