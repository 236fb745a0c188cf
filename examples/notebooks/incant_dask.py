"""Dask workers as HTCondor jobs on the INCANT pool, from a notebook.

What dask-jobqueue's HTCondorCluster does, in the small: a Dask scheduler runs in the notebook's
server; `dask worker tcp://<server>:<port>` jobs are submitted to the pool's schedd with the
user's own IAM token (BEARER_TOKEN, SciTokens), so they run as the user and count in the same
fair share as batch jobs. Written here because the facility's jobs must source the LCG view
before Python starts, and so that the submission can be tested without dask-jobqueue
(tests/pool/dask.test.ts). The submit description is built as data (`submit_description`) and
serialised by `render_submit`.

    from incant_dask import HTCondorDaskWorkers
    with HTCondorDaskWorkers(n_workers=4) as workers:
        client = workers.client()
        ...
"""
import os
import re
import shutil
import socket
import subprocess

from distributed import Client, LocalCluster

_KEY = re.compile(r"^\+?[A-Za-z_][A-Za-z0-9_.]*$")


def condor_arguments(args):
    """The submit file's `arguments` in HTCondor's new syntax: the whole string in double quotes,
    each argument in single quotes, a single (double) quote written twice (condor_submit manual)."""
    quoted = []
    for a in args:
        if "\n" in a or "\r" in a:
            raise ValueError("an argument cannot hold a line end")
        quoted.append("'" + a.replace("'", "''").replace('"', '""') + "'")
    return '"' + " ".join(quoted) + '"'


def worker_command(scheduler_address, lcg_view=None, nthreads=1, memory_limit="2GB", death_timeout=120):
    """The job's executable and arguments: `python3 -m distributed.cli.dask_worker <address>`,
    inside the LCG view when one is given (its python and libraries need its setup.sh)."""
    dask_args = ["-m", "distributed.cli.dask_worker", scheduler_address,
                 "--nthreads", str(nthreads), "--memory-limit", memory_limit,
                 "--no-dashboard", "--death-timeout", str(death_timeout)]
    if lcg_view:
        # The view's path is an argument ($1), never part of the script text.
        script = 'source "$1/setup.sh" && shift && exec python3 "$@"'
        return "/bin/bash", ["-c", script, "incant-dask-worker", lcg_view] + dask_args
    return shutil.which("python3") or "/usr/bin/python3", dask_args


def submit_description(scheduler_address, lcg_view=None, cpus=1, memory_mb=2048, name="dask-workers"):
    """The submit description of one Dask worker job (queued n times), as data."""
    executable, args = worker_command(scheduler_address, lcg_view, nthreads=cpus, memory_limit=f"{memory_mb}MB")
    return {
        "universe": "vanilla",
        "executable": executable,
        # The interpreter lives on every worker (CVMFS, or the image): nothing to copy.
        "transfer_executable": "false",
        "arguments": condor_arguments(args),
        "request_cpus": str(cpus),
        "request_memory": f"{memory_mb}MB",
        "request_disk": "1GB",
        # Spooled with the job (remote submission): condor_transfer_data brings them back.
        "output": "dask-worker.$(ClusterId).$(ProcId).out",
        "error": "dask-worker.$(ClusterId).$(ProcId).err",
        "should_transfer_files": "YES",
        "when_to_transfer_output": "ON_EXIT_OR_EVICT",
        "+JobBatchName": f'"{name}"',
    }


def render_submit(description, count):
    """`key = value` lines and `queue <count>`; refuses keys and values that would break the file."""
    lines = []
    for key, value in description.items():
        if not _KEY.match(key):
            raise ValueError(f"not a submit key: {key!r}")
        if "\n" in value or "\r" in value:
            raise ValueError(f"a line end in {key}")
        lines.append(f"{key} = {value}")
    lines.append(f"queue {int(count)}")
    return "\n".join(lines) + "\n"


def _schedd_name():
    name = os.environ.get("INCANT_SCHEDD")
    if name:
        return name
    out = subprocess.run(["condor_config_val", "SCHEDD_HOST"], capture_output=True, text=True, check=True)
    return out.stdout.strip()


class HTCondorDaskWorkers:
    """A Dask scheduler here and `n_workers` Dask workers as HTCondor jobs of the user."""

    def __init__(self, n_workers=2, host=None, port=8786, lcg_view=None, cpus=1, memory_mb=2048):
        self.host = host or os.environ.get("INCANT_DASK_HOST") or socket.gethostbyname(socket.gethostname())
        self.cluster = LocalCluster(n_workers=0, host=self.host, scheduler_port=port, dashboard_address=None)
        self.address = self.cluster.scheduler_address
        self.schedd = _schedd_name()
        description = submit_description(self.address, lcg_view if lcg_view is not None else os.environ.get("INCANT_LCG_VIEW"), cpus, memory_mb)
        self.submit_file = render_submit(description, n_workers)
        # Remote submission to the pool's schedd, as from the submit host (docs/first-job.md).
        out = subprocess.run(["condor_submit", "-remote", self.schedd, "-terse", "-"], input=self.submit_file,
                             capture_output=True, text=True, timeout=120)
        if out.returncode != 0:
            self.cluster.close()
            # HTCondor's own reason (no token, an expired one, a refused scope) is what the user needs.
            raise RuntimeError(f"condor_submit to {self.schedd} failed: {out.stderr.strip() or out.stdout.strip()}")
        self.cluster_id = int(out.stdout.strip().split(".")[0])

    def client(self):
        return Client(self.cluster)

    def close(self):
        subprocess.run(["condor_rm", "-name", self.schedd, str(self.cluster_id)], capture_output=True, text=True, timeout=60)
        self.cluster.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
