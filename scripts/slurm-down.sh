#!/usr/bin/env bash
# Stop what scripts/slurm-up.sh started, by pid file, in reverse order of start:
# slurmd, slurmctld, slurmdbd, MariaDB, munged. Job state under /var/spool is kept
# (pass --purge to also remove it, so job ids start from 1 again). Idempotent.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

stopped=()
# pid file : the name its process's command line must contain
for entry in /run/slurm/slurmd.pid:slurmd /run/slurm/slurmctld.pid:slurmctld \
             /run/slurm/slurmdbd.pid:slurmdbd /run/mysqld/mysqld.pid:mariadbd \
             /run/munge/munged.pid:munged; do
    pf=${entry%%:*} name=${entry##*:}
    if proj_pid_alive "$pf" "$name"; then
        proj_stop_pidfile "$pf" 15
        stopped+=("$name")
    fi
done
if [ "${1:-}" = --purge ]; then
    rm -rf /var/spool/slurmctld/* /var/spool/slurmd/*
    stopped+=("(state purged)")
fi
proj_ok "slurm down: ${stopped[*]:-nothing was running}"
