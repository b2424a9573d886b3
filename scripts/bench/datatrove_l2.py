"""datatrove's L2 filters as darwin's agreement checks run them: the filters compared, the mapping from
datatrove's drop reasons to darwin's rule names, and a runner in a throw-away virtualenv."""
import json
import os
import subprocess
import sys

from common import ROOT

# darwin recipe step (YAML) and datatrove filter (Python) for each filter compared.
LISTS = os.path.join(ROOT, ".cache", "url-lists")
FILTERS = {
    "url_filter": ("url_filter: {block_domains: [LISTS/domains], block_urls: [LISTS/urls], "
                   "banned_words: [LISTS/banned_words.txt], soft_banned_words: [LISTS/soft_banned_words.txt], "
                   "banned_subwords: [LISTS/banned_subwords.txt]}", "URLFilter()"),
    "language_id": ("language_id: {languages: [en], threshold: 0.65, model: MODEL}",
                    "LanguageFilter(languages=['en'], language_threshold=0.65)"),
    "gopher_repetition": ("gopher_repetition: {words: en}", "GopherRepetitionFilter()"),
    "gopher_quality": ("gopher_quality: {words: en}", "GopherQualityFilter()"),
    "c4": ("c4: {}", "C4QualityFilter()"),
    "c4 (FineWeb settings)": ("c4: {filter_no_terminal_punct: false}", "C4QualityFilter(filter_no_terminal_punct=False)"),
    "fineweb_quality": ("fineweb_quality: {words: en}", "FineWebQualityFilter()"),
}

# datatrove's reasons → darwin's rules.
RULES = {
    "gopher_short_doc": "too_few_words", "gopher_long_doc": "too_many_words",
    "gopher_below_avg_threshold": "mean_word_length", "gopher_above_avg_threshold": "mean_word_length",
    "gopher_too_many_hashes": "hash_ratio", "gopher_too_many_ellipsis": "ellipsis_ratio",
    "gopher_too_many_bullets": "bullet_lines", "gopher_too_many_end_ellipsis": "ellipsis_lines",
    "gopher_below_alpha_threshold": "alpha_words", "gopher_enough_stop_words": "stop_words",
    "hard_blacklisted": "banned_word", "soft_blacklisted": "soft_banned_words", "blacklisted_subword": "banned_subword",
    "dup_para_frac": "duplicate_paragraphs", "dup_para_char_frac": "duplicate_paragraph_chars",
    "dup_line_frac": "duplicate_lines", "dup_line_char_frac": "duplicate_line_chars",
}
for n in (2, 3, 4):
    RULES[f"top_{n}_gram"] = f"top_{n}gram"
for n in range(5, 11):
    RULES[f"duplicated_{n}_n_grams"] = f"duplicate_{n}grams"

DATATROVE_WORKER = r'''
import json, sys
from datatrove.data import Document
import datatrove.utils.lid as lid
MODEL = sys.argv[3]
lid.cached_asset_path_or_download = lambda *a, **k: MODEL
from datatrove.pipeline.filters import (C4QualityFilter, FineWebQualityFilter, GopherQualityFilter,
    GopherRepetitionFilter, LanguageFilter, URLFilter)
filters = {name: eval(expr) for name, expr in json.loads(sys.argv[2]).items()}
out = {}
import subprocess
raw = subprocess.run(["zstd", "-dc", sys.argv[1]], capture_output=True, check=True).stdout.decode("utf-8")
for line in raw.split("\n"):
    if not line:
        continue
    d = json.loads(line)
    res = {}
    for name, f in filters.items():
        doc = Document(text=d["text"], id=d["id"], metadata=dict(d.get("metadata") or {}))
        r = f.filter(doc)
        if isinstance(r, tuple):
            res[name] = ["drop", r[1]]
        elif r:
            res[name] = ["keep", doc.text if name.startswith("c4") else None, doc.metadata.get("language"),
                         doc.metadata.get("language_score")]
        else:
            res[name] = ["drop", "", doc.metadata.get("language"), doc.metadata.get("language_score")]
    out[d["id"]] = res
json.dump(out, sys.stdout)
'''


def ensure_venv(work):
    """A virtualenv with datatrove 0.10 under work/venv, created once."""
    venv = os.path.join(work, "venv")
    py = os.path.join(venv, "bin", "python")
    if not os.path.exists(py):
        print("creating a virtualenv with datatrove (once)", file=sys.stderr)
        subprocess.run([sys.executable, "-m", "venv", venv], check=True)
        subprocess.run([py, "-m", "pip", "install", "-q", "datatrove[processing,io]==0.10.*", "spacy", "fasttext-numpy2-wheel"],
                       check=True)
    return py



def run_datatrove(work, shards, model, workers):
    """Every filter of FILTERS on every document of the shards, `workers` processes at a time:
    {id: {filter: ["keep", cleaned text (c4) or None, language, score] or ["drop", reason, language, score]}}."""
    py = ensure_venv(work)
    exprs = json.dumps({name: expr for name, (_, expr) in FILTERS.items()})
    worker = os.path.join(work, "datatrove_worker.py")
    with open(worker, "w") as f:
        f.write(DATATROVE_WORKER)
    reference = {}
    pending = list(shards)
    running = []
    while pending or running:
        while pending and len(running) < workers:
            s = pending.pop(0)
            running.append(subprocess.Popen([py, worker, s, exprs, model], stdout=subprocess.PIPE,
                                            stderr=subprocess.DEVNULL))
        p = running.pop(0)
        out, _ = p.communicate()
        if p.returncode != 0:
            sys.exit("datatrove worker failed")
        reference.update(json.loads(out))
    return reference
