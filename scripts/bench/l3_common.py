"""Shared pieces of the L3 benchmarks: the bench-corpus domain tagger trained by `darwin train-classifier`,
the Python `fasttext` package (PyPI) in a throw-away virtualenv, the Debian fastText CLI, and the corpus
texts as fastText reads them (one document a line)."""
import glob
import json
import os
import shutil
import subprocess
import sys

from common import DARWIN, ROOT

LABEL_MAP = os.path.join(ROOT, "configs", "domain-tag.labels.tsv")
LID = os.path.join(ROOT, ".cache", "models", "lid.176.ftz")
# The bench tagger: word bigrams (the n-gram path of the predictor), balanced classes, no lower-casing (so
# that peers read exactly the same text).
TAGGER_ARGS = ["--word-ngrams", "2", "--dim", "32", "--epoch", "5", "--bucket", "500000", "--min-count", "2",
               "--lr", "0.5", "--max-per-label", "2500", "--validation-fraction", "0.1", "--seed", "11"]
TRAIN_FLAGS_CLI = ["-wordNgrams", "2", "-dim", "32", "-epoch", "5", "-bucket", "500000", "-minCount", "2",
                   "-lr", "0.5", "-thread", "1", "-seed", "11", "-minn", "0", "-maxn", "0", "-loss", "softmax",
                   "-neg", "5", "-ws", "5", "-lrUpdateRate", "100", "-t", "0.0001", "-minCountLabel", "0"]


def work_dir(data):
    w = os.path.join(data, "l3")
    os.makedirs(w, exist_ok=True)
    return w


def tagger(data, corpus):
    """Trains (once) the bench domain tagger with darwin; returns (model path, train file, valid file)."""
    w = work_dir(data)
    model = os.path.join(w, "domain-tag.bin")
    files = (model, os.path.join(w, "domain-tag.train.txt"), os.path.join(w, "domain-tag.valid.txt"))
    if not all(os.path.exists(f) for f in files):
        subprocess.run([DARWIN, "train-classifier", "--input", corpus, "--label-field", "metadata.source",
                        "--label-map", LABEL_MAP, "--keep-data", "--output", model] + TAGGER_ARGS,
                       check=True, stdout=subprocess.DEVNULL)
    return files


def python_fasttext(data):
    """The PyPI `fasttext` package (the reference bindings) in a virtualenv; returns its python."""
    venv = os.path.join(work_dir(data), "venv")
    py = os.path.join(venv, "bin", "python")
    if not os.path.exists(py) or subprocess.run([py, "-c", "import fasttext"], capture_output=True).returncode:
        subprocess.run([sys.executable, "-m", "venv", venv], check=True)
        # fasttext 0.9.3 builds from source and predates numpy 2.
        subprocess.run([py, "-m", "pip", "install", "-q", "numpy<2", "fasttext==0.9.3"], check=True)
    return py


def fasttext_cli():
    """The fastText command-line tool (Debian package fasttext)."""
    subprocess.run([os.path.join(ROOT, "scripts", "install-deps"), "fasttext"], check=True)
    return shutil.which("fasttext") or "/usr/bin/fasttext"


def read_docs(paths):
    """(id, text) of every document of the shards, in order."""
    out = []
    for f in paths:
        raw = subprocess.run(["zstd", "-dc", f], capture_output=True, check=True).stdout.decode("utf-8")
        for line in raw.split("\n"):
            if line:
                d = json.loads(line)
                out.append((d["id"], d["text"]))
    return out


def one_line(text):
    """A document as one fastText line: fastText splits on these separators anyway; a newline would end it."""
    return text.replace("\r", " ").replace("\n", " ")


def shards(corpus, n=None):
    s = sorted(glob.glob(os.path.join(corpus, "part-*.jsonl.zst")))
    return s[:n] if n else s
