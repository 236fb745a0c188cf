#!/usr/bin/env python3
"""Prometheus metrics of the HTCondor pool, and of the site squid (issue 17).

A small exporter of ours (components/observability/README.md says why not a third-party one): on
every scrape it asks the pool with HTCondor's own tools, as the daemon it runs beside, in JSON
(`condor_status -json`, `condor_q -json`), and prints the Prometheus text format (version 0.0.4).

  condor-exporter.py --pool  [--port 9620]        slots, startds, negotiator, submitters (central manager)
  condor-exporter.py --queue [--port 9620]        jobs by owner and status (scheduler: its schedd
                                                  authenticates local tools with FS only)
  condor-exporter.py --squid URL [--port 9621]    squid's cache manager counters (a sidecar)
  --once: print one scrape on stdout and exit (tests, debugging).

Only the standard library: it runs in the HTCondor images as they are.
"""
import argparse
import json
import os
import subprocess
import sys
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, HTTPServer

TOOL_TIMEOUT = 20
JOB_STATUS = {1: "idle", 2: "running", 3: "removed", 4: "completed", 5: "held", 6: "transferring", 7: "suspended"}


class Metrics:
    """Samples grouped by metric, with HELP and TYPE lines."""

    def __init__(self):
        self.families = {}

    def add(self, name, kind, help_text, value, labels=None):
        family = self.families.setdefault(name, {"kind": kind, "help": help_text, "samples": []})
        family["samples"].append((labels or {}, value))

    def render(self):
        out = []
        for name, f in self.families.items():
            out.append(f"# HELP {name} {f['help']}")
            out.append(f"# TYPE {name} {f['kind']}")
            for labels, value in f["samples"]:
                text = ",".join(f'{k}="{escape(str(v))}"' for k, v in sorted(labels.items()))
                out.append(f"{name}{{{text}}} {number(value)}" if text else f"{name} {number(value)}")
        return "\n".join(out) + "\n"


def number(value):
    """Integers as integers (timestamps keep every digit), other values as Python writes floats."""
    v = float(value)
    return str(int(v)) if v.is_integer() else repr(v)


def escape(value):
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def ads(args):
    """ClassAds from an HTCondor tool run with -json; None when the tool fails."""
    try:
        r = subprocess.run(args, capture_output=True, text=True, timeout=TOOL_TIMEOUT)
    except (OSError, subprocess.TimeoutExpired):
        return None
    if r.returncode != 0:
        return None
    text = r.stdout.strip()
    return json.loads(text) if text else []


def lines(args):
    """Whitespace-separated fields of each output line (-af), or None when the tool fails."""
    try:
        r = subprocess.run(args, capture_output=True, text=True, timeout=TOOL_TIMEOUT)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return [line.split() for line in r.stdout.splitlines() if line.strip()] if r.returncode == 0 else None


def num(text):
    try:
        return float(text)
    except ValueError:
        return 0


def pool_metrics(m):
    """What the collector knows (run in the central manager pod)."""
    # Slot ads (condor_status' default query; -startd would return the startds' daemon ads).
    slots = ads(["condor_status", "-json", "-attributes", "Name,Machine,State,Cpus,HasCvmfs"])
    m.add("condor_up", "gauge", "1 when the daemon answered the exporter's query", 0 if slots is None else 1, {"daemon": "collector"})
    if slots is not None:
        m.add("condor_startds", "gauge", "Startds (worker pods) advertised in the collector", len({s.get("Machine") for s in slots}))
        by_state = {}
        for s in slots:
            state = s.get("State", "Unknown")
            cpus, count = by_state.get(state, (0, 0))
            by_state[state] = (cpus + int(s.get("Cpus", 0)), count + 1)
        for state in ["Unclaimed", "Claimed", "Owner", "Matched", "Preempting", "Drained", "Backfill"]:
            by_state.setdefault(state, (0, 0))
        for state, (cpus, count) in sorted(by_state.items()):
            m.add("condor_slot_cpus", "gauge", "CPUs of the slots in each state (a partitionable slot counts its unclaimed rest)", cpus, {"state": state})
            m.add("condor_slots", "gauge", "Slots in each state", count, {"state": state})
        machines = {}
        for s in slots:
            machines[s.get("Machine")] = machines.get(s.get("Machine"), True) and s.get("HasCvmfs") is True
        for machine, ok in sorted(machines.items()):
            m.add("condor_startd_has_cvmfs", "gauge", "1 when every configured CVMFS repository answers on the worker (startd cron)", 1 if ok else 0, {"machine": machine})

    negotiators = ads(["condor_status", "-negotiator", "-json", "-attributes", "Name,LastNegotiationCycleDuration0,LastNegotiationCycleEnd0"])
    m.add("condor_up", "gauge", "", 0 if not negotiators else 1, {"daemon": "negotiator"})
    for n in negotiators or []:
        if "LastNegotiationCycleDuration0" in n:
            m.add("condor_negotiator_cycle_duration_seconds", "gauge", "Duration of the last negotiation cycle", n["LastNegotiationCycleDuration0"])
        if "LastNegotiationCycleEnd0" in n:
            m.add("condor_negotiator_last_cycle_end_timestamp_seconds", "gauge", "When the last negotiation cycle ended", n["LastNegotiationCycleEnd0"])

    schedds = ads(["condor_status", "-schedd", "-json", "-attributes", "Name"])
    m.add("condor_schedds", "gauge", "Schedds advertised in the collector", len(schedds or []))

    # The negotiator's accountant (condor_userprio asks the negotiator itself).
    users = lines(["condor_userprio", "-allusers", "-af", "Name", "Priority", "WeightedAccumulatedUsage", "ResourcesUsed", "IsAccountingGroup"])
    for fields in users or []:
        if len(fields) != 5 or fields[4] == "true":
            continue
        labels = {"submitter": fields[0]}
        m.add("condor_submitter_priority", "gauge", "Effective priority of the submitter (lower is better)", num(fields[1]), labels)
        m.add("condor_submitter_cpu_seconds_total", "counter", "CPU-seconds the submitter has used (weighted by cores)", num(fields[2]), labels)
        m.add("condor_submitter_resources_used", "gauge", "Cores the submitter holds now", num(fields[3]), labels)


def queue_metrics(m):
    """The schedd's queue (run in the scheduler pod: the schedd authenticates local tools with FS only)."""
    now = time.time()
    jobs = ads(["condor_q", "-allusers", "-json", "-attributes", "Owner,JobStatus,QDate"])
    m.add("condor_up", "gauge", "1 when the daemon answered the exporter's query", 0 if jobs is None else 1, {"daemon": "schedd"})
    counts, oldest = {}, {}
    for j in jobs or []:
        owner, status = j.get("Owner", "unknown"), JOB_STATUS.get(j.get("JobStatus"), "unknown")
        counts[(owner, status)] = counts.get((owner, status), 0) + 1
        if status == "idle":
            oldest[owner] = max(oldest.get(owner, 0), now - j.get("QDate", now))
    for (owner, status), n in sorted(counts.items()):
        m.add("condor_jobs", "gauge", "Jobs in the queue by owner and status", n, {"owner": owner, "status": status})
    for owner, age in sorted(oldest.items()):
        m.add("condor_jobs_idle_oldest_seconds", "gauge", "Age of the owner's oldest idle job", round(age), {"owner": owner})


def squid_metrics(m, url):
    try:
        with urllib.request.urlopen(url.rstrip("/") + "/squid-internal-mgr/counters", timeout=TOOL_TIMEOUT) as r:
            text = r.read().decode()
    except OSError:
        m.add("squid_up", "gauge", "1 when squid's cache manager answered", 0)
        return
    m.add("squid_up", "gauge", "1 when squid's cache manager answered", 1)
    counters = dict(line.split(" = ", 1) for line in text.splitlines() if " = " in line)
    for key, name, help_text in [
        ("client_http.requests", "squid_client_http_requests_total", "Client HTTP requests"),
        ("client_http.hits", "squid_client_http_hits_total", "Client HTTP requests served from the cache"),
        ("client_http.kbytes_out", "squid_client_http_kbytes_out_total", "KB sent to clients"),
        ("client_http.hit_kbytes_out", "squid_client_http_hit_kbytes_out_total", "KB sent to clients from the cache"),
    ]:
        if key in counters:
            m.add(name, "counter", help_text, float(counters[key]))


def scrape(opts):
    m = Metrics()
    if opts.pool:
        pool_metrics(m)
    if opts.queue:
        queue_metrics(m)
    if opts.squid:
        squid_metrics(m, opts.squid)
    return m.render()


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--pool", action="store_true", help="export what the collector knows (central manager pod)")
    p.add_argument("--queue", action="store_true", help="export the local schedd's queue (scheduler pod)")
    p.add_argument("--squid", metavar="URL", help="export the squid's counters (its cache manager at URL)")
    p.add_argument("--port", type=int, default=9620)
    p.add_argument("--address", default="", help="address to listen on (default: all of the pod's)")
    p.add_argument("--once", action="store_true", help="print one scrape and exit")
    opts = p.parse_args()
    if not (opts.pool or opts.queue or opts.squid):
        p.error("--pool, --queue and/or --squid URL")
    if opts.once:
        sys.stdout.write(scrape(opts))
        return

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            if self.path != "/metrics":
                self.send_error(404)
                return
            body = scrape(opts).encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; version=0.0.4")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    # A daemon of condor_master: nothing reads its stdout or stderr, so a stray write must go nowhere
    # rather than fail (the exit 1 first seen on the loopback pool was, in the end, a port taken by
    # the other pod's exporter: see --address).
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(devnull, fd)
    HTTPServer((opts.address, opts.port), Handler).serve_forever()


if __name__ == "__main__":
    main()
