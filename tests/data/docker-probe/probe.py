"""Reports what the container sees: arguments, variables, folder, files, user, limits."""

import json
import os
import sys


def memory_limit():
    for path in ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"):
        if os.path.exists(path):
            return open(path).read().strip()
    return None


def root_writable():
    try:
        open("/probe-write-test", "w").close()
        return True
    except OSError:
        return False


# One write per stream: print() writes the text and its newline separately, and docker may deliver
# the other stream's output between the two (the test then finds no line starting with "{").
sys.stderr.write("to stderr\n")
sys.stderr.flush()
sys.stdout.write(json.dumps({
    "argv": sys.argv[1:],
    "env": dict(os.environ),
    "cwd": os.getcwd(),
    "files": sorted(os.listdir(".")),
    "uid": os.getuid(),
    "memory_limit": memory_limit(),
    "root_writable": root_writable(),
    "scratch_is_mount": os.path.ismount("/scratch"),
}) + "\n")
