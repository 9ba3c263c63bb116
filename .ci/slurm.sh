#!/usr/bin/env bash
# Start a real Slurm cluster on this host for the `fleet` tests: munge, one slurmctld and N slurmd
# (`slurmd -N nodeK`), all on localhost with their own ports. Does nothing when that cluster answers.
#
#   .ci/slurm.sh [NODES]          start (default 3 nodes: node1..nodeN)
#   .ci/slurm.sh --stop           stop the daemons this script started (by their pid files)
#
# Installs slurm-wlm and munge when missing (Debian/Ubuntu). The nodes differ for real, as broken
# nodes of a real cluster do: a TaskProlog exports LD_LIBRARY_PATH=/usr/local/cuda-10.2/lib64 into
# every task on $DLDOCTOR_SLURM_ODD_NODE (default node2), and $DLDOCTOR_SLURM_GRES_NODE (default
# node3) is told it has one GPU (GRES gpu:1) that the machine does not have.
# Settings: DLDOCTOR_SLURM_DIR (config, state, logs; default /tmp/dldoctor-slurm), DLDOCTOR_SLURM_PORT
# (slurmctld's port; node K listens on PORT+K), DLDOCTOR_SLURM_TIMEOUT (seconds to wait for the nodes).
# Clients find the cluster through SLURM_CONF=$DLDOCTOR_SLURM_DIR/slurm.conf.
set -euo pipefail

dir="${DLDOCTOR_SLURM_DIR:-/tmp/dldoctor-slurm}"
port="${DLDOCTOR_SLURM_PORT:-17000}"
timeout_s="${DLDOCTOR_SLURM_TIMEOUT:-60}"
odd="${DLDOCTOR_SLURM_ODD_NODE-node2}"
gres_node="${DLDOCTOR_SLURM_GRES_NODE-node3}"
conf="$dir/slurm.conf"
export SLURM_CONF="$conf"

sudo_cmd=()
if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null 2>&1 || { echo "slurm.sh: need root or sudo" >&2; exit 1; }
    sudo_cmd=(sudo -n)
fi

stop() {
    local pidfile pid
    for pidfile in "$dir"/run/*.pid; do
        [ -e "$pidfile" ] || continue
        pid="$(cat "$pidfile")"
        "${sudo_cmd[@]}" kill "$pid" 2>/dev/null || true
        # Wait until it is gone: a new daemon on the same port would fail beside it.
        for _ in $(seq 1 20); do [ -d "/proc/$pid" ] && [ "$(cut -d' ' -f3 "/proc/$pid/stat" 2>/dev/null)" != Z ] || break; sleep 0.5; done
        rm -f "$pidfile"
    done
}
if [ "${1:-}" = "--stop" ]; then
    stop
    echo "== slurm: stopped the daemons of $dir"
    exit 0
fi
nodes="${1:-3}"
case "$nodes" in ''|*[!0-9]*) echo "slurm.sh: NODES must be a number, not $nodes" >&2; exit 2;; esac

missing=()
command -v slurmctld >/dev/null 2>&1 || missing+=(slurm-wlm)
command -v munged >/dev/null 2>&1 || missing+=(munge)
if [ "${#missing[@]}" -gt 0 ]; then
    echo "== slurm: installing ${missing[*]}"
    "${sudo_cmd[@]}" apt-get update -qq
    DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# --- munge: one key, one daemon for every cluster on this host ---------------------------------
munge_answers() { timeout 5 munge -n 2>/dev/null | timeout 5 unmunge >/dev/null 2>&1; }
if ! munge_answers; then
    if [ ! -s /etc/munge/munge.key ]; then
        "${sudo_cmd[@]}" mkdir -p /etc/munge
        if command -v mungekey >/dev/null 2>&1; then
            "${sudo_cmd[@]}" mungekey --create --force --keyfile=/etc/munge/munge.key
        else
            "${sudo_cmd[@]}" dd if=/dev/urandom of=/etc/munge/munge.key bs=1024 count=1 status=none
        fi
        "${sudo_cmd[@]}" chmod 400 /etc/munge/munge.key
    fi
    "${sudo_cmd[@]}" mkdir -p /run/munge /var/log/munge /var/lib/munge
    echo "== slurm: starting munged"
    "${sudo_cmd[@]}" munged --force
    for _ in $(seq 1 20); do munge_answers && break; sleep 0.5; done
    munge_answers || { echo "slurm.sh: munged does not answer" >&2; exit 1; }
fi

daemons_alive() {
    local pidfile
    for pidfile in "$dir/run/slurmctld.pid" $(seq -f "$dir/run/slurmd-node%g.pid" 1 "$nodes"); do
        [ -s "$pidfile" ] || return 1
        # alive and not a zombie
        [ "$(cut -d' ' -f3 "/proc/$(cat "$pidfile")/stat" 2>/dev/null)" ] || return 1
        [ "$(cut -d' ' -f3 "/proc/$(cat "$pidfile")/stat")" != Z ] || return 1
    done
}
cluster_answers() {
    [ -s "$conf" ] || return 1
    local up
    up="$(timeout 10 sinfo -h -N -o '%N %t' 2>/dev/null | awk '$2 ~ /^(idle|mix|alloc)/' | wc -l)"
    [ "$up" -ge "$nodes" ]
}
# A slurmd killed by a test leaves its node "idle" in sinfo for SlurmdTimeout: look at the daemons too.
if daemons_alive && cluster_answers && [ "$(grep -c '^NodeName=' "$conf")" -eq "$nodes" ]; then
    echo "== slurm: the cluster of $conf already answers ($nodes nodes)"
    exit 0
fi
stop

# --- the configuration --------------------------------------------------------------------------
mkdir -p "$dir/run" "$dir/state" "$dir/log" "$dir/spool"
cat >"$dir/task_prolog.sh" <<PROLOG
#!/bin/sh
# Runs before every task; what it prints as "export NAME=value" lands in the task's environment.
# One node carries a module that points LD_LIBRARY_PATH at an old CUDA, as a botched upgrade leaves.
if [ "\$SLURMD_NODENAME" = "$odd" ]; then
    echo "export LD_LIBRARY_PATH=/usr/local/cuda-10.2/lib64"
fi
# A test makes one node slow by writing seconds into $dir/slow-NODE (to lose that node mid-run).
if [ -s "$dir/slow-\$SLURMD_NODENAME" ]; then
    sleep "\$(cat "$dir/slow-\$SLURMD_NODENAME")"
fi
PROLOG
chmod 755 "$dir/task_prolog.sh"

cpus="$(nproc)"
{
    echo "# Written by .ci/slurm.sh: $nodes slurmd on this host, one slurmctld."
    echo "ClusterName=dldoctor$port"
    echo "SlurmctldHost=localhost"
    echo "SlurmctldPort=$port"
    echo "SlurmUser=root"
    echo "SlurmdUser=root"
    echo "AuthType=auth/munge"
    echo "StateSaveLocation=$dir/state"
    echo "SlurmdSpoolDir=$dir/spool/%n"
    echo "SlurmctldPidFile=$dir/run/slurmctld.pid"
    echo "SlurmdPidFile=$dir/run/slurmd-%n.pid"
    echo "SlurmctldLogFile=$dir/log/slurmctld.log"
    echo "SlurmdLogFile=$dir/log/slurmd-%n.log"
    echo "ProctrackType=proctrack/linuxproc"
    echo "TaskPlugin=task/none"
    echo "TaskProlog=$dir/task_prolog.sh"
    echo "SelectType=select/cons_tres"
    echo "SelectTypeParameters=CR_Core"
    echo "SchedulerType=sched/builtin"
    echo "MpiDefault=none"
    echo "ReturnToService=2"
    echo "SlurmdTimeout=300"
    echo "InactiveLimit=0"
    echo "KillWait=5"
    echo "GresTypes=gpu"
    echo "SlurmdParameters=config_overrides"
    echo "JobAcctGatherType=jobacct_gather/none"
    for k in $(seq 1 "$nodes"); do
        gres=""
        [ "node$k" = "$gres_node" ] && gres=" Gres=gpu:1"
        echo "NodeName=node$k NodeHostname=localhost NodeAddr=127.0.0.1 Port=$((port + k)) CPUs=$cpus RealMemory=1000$gres State=UNKNOWN"
    done
    echo "PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP OverSubscribe=FORCE:8"
} >"$conf"
# A GPU the scheduler believes in and the machine lacks (File=/dev/null: nothing to bind).
if [ -n "$gres_node" ]; then
    echo "NodeName=$gres_node Name=gpu Count=1 File=/dev/null" >"$dir/gres.conf"
else
    : >"$dir/gres.conf"
fi

# --- the daemons ---------------------------------------------------------------------------------
echo "== slurm: starting slurmctld and $nodes slurmd (config $conf, log $dir/log)"
"${sudo_cmd[@]}" env SLURM_CONF="$conf" slurmctld -i -f "$conf"
for k in $(seq 1 "$nodes"); do
    mkdir -p "$dir/spool/node$k"
    "${sudo_cmd[@]}" env SLURM_CONF="$conf" slurmd -N "node$k" -f "$conf"
done

waited=0
until cluster_answers; do
    if [ "$waited" -ge "$timeout_s" ]; then
        echo "slurm.sh: the $nodes nodes were not up after ${timeout_s}s; sinfo says:" >&2
        timeout 10 sinfo -N 2>&1 | tail -n 20 >&2 || true
        tail -n 5 "$dir"/log/*.log >&2 || true
        exit 1
    fi
    sleep 1
    waited=$((waited + 1))
done
echo "== slurm: $nodes nodes up (SLURM_CONF=$conf)"
