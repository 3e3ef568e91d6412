#!/usr/bin/env bash
# A single-node Slurm cluster on this machine (Debian bookworm's Slurm 22.05), without systemd.
#
#   SLURM_ACCOUNTING=1  also run MariaDB (unix socket only) + slurmdbd, so `sacct` works
#                       (default 0: no accounting; `sacct` then fails, squeue/scontrol work)
#   SLURM_UP_TIMEOUT    seconds to wait for the node to become idle (default 60)
#
# One node "localhost" (127.0.0.1) in one partition "debug" (the default), with all of this
# machine's CPUs and most of its memory. Jobs run as the submitting user (root here). No
# cgroups are used (proctrack/linuxproc, task/none): nothing to set up on this VM's cgroup v1.
# Idempotent: when the daemons already run with the same configuration it only says so; when
# the configuration changed (e.g. SLURM_ACCOUNTING toggled) it restarts them.
set -euo pipefail
HERE=$(dirname "${BASH_SOURCE[0]}")
. "$HERE/lib.sh"

ACCT=${SLURM_ACCOUNTING:-0}
TIMEOUT=${SLURM_UP_TIMEOUT:-60}
CONF=/etc/slurm/slurm.conf
LOGDIR=/var/log/slurm

PKGS=(slurmctld slurmd slurm-client munge)
[ "$ACCT" = 1 ] && PKGS+=(slurmdbd mariadb-server)
proj_apt_install "${PKGS[@]}"

# ---- the configuration we want
cpus=$(nproc)
# Declare ~90% of RAM so that jobs asking for --mem are schedulable; slurmd refuses to register a
# node that claims more memory than it has.
mem_mb=$(awk '/^MemTotal:/ { printf "%d", $2 / 1024 * 0.9 }' /proc/meminfo)
if [ "$ACCT" = 1 ]; then
    acct_lines="AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=localhost
AccountingStoragePort=6819
JobAcctGatherType=jobacct_gather/linux"
else
    acct_lines="AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none"
fi
want_conf="# Written by proj scripts/slurm-up.sh: single-node test cluster.
ClusterName=proj
SlurmctldHost=localhost(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
MpiDefault=none
MailProg=/bin/true
# no cgroups: plain process tracking
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SwitchType=switch/none
ReturnToService=2
SlurmctldPort=6817
SlurmdPort=6818
SlurmctldPidFile=/run/slurm/slurmctld.pid
SlurmdPidFile=/run/slurm/slurmd.pid
StateSaveLocation=/var/spool/slurmctld
SlurmdSpoolDir=/var/spool/slurmd
SlurmctldLogFile=${LOGDIR}/slurmctld.log
SlurmdLogFile=${LOGDIR}/slurmd.log
SchedulerType=sched/backfill
# the default batch_sched_delay=3 holds back-to-back submissions up to ~3 s
SchedulerParameters=batch_sched_delay=0
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
${acct_lines}
JobCompType=jobcomp/filetxt
JobCompLoc=${LOGDIR}/jobcomp.log
# finished jobs stay visible to scontrol / squeue -t all for this many seconds
MinJobAge=600
NodeName=localhost NodeAddr=127.0.0.1 CPUs=${cpus} RealMemory=${mem_mb} State=UNKNOWN
PartitionName=debug Nodes=localhost Default=YES MaxTime=INFINITE State=UP"

node_state() { sinfo -h -n localhost -o '%T' 2>/dev/null; }
node_ready() { case $(node_state) in idle|mixed|allocated|completing) return 0;; esac; return 1; }
munge_ok() { munge -n </dev/null 2>/dev/null | unmunge >/dev/null 2>&1; }
dbd_ok() { sacctmgr -n show cluster format=cluster 2>/dev/null | grep -qw proj; }

# ---- fast path: same configuration and everything answers
if [ -f "$CONF" ] && [ "$(cat "$CONF")" = "$want_conf" ] \
        && proj_pid_alive /run/slurm/slurmctld.pid slurmctld && proj_pid_alive /run/slurm/slurmd.pid slurmd \
        && { [ "$ACCT" != 1 ] || proj_pid_alive /run/slurm/slurmdbd.pid slurmdbd; } \
        && munge_ok && node_ready; then
    proj_ok "slurm already running (node localhost $(node_state), accounting=${ACCT})"
    exit 0
fi

# Configuration changed or something is down: stop whatever runs and start cleanly.
if [ -f "$CONF" ] && [ "$(cat "$CONF")" != "$want_conf" ]; then
    "$HERE/slurm-down.sh" >/dev/null
fi
mkdir -p /etc/slurm /run/slurm /var/spool/slurmctld /var/spool/slurmd "$LOGDIR"
printf '%s\n' "$want_conf" >"$CONF"

# ---- munge: authentication for every Slurm message. The package's postinst made the key.
[ -s /etc/munge/munge.key ] || { mungekey --create --force >/dev/null 2>&1 || proj_fail "no munge key"; }
chown munge:munge /etc/munge/munge.key
chmod 400 /etc/munge/munge.key
if ! munge_ok; then
    mkdir -p /run/munge /var/log/munge
    chown munge:munge /run/munge /var/log/munge
    # a munged killed uncleanly leaves its socket behind and the new one refuses to start
    proj_pid_alive /run/munge/munged.pid munged || rm -f /run/munge/munged.pid /run/munge/munge.socket.2*
    proj_run_closed runuser -u munge -- /usr/sbin/munged || proj_fail "munged did not start" /var/log/munge/munged.log
    proj_wait_for 10 munge_ok || proj_fail "munge does not answer" /var/log/munge/munged.log
fi

# ---- optional accounting: MariaDB on its unix socket only, then slurmdbd
if [ "$ACCT" = 1 ]; then
    if ! mysqladmin ping >/dev/null 2>&1; then
        mkdir -p /run/mysqld && chown mysql:mysql /run/mysqld
        proj_spawn "$LOGDIR/mariadbd.log" /usr/sbin/mariadbd --user=mysql --skip-networking \
            --socket=/run/mysqld/mysqld.sock --pid-file=/run/mysqld/mysqld.pid
        PROJ_WAIT_PID=$PROJ_SPAWNED_PID proj_wait_for 30 mysqladmin ping \
            || proj_fail "mariadb did not start" "$LOGDIR/mariadbd.log"
    fi
    mysql -e "CREATE DATABASE IF NOT EXISTS slurm_acct_db;
              CREATE USER IF NOT EXISTS 'slurm'@'localhost' IDENTIFIED BY 'slurmpw';
              GRANT ALL ON slurm_acct_db.* TO 'slurm'@'localhost'; FLUSH PRIVILEGES;" \
        || proj_fail "mariadb: cannot create the accounting database" "$LOGDIR/mariadbd.log"
    umask 077
    cat >/etc/slurm/slurmdbd.conf <<EOF
AuthType=auth/munge
DbdHost=localhost
DbdAddr=127.0.0.1
DbdPort=6819
SlurmUser=root
LogFile=${LOGDIR}/slurmdbd.log
PidFile=/run/slurm/slurmdbd.pid
StorageType=accounting_storage/mysql
StorageHost=localhost
StorageUser=slurm
StoragePass=slurmpw
StorageLoc=slurm_acct_db
EOF
    umask 022
    if ! proj_pid_alive /run/slurm/slurmdbd.pid slurmdbd; then
        proj_run_closed /usr/sbin/slurmdbd || proj_fail "slurmdbd did not start" "$LOGDIR/slurmdbd.log"
    fi
    # the cluster must be registered before slurmctld starts, or it runs without accounting
    proj_wait_for 30 sacctmgr -n show cluster || proj_fail "slurmdbd not answering" "$LOGDIR/slurmdbd.log"
    dbd_ok || sacctmgr -i add cluster proj >/dev/null || proj_fail "sacctmgr add cluster" "$LOGDIR/slurmdbd.log"
fi

# ---- controller and node daemon (both daemonize and write their pid files)
if ! proj_pid_alive /run/slurm/slurmctld.pid slurmctld; then
    proj_run_closed /usr/sbin/slurmctld || proj_fail "slurmctld did not start" "$LOGDIR/slurmctld.log"
fi
if ! proj_pid_alive /run/slurm/slurmd.pid slurmd; then
    proj_run_closed /usr/sbin/slurmd -N localhost || proj_fail "slurmd did not start" "$LOGDIR/slurmd.log"
fi
if ! proj_wait_for "$TIMEOUT" node_ready; then
    tail -n 15 "$LOGDIR/slurmd.log" >&2 2>/dev/null || true
    proj_fail "node localhost is '$(node_state)', not idle, after ${TIMEOUT}s" "$LOGDIR/slurmctld.log" 15
fi

# ---- a probe job: after a restart slurmctld reports the node idle from its saved state before
# slurmd has registered, so only a job that really ran proves the cluster works.
probe_dir=$(mktemp -d /tmp/proj-slurm-probe.XXXXXX)
trap 'rm -rf "$probe_dir"' EXIT
t=${EPOCHREALTIME}
job=$(sbatch --parsable --job-name=proj-probe --chdir="$probe_dir" -o "$probe_dir/%j.out" \
        --wrap 'echo probe-ok') || proj_fail "sbatch refused the probe job" "$LOGDIR/slurmctld.log"
job_state() { scontrol show job "$job" 2>/dev/null | grep -o 'JobState=[A-Z_]*' | cut -d= -f2; }
job_done() { case $(job_state) in COMPLETED|FAILED|CANCELLED|TIMEOUT|NODE_FAIL|OUT_OF_MEMORY|BOOT_FAIL|DEADLINE) return 0;; esac; return 1; }
proj_wait_for "$TIMEOUT" job_done || { scancel "$job" 2>/dev/null || true;
    proj_fail "probe job $job still $(job_state) after ${TIMEOUT}s" "$LOGDIR/slurmctld.log" 15; }
[ "$(job_state)" = COMPLETED ] || proj_fail "probe job $job ended $(job_state)" "$LOGDIR/slurmd.log" 15
# slurmd writes the output file just before reporting completion; allow for a slow disk anyway
proj_wait_for 5 grep -qx probe-ok "$probe_dir/$job.out" \
    || proj_fail "probe job $job completed but wrote no output" "$LOGDIR/slurmd.log" 15
proj_ok "slurm up: node localhost $(node_state), ${cpus} CPUs, ${mem_mb} MB, accounting=${ACCT}; probe job ran in $(proj_since "$t") s"
