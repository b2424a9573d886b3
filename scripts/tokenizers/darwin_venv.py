"""Throw-away Python environments for darwin's tokenizer scripts (standard library only).

Each environment lives once per machine under ${DARWIN_CACHE:-~/.cache/darwin}/venvs/NAME-VERSION, is
built on first use with pinned packages from PyPI, and is reused afterwards. A stamp file written last
marks it complete, so an interrupted build is redone. A lock keeps two scripts from building the same
one at once.

    python3 scripts/tokenizers/darwin_venv.py tokenizers          # builds it if needed, prints its python
    python3 scripts/tokenizers/darwin_venv.py --pins tokenizers   # prints what it installs
"""
import fcntl
import json
import os
import shutil
import subprocess
import sys

CACHE = os.environ.get("DARWIN_CACHE") or os.path.join(os.path.expanduser("~"), ".cache", "darwin")
HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))

TOKENIZERS_VERSION = "0.22.2"
TRANSFORMERS_VERSION = "4.57.6"
TORCH_CPU = "2.13.0+cpu"
TORCH = f"torch=={TORCH_CPU}"  # a step of its own, installed by _torch

# name -> (directory under venvs/, pip install steps); every step is one `pip install` command line, but TORCH.
VENVS = {
    # The reference encoder, and what builds the derived tokenizers (slow→fast conversion, training).
    "tokenizers": (f"tokenizers-{TOKENIZERS_VERSION}", [
        [f"tokenizers=={TOKENIZERS_VERSION}", f"transformers=={TRANSFORMERS_VERSION}", "sentencepiece==0.2.1",
         "protobuf==6.33.5", "zstandard==0.25.0", "numpy==2.4.6"],
    ]),
    # Megatron-LM's reader of .bin/.idx files; it imports torch (CPU build, see _torch below).
    "megatron": ("megatron-core-0.16.1", [
        TORCH,
        ["megatron-core==0.16.1", "numpy==2.4.6"],
    ]),
    # datatrove's reader of .ds/.ds.index files.
    "datatrove": ("datatrove-0.10.1", [
        ["datatrove==0.10.1", f"tokenizers=={TOKENIZERS_VERSION}", "numpy==2.4.6"],
    ]),
}


def venv_dir(name):
    return os.path.join(CACHE, "venvs", VENVS[name][0])


def python(name):
    return os.path.join(venv_dir(name), "bin", "python")


def _stamp(name):
    return repr(VENVS[name][1])


def _pip(py, args):
    subprocess.run([py, "-m", "pip", "install", "--quiet", "--disable-pip-version-check"] + args, check=True)


def _torch(py):
    """CPU torch: the +cpu build from PyTorch's CPU index (or a copy of it in pip's find-links), its
    dependencies from PyPI; PyPI's default (CUDA, several GB) only when no CPU build can be had."""
    try:
        # A second --quiet hides pip's warnings about an index it cannot reach.
        _pip(py, ["--quiet", "--extra-index-url", "https://download.pytorch.org/whl/cpu", "--timeout", "20", "--retries", "1",
                  TORCH])
    except subprocess.CalledProcessError:
        print(f"no torch=={TORCH_CPU} to be had; installing torch from PyPI (with CUDA libraries)", file=sys.stderr)
        _pip(py, ["torch"])


def ensure(name):
    """Builds the environment if it is missing or incomplete; returns its python."""
    path = venv_dir(name)
    stamp = os.path.join(path, ".darwin-ready")
    want = _stamp(name)
    if os.path.exists(stamp) and open(stamp).read() == want:
        return python(name)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path + ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if os.path.exists(stamp) and open(stamp).read() == want:
            return python(name)
        print(f"building the Python environment {path} (once)", file=sys.stderr)
        shutil.rmtree(path, ignore_errors=True)
        base = getattr(sys, "_base_executable", None) or sys.executable  # also from inside another venv
        subprocess.run([base, "-m", "venv", path], check=True)
        py = python(name)
        for step in VENVS[name][1]:
            if step == TORCH:
                _torch(py)
            else:
                _pip(py, step)
        with open(stamp, "w") as f:
            f.write(want)
    return py


def in_venv(name):
    return os.path.realpath(sys.prefix) == os.path.realpath(venv_dir(name))


def reexec(name):
    """Runs the calling script again inside the named environment (building it first) unless it already is."""
    if in_venv(name):
        return
    py = ensure(name)
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(py, [py, os.path.abspath(sys.argv[0])] + sys.argv[1:])


def versions(name, packages):
    """Installed versions of some packages in an environment (a dict), asked of its own pip metadata."""
    code = ("import importlib.metadata as m, json, sys\n"
            "print(json.dumps({p: m.version(p) for p in sys.argv[1:]}))")
    out = subprocess.run([python(name), "-c", code] + list(packages), check=True, capture_output=True, text=True)
    return json.loads(out.stdout)


if __name__ == "__main__":
    args = sys.argv[1:]
    pins = args[:1] == ["--pins"]
    if pins:
        args = args[1:]
    if len(args) != 1 or args[0] not in VENVS:
        sys.exit(f"usage: {sys.argv[0]} [--pins] {'|'.join(VENVS)}")
    print(" ".join(p for step in VENVS[args[0]][1] for p in ([step] if isinstance(step, str) else step))
          if pins else ensure(args[0]))
