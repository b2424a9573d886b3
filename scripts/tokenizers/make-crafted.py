"""Writes the small tokenizers of Tests/Fixtures/tokenizers/crafted/ and what `tokenizers` encodes with them.

    "$(python3 scripts/tokenizers/darwin_venv.py tokenizers)" scripts/tokenizers/make-crafted.py
"""
import json
import os
from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, AddedToken
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "Tests", "Fixtures", "tokenizers", "crafted")
os.makedirs(OUT, exist_ok=True)
out = {}
chars = list("abcdefghijklmnopqrstuvwxyzσςλογ²½①ⒶⒷ👨👩\u200d x▁<>/\nकाेंटि") + ["<unk>"]
vocab = {c: i for i, c in enumerate(dict.fromkeys(chars))}
def bpe(): return models.BPE(vocab=dict(vocab), merges=[], unk_token="<unk>")
cases = {}
# a) Lowercase + Whitespace
t = Tokenizer(bpe()); t.normalizer = normalizers.Lowercase(); t.pre_tokenizer = pre_tokenizers.Whitespace()
cases["lower-whitespace"] = (t, ["ΛΟΓΟΣ x²", "½ ① Ⓐb", "👨\u200d👩 ab"])
# b) Bert normalizer strip accents (lowercase) on Devanagari
t = Tokenizer(bpe()); t.normalizer = normalizers.BertNormalizer(lowercase=True, strip_accents=True); t.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
cases["bert-strip"] = (t, ["का कि", "Ab"])
# c) Replace at start + Metaspace first
t = Tokenizer(bpe()); t.normalizer = normalizers.Replace("\n", "x"); t.pre_tokenizer = pre_tokenizers.Metaspace(prepend_scheme="first")
cases["replace-metaspace-first"] = (t, ["\nab", "ab", "\n\nab c"])
# d) WhitespaceSplit then Metaspace first
t = Tokenizer(bpe()); t.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.WhitespaceSplit(), pre_tokenizers.Metaspace(prepend_scheme="first")])
cases["split-metaspace-first"] = (t, [" ab c", "ab c"])
# e) added token rstrip then newline token
t = Tokenizer(bpe()); t.add_special_tokens([AddedToken("<x>", rstrip=True), AddedToken("\n", normalized=False)])
cases["rstrip-overlap"] = (t, ["a<x>\nb", "<x> \n c"])
# f) Unigram without unk
t = Tokenizer(models.Unigram([("ab", 0.0), ("a", -1.0), ("b", -2.0)], None, False))
cases["unigram-no-unk"] = (t, ["ab", "aab"])
for name, (t, texts) in cases.items():
    t.save(os.path.join(OUT, f"{name}.json"))
    out[name] = [{"text": x, "ids": t.encode(x, add_special_tokens=False).ids} for x in texts]
json.dump(out, open(os.path.join(OUT, "expected.json"), "w"), ensure_ascii=False, indent=0)

