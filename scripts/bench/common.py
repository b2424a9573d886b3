"""Shared helpers of darwin's benchmark scripts (Python standard library only)."""
import os
import resource
import statistics
import subprocess
import sys
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
DARWIN = os.path.join(ROOT, ".build", "release", "darwin")


def bench_corpus(data_dir):
    """The shared benchmark corpus under data_dir, built with ../shared/scripts/make-bench-corpus if missing."""
    corpus = os.path.join(data_dir, "corpus")
    if not os.path.exists(os.path.join(corpus, "manifest.json")):
        maker = os.path.abspath(os.path.join(ROOT, "..", "shared", "scripts", "make-bench-corpus"))
        if not os.path.exists(maker):
            sys.exit(f"no benchmark corpus in {corpus} and no {maker} to build it")
        print(f"building the benchmark corpus in {data_dir} (a few minutes, once)", file=sys.stderr)
        subprocess.run([maker, data_dir], check=True)
    return corpus


def timed(cmd, shell=False, env=None):
    """Runs a command; returns (wall seconds, peak RSS in MB of the largest process it started)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    start = time.monotonic()
    proc = subprocess.run(cmd, shell=shell, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    wall = time.monotonic() - start
    if proc.returncode != 0:
        sys.exit(f"failed: {cmd}\n{proc.stderr.decode(errors='replace')}")
    # ru_maxrss of children is the maximum over all waited-for children so far (KiB).
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return wall, (peak if peak > before else float("nan")) / 1024


def peak_rss_mb(cmd):
    """Peak RSS (MB) of one command, measured by GNU time."""
    proc = subprocess.run(["/usr/bin/time", "-f", "%M"] + cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, check=True)
    return int(proc.stderr.decode().strip().splitlines()[-1]) / 1024


def median(xs):
    return statistics.median(xs)


def table(rows):
    widths = [max(len(str(r[i])) for r in rows) for i in range(len(rows[0]))]
    for r in rows:
        print("  ".join(str(c).rjust(w) if i else str(c).ljust(w) for i, (c, w) in enumerate(zip(r, widths))))


def _tree_rss_kb(root):
    """Resident memory (KiB) of a process and all its descendants, from /proc."""
    children, rss = {}, {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            with open(f"/proc/{name}/statm") as f:
                rss[int(name)] = int(f.read().split()[1]) * (os.sysconf("SC_PAGE_SIZE") // 1024)
            children.setdefault(ppid, []).append(int(name))
        except (OSError, ValueError, IndexError):
            continue
    total, stack = 0, [root]
    while stack:
        pid = stack.pop()
        total += rss.get(pid, 0)
        stack.extend(children.get(pid, []))
    return total


def timed_tree(cmd, interval=0.1):
    """Runs a command; returns (wall seconds, peak MB of the summed resident memory of its process tree),
    sampled every `interval` seconds."""
    start = time.monotonic()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    peak = 0
    while proc.poll() is None:
        peak = max(peak, _tree_rss_kb(proc.pid))
        time.sleep(interval)
    wall = time.monotonic() - start
    err = proc.stderr.read()
    if proc.returncode != 0:
        sys.exit(f"failed: {cmd}\n{err.decode(errors='replace')[-2000:]}")
    return wall, peak / 1024
