"""One artifact of every kind the run page previews, written into $PROJ_OUTPUT_DIR."""

import json
import os
import struct
import zlib

out = os.environ["PROJ_OUTPUT_DIR"]


def write(path, data):
    full = os.path.join(out, path)
    os.makedirs(os.path.dirname(full), exist_ok=True)
    with open(full, "wb") as handle:
        handle.write(data.encode() if isinstance(data, str) else data)


def png(width, height):
    """A red-to-blue gradient as a PNG, with the standard library only."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    rows = b"".join(b"\0" + bytes(c for x in range(width) for c in (255 * x // width, 64, 255 - 255 * x // width))
                    for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


write("notes.txt", "first line\n<b>not bold</b>\n")
write("config.json", json.dumps({"layers": [64, 32], "dropout": 0.1, "name": "<i>net</i>"}))
write("params.yaml", "optimizer: adam\nschedule:\n  warmup: 100\n  decay: cosine\n")
write("table.csv", "epoch,loss,note\n1,0.9,<script>alert(3)</script>\n2,0.5,ok\n3,0.25,done\n")
write("curve.png", png(60, 20))
write("empty.txt", "")
write("blob.bin", bytes(range(256)) * 4)
write("plot.svg", '<svg xmlns="http://www.w3.org/2000/svg"><script>alert(6)</script></svg>\n')
write("broken.json", '{"unclosed": [1, 2')
signature = {"inputs": json.dumps([{"name": "age", "type": "double"}, {"name": "city", "type": "string"}]),
             "outputs": json.dumps([{"type": "tensor", "tensor-spec": {"dtype": "float64", "shape": [-1]}}])}
mlmodel = ("artifact_path: model\nflavors:\n  python_function:\n    loader_module: mlflow.sklearn\n"
           "  sklearn:\n    sklearn_version: 1.5.0\nmlflow_version: 2.22.0\n"
           f"signature:\n  inputs: '{signature['inputs']}'\n  outputs: '{signature['outputs']}'\n")
write("model/MLmodel", mlmodel)
write("model/model.pkl", b"\x80\x04not really a pickle")
write("model/requirements.txt", "scikit-learn==1.5.0\n")
print("wrote the preview artifacts")
