"""A one-node Slurm cluster on this machine for tests: munged + slurmctld + slurmd, all state in
one temporary folder, free ports picked at start, stopped (and their processes ended) at exit.

Needs Debian's ``slurm-wlm`` and ``munge`` and root (slurmd launches jobs as their owner).
``local_slurm(cpus=2)`` is a context manager yielding the environment (``SLURM_CONF``) under
which ``sbatch``/``srun``/``squeue`` talk to that cluster; its folder is a short one in /tmp (Unix
socket paths of slurmstepd must stay under 108 characters), removed at the end.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

DAEMONS = ("munged", "slurmctld", "slurmd")


def missing() -> str | None:
    """Why a local cluster cannot start here, or None."""
    for exe in ("munged", "slurmctld", "slurmd", "sbatch", "srun", "squeue"):
        if shutil.which(exe) is None and not Path("/usr/sbin", exe).exists():
            return f"{exe} not found (Debian packages slurm-wlm and munge)"
    if os.geteuid() != 0:
        return "a local Slurm cluster needs root (slurmd starts jobs as their owner)"
    return None


def _exe(name: str) -> str:
    return shutil.which(name) or str(Path("/usr/sbin", name))


def _free_ports(n: int) -> list[int]:
    socks, ports = [], []
    for _ in range(n):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        socks.append(s)
        ports.append(s.getsockname()[1])
    for s in socks:
        s.close()
    return ports


def _pid(path: Path) -> int | None:
    try:
        return int(path.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def _wait(cond, timeout_s: float, what: str, logs: list[Path]):
    t_end = time.monotonic() + timeout_s
    while time.monotonic() < t_end:
        if cond():
            return
        time.sleep(0.3)
    tail = "\n".join(f"--- {p}\n{p.read_text(errors='replace')[-3000:]}" for p in logs if p.exists())
    raise RuntimeError(f"local Slurm: {what} did not happen in {timeout_s} s\n{tail}")


@contextlib.contextmanager
def local_slurm(cpus: int = 2):
    tmp = Path(tempfile.mkdtemp(prefix="asl", dir="/tmp"))
    os.chmod(tmp, 0o755)
    for d in ("munge", "state", "spool", "log"):
        (tmp / d).mkdir(exist_ok=True)
        os.chmod(tmp / d, 0o700 if d == "munge" else 0o755)
    key = tmp / "munge" / "munge.key"
    key.write_bytes(os.urandom(1024))
    os.chmod(key, 0o400)
    sock = tmp / "munge" / "munge.socket"
    ctld_port, node_port = _free_ports(2)
    node = f"argyro{node_port}"
    host = socket.gethostname()
    conf = tmp / "slurm.conf"
    conf.write_text(f"""ClusterName=argyrotest
SlurmctldHost={host}(127.0.0.1)
SlurmctldPort={ctld_port}
SlurmdPort={node_port}
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket={sock}
CredType=cred/munge
StateSaveLocation={tmp}/state
SlurmdSpoolDir={tmp}/spool
SlurmctldPidFile={tmp}/slurmctld.pid
SlurmdPidFile={tmp}/slurmd.pid
SlurmctldLogFile={tmp}/log/slurmctld.log
SlurmdLogFile={tmp}/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
MpiDefault=none
ReturnToService=2
SlurmdParameters=config_overrides
SchedulerType=sched/builtin
PlugStackConfig={tmp}/plugstack.conf
NodeName={node} NodeAddr=127.0.0.1 NodeHostname={host} CPUs={cpus} State=UNKNOWN
PartitionName=debug Nodes={node} Default=YES MaxTime=INFINITE State=UP
""")
    (tmp / "plugstack.conf").write_text("")
    env = dict(os.environ, SLURM_CONF=str(conf))
    logs = [tmp / "log" / "munged.log", tmp / "log" / "slurmctld.log", tmp / "log" / "slurmd.log"]
    pidfiles = {"munged": tmp / "munge" / "munged.pid", "slurmctld": tmp / "slurmctld.pid",
                "slurmd": tmp / "slurmd.pid"}
    try:
        subprocess.run([_exe("munged"), f"--socket={sock}", f"--key-file={key}",
                        f"--pid-file={pidfiles['munged']}", f"--log-file={logs[0]}",
                        f"--seed-file={tmp / 'munge' / 'seed'}", "--force"], check=True, env=env,
                       capture_output=True, timeout=30)
        subprocess.run([_exe("slurmctld"), "-f", str(conf)], check=True, env=env, capture_output=True, timeout=30)
        subprocess.run([_exe("slurmd"), "-f", str(conf), "-N", node], check=True, env=env,
                       capture_output=True, timeout=30)

        def node_idle():
            p = subprocess.run(["sinfo", "-h", "-N", "-o", "%T"], env=env, capture_output=True, text=True)
            return p.returncode == 0 and p.stdout.strip().startswith("idle")

        _wait(node_idle, 60, "node becoming idle", logs)
        yield env
    finally:
        subprocess.run(["scancel", "--user=root"], env=env, capture_output=True, timeout=30)
        for name in ("slurmd", "slurmctld", "munged"):
            pid = _pid(pidfiles[name])
            if pid is None:
                continue
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
            t_end = time.monotonic() + 15
            while time.monotonic() < t_end:
                try:
                    os.kill(pid, 0)
                except ProcessLookupError:
                    break
                time.sleep(0.2)
            else:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
        shutil.rmtree(tmp, ignore_errors=True)


def sbatch_wait(script: Path, env: dict, timeout_s: float = 600) -> tuple[str, str]:
    """Submit ``script`` from its folder and wait for the job to end; (final JobState, scontrol's
    record). A job Slurm holds (a launch failure requeues it held) or one past ``timeout_s`` is
    cancelled and reported with its state instead of waiting for ever."""
    p = subprocess.run(["sbatch", "--parsable", str(script)], cwd=str(script.parent), env=env,
                       capture_output=True, text=True, timeout=60)
    if p.returncode != 0:
        return "SUBMIT_FAILED", p.stdout + p.stderr
    job = p.stdout.strip().split(";")[0]
    t_end = time.monotonic() + timeout_s
    record = ""
    while time.monotonic() < t_end:
        q = subprocess.run(["scontrol", "show", "job", job, "-o"], env=env, capture_output=True, text=True, timeout=30)
        record = q.stdout.strip()
        fields = dict(f.split("=", 1) for f in record.split() if "=" in f)
        state, reason = fields.get("JobState", "?"), fields.get("Reason", "")
        if state not in ("PENDING", "RUNNING", "CONFIGURING", "COMPLETING", "?"):
            return state, record
        if state == "PENDING" and ("held" in reason.lower() or "launch failed" in reason.lower()):
            subprocess.run(["scancel", job], env=env, capture_output=True, timeout=30)
            return f"HELD({reason})", record
        time.sleep(1.0)
    subprocess.run(["scancel", job], env=env, capture_output=True, timeout=30)
    return "WAIT_TIMEOUT", record
