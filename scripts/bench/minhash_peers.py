"""MinHash dedup with peer libraries (rensa, datasketch), end to end on shards: read → normalise (datatrove's
simplify_text) → word 5-grams (split on spaces) → signatures (112 values) → 14 × 8 LSH buckets →
connected components (keep the first document) → write the kept documents as .jsonl.zst.

    python minhash_peers.py rensa|datasketch CORPUS_DIR OUT_DIR WORKERS

Prints one JSON line: {"removed": N, "removed_ids_file": PATH}. Runs in the throw-away virtualenv of the
L2 scripts (datatrove, rensa, datasketch).
"""
import glob
import json
import os
import subprocess
import sys
from multiprocessing import Pool

from datatrove.utils.text import simplify_text

BANDS, ROWS, NGRAM = 14, 8, 5
LIB = sys.argv[1]


def shingles(text):
    words = simplify_text(text).split()
    return [" ".join(words[i:i + NGRAM]) for i in range(len(words) - NGRAM + 1)]


def signature(sh):
    if LIB == "rensa":
        from rensa import RMinHash
        m = RMinHash(num_perm=BANDS * ROWS, seed=1)
        m.update(sh)
        return list(m.digest())
    from datasketch import MinHash
    m = MinHash(num_perm=BANDS * ROWS, seed=1)
    m.update_batch([s.encode("utf-8") for s in sh])
    return [int(v) for v in m.hashvalues]


def read(path):
    raw = subprocess.run(["zstd", "-dc", path], capture_output=True, check=True).stdout.decode("utf-8")
    return [line for line in raw.split("\n") if line]


def sign_shard(path):
    out = []
    for line in read(path):
        d = json.loads(line)
        sh = shingles(d["text"])
        out.append((d["id"], tuple(signature(sh)) if sh else None))
    return path, out


def write_shard(args):
    path, out_dir, removed = args
    kept = [line for line in read(path) if json.loads(line)["id"] not in removed]
    target = os.path.join(out_dir, os.path.basename(path))
    subprocess.run(["zstd", "-q", "-f", "-o", target], input=("\n".join(kept) + "\n").encode("utf-8"), check=True)


def main():
    corpus, out_dir, workers = sys.argv[2], sys.argv[3], int(sys.argv[4])
    os.makedirs(out_dir, exist_ok=True)
    paths = sorted(glob.glob(os.path.join(corpus, "part-*.jsonl.zst")))
    with Pool(workers) as pool:
        signed = dict(pool.map(sign_shard, paths))
    docs = [(doc_id, sig) for p in paths for doc_id, sig in signed[p]]
    parent = list(range(len(docs)))

    def find(x):
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for b in range(BANDS):
        first = {}
        for i, (_, sig) in enumerate(docs):
            if sig is None:
                continue
            key = sig[b * ROWS:(b + 1) * ROWS]
            j = first.setdefault(key, i)
            if j != i:
                a, c = find(i), find(j)
                if a != c:
                    parent[max(a, c)] = min(a, c)
    removed = {docs[i][0] for i in range(len(docs)) if find(i) != i}
    with Pool(workers) as pool:
        pool.map(write_shard, [(p, out_dir, removed) for p in paths])
    ids_file = os.path.join(out_dir, "removed-ids.txt")
    with open(ids_file, "w") as f:
        f.write("\n".join(sorted(removed)))
    print(json.dumps({"removed": len(removed), "removed_ids_file": ids_file}))


if __name__ == "__main__":
    main()
