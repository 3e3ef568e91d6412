#!/usr/bin/env bash
# Stop what scripts/slurm-up.sh started, by pid file, in reverse order of start:
# slurmd, slurmctld, slurmdbd, MariaDB, munged. Job state under /var/spool is kept
# (pass --purge to also remove it, so job ids start from 1 again). Idempotent.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

stopped=()
for pf in /run/slurm/slurmd.pid /run/slurm/slurmctld.pid /run/slurm/slurmdbd.pid \
          /run/mysqld/mysqld.pid /run/munge/munged.pid; do
    if proj_pid_alive "$pf"; then
        proj_stop_pidfile "$pf" 15
        stopped+=("$(basename "$pf" .pid)")
    fi
done
if [ "${1:-}" = --purge ]; then
    rm -rf /var/spool/slurmctld/* /var/spool/slurmd/*
    stopped+=("(state purged)")
fi
proj_ok "slurm down: ${stopped[*]:-nothing was running}"
