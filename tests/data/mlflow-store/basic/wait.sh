# Tells the test it runs, waits until the test (having stopped the server) says go, then leaves
# a metric and an artifact that only `proj runs sync` can deliver.
echo before the outage
echo yes > "$1/started"
while [ ! -e "$1/go" ]; do sleep 0.05; done
echo '{"key": "accuracy", "value": 0.9}' >> "$PROJ_OUTPUT_DIR/metrics.jsonl"
echo result > "$PROJ_OUTPUT_DIR/result.txt"
echo after the outage
