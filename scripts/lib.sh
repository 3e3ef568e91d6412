# shellcheck shell=bash
# Helpers shared by the provisioning scripts in this folder. Source it, do not run it:
#   . "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
#
# Every script prints exactly one short line on success ("<what> ... in N.NN s") and, on failure,
# the tail of the log that explains it, then exits non-zero.

# Wall-clock start of the sourcing script; bash 5's $EPOCHREALTIME avoids forking `date`/`bc`.
PROJ_T0=${EPOCHREALTIME}

# Seconds since a start time taken from $EPOCHREALTIME, two decimals: proj_since "$t0"
proj_since() {
    local now=${EPOCHREALTIME}
    # EPOCHREALTIME is "seconds.micros"; do the arithmetic in integer microseconds.
    local us=$(( ${now/./} - ${1/./} ))
    printf '%d.%02d' $(( us / 1000000 )) $(( (us % 1000000) / 10000 ))
}

# Seconds since the script started.
proj_elapsed() { proj_since "$PROJ_T0"; }

# The one success line: "ok: <message> (N.NN s)".
proj_ok() {
    echo "ok: $* ($(proj_elapsed) s)"
}

# Print an error, the last lines of a log file (if given and present), and exit 1.
#   proj_fail "message" [logfile] [lines]
proj_fail() {
    local msg=$1 log=${2:-} n=${3:-30}
    echo "FAILED: ${msg} (after $(proj_elapsed) s)" >&2
    if [ -n "$log" ] && [ -s "$log" ]; then
        echo "--- last ${n} lines of ${log}:" >&2
        tail -n "$n" "$log" >&2
    fi
    exit 1
}

# True when every named Debian package is installed (not just "known" / config-files).
proj_have_pkgs() {
    local p status
    for p in "$@"; do
        status=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null) || return 1
        [ "$status" = installed ] || return 1
    done
}

# Install the Debian packages that are missing, in one apt-get call, without recommends.
# Runs `apt-get update` first only when the package lists are absent (a fresh machine) or when
# the install fails because a list is stale. Output goes to a log; its tail is shown on failure.
proj_apt_install() {
    local missing=() p
    for p in "$@"; do proj_have_pkgs "$p" || missing+=("$p"); done
    [ ${#missing[@]} -eq 0 ] && return 0
    local log=/var/log/proj-apt.log
    if ! compgen -G '/var/lib/apt/lists/*_Packages*' >/dev/null; then
        apt-get update >>"$log" 2>&1 || proj_fail "apt-get update" "$log"
    fi
    if ! DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
            "${missing[@]}" >>"$log" 2>&1; then
        apt-get update >>"$log" 2>&1 || proj_fail "apt-get update" "$log"
        DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
            "${missing[@]}" >>"$log" 2>&1 || proj_fail "apt-get install ${missing[*]}" "$log"
    fi
}

# Close every file descriptor above stderr in the current (sub)shell. Call it in the subshell
# that execs a daemon, so the daemon holds none of the caller's pipes: a CI harness that waits
# for its pipes to close would otherwise wait for the daemon to exit.
proj_close_fds() {
    local fd
    for fd in /proc/self/fd/*; do
        fd=${fd##*/}
        if [ "$fd" -gt 2 ]; then eval "exec ${fd}>&-" 2>/dev/null || true; fi
    done
}

# Start a long-running command as a daemon: new session, stdin from /dev/null, stdout+stderr
# appended to LOG, no inherited descriptors. Sets PROJ_SPAWNED_PID (the daemon's own pid).
#   proj_spawn /var/log/x.log dockerd --flag
proj_spawn() {
    local log=$1; shift
    (
        proj_close_fds
        exec setsid "$@" >>"$log" 2>&1 </dev/null
    ) &
    # shellcheck disable=SC2034  # read by the caller
    PROJ_SPAWNED_PID=$!
}

# Run a command that daemonizes itself (forks and returns), without passing it our descriptors.
#   proj_run_closed /usr/sbin/slurmctld
proj_run_closed() {
    ( proj_close_fds; exec "$@" </dev/null )
}

# Poll a command (given as arguments) every 0.1 s until it succeeds or `timeout` seconds pass.
#   proj_wait_for 60 docker version   -> returns 0 when ready, 1 on timeout
# If PROJ_WAIT_PID is set and that process dies, give up at once (returns 2).
proj_wait_for() {
    local timeout=$1; shift
    local deadline=$(( ${EPOCHREALTIME/./} + timeout * 1000000 ))
    while :; do
        "$@" >/dev/null 2>&1 && return 0
        if [ -n "${PROJ_WAIT_PID:-}" ] && ! proj_alive "$PROJ_WAIT_PID"; then
            return 2
        fi
        [ "${EPOCHREALTIME/./}" -ge "$deadline" ] && return 1
        sleep 0.1
    done
}

# True when the pid is a live process. A zombie is not alive: `kill -0` succeeds on one, and on
# these VMs PID 1 may reap killed daemons only much later, so their pid files look valid.
proj_alive() {
    local pid=$1 stat
    [[ $pid =~ ^[0-9]+$ ]] || return 1
    stat=$(cat "/proc/$pid/stat" 2>/dev/null) || return 1
    stat=${stat##*) }                      # drop "pid (comm) ", comm may contain spaces
    case ${stat%% *} in Z|X) return 1;; esac
    return 0
}

# True when some live (non-zombie) process belongs to process group $1.
proj_group_alive() {
    ps -e -o pgid=,stat= | awk -v g="$1" '$1 == g && $2 !~ /^[ZX]/ { found = 1 } END { exit !found }'
}

# True when the pid in the given pid file is alive and, if a name is given, its command line
# contains that name (guards against a stale pid file whose pid was reused).
#   proj_pid_alive /run/slurm/slurmd.pid slurmd
proj_pid_alive() {
    local pf=$1 name=${2:-} pid
    [ -s "$pf" ] || return 1
    pid=$(cat "$pf")
    proj_alive "$pid" || return 1
    [ -z "$name" ] && return 0
    local cmd
    cmd=$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null) || return 1
    [[ $cmd == *"$name"* ]]
}

# Send TERM to the pid in a pid file, wait up to `timeout` s, then KILL. Removes the pid file.
#   proj_stop_pidfile /run/x.pid [timeout]   -> prints nothing; returns 0 if nothing was running
proj_stop_pidfile() {
    local pf=$1 timeout=${2:-15} pid i
    [ -s "$pf" ] || { rm -f "$pf"; return 0; }
    pid=$(cat "$pf")
    if [ -n "$pid" ] && kill -TERM "$pid" 2>/dev/null; then
        for (( i = 0; i < timeout * 10; i++ )); do
            proj_alive "$pid" || break
            sleep 0.1
        done
        if proj_alive "$pid"; then
            echo "pid $pid ($pf) ignored TERM for ${timeout}s; sending KILL" >&2
            kill -KILL "$pid" 2>/dev/null || true
        fi
    fi
    rm -f "$pf"
}
