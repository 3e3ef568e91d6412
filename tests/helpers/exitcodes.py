"""proj's own exit codes as docs/exit-codes.md documents them (tests/test_exit_codes.py checks
that these, the table and runner.errors.ExitCode agree). Written out as numbers on purpose: a
test that asserts USAGE asserts 125, whatever the code says."""

DIFFERS = 124  # rerun --check / runs diff --exit-code: not reproduced
TIMED_OUT = 124  # runs wait --timeout gave up
USAGE = 125  # proj refused: nothing ran, nothing recorded
SETUP = 126  # fetch, environment, tracking, missing extra: the command did not start
