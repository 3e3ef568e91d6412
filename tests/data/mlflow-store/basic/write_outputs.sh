# Writes what a training run leaves: metrics (one JSON object a line) and an artifact.
echo '{"key": "loss", "value": 0.5, "step": 1}' >> "$PROJ_OUTPUT_DIR/metrics.jsonl"
echo '{"key": "loss", "value": 0.25, "step": 2}' >> "$PROJ_OUTPUT_DIR/metrics.jsonl"
echo '{"key": "bad!name", "value": 1}' >> "$PROJ_OUTPUT_DIR/metrics.jsonl"
mkdir -p "$PROJ_OUTPUT_DIR/model"
echo weights > "$PROJ_OUTPUT_DIR/model/weights.txt"
echo done
