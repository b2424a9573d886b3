#!/usr/bin/env python3
"""Prints what a tokenizer.json is made of: model and its flags, normalizer, pre-tokenizer, post-processor,
decoder and added tokens (standard library only).

    python3 scripts/tokenizers/describe_tokenizer.py .cache/tokenizers/*/tokenizer.json
"""
import json
import sys


def component(c):
    """A compact one-line view of a normalizer/pre-tokenizer/post-processor/decoder tree."""
    if c is None:
        return "none"
    if not isinstance(c, dict):
        return json.dumps(c, ensure_ascii=False)
    kind = c.get("type", "?")
    for key in ("normalizers", "pretokenizers", "processors", "decoders"):
        if key in c:
            return f"{kind}[" + ", ".join(component(x) for x in c[key]) + "]"
    rest = {k: v for k, v in c.items() if k not in ("type", "special_tokens", "pair")}
    if kind == "TemplateProcessing":
        rest = {"single": " ".join(("$" if "Sequence" in p else "") + next(iter(p.values()))["id"]
                                   for p in c.get("single", []))}
    args = ", ".join(f"{k}={json.dumps(v, ensure_ascii=False)}" for k, v in rest.items())
    return f"{kind}({args})" if args else kind


def describe(path):
    with open(path, encoding="utf-8") as f:
        spec = json.load(f)
    model = spec["model"]
    flags = {k: v for k, v in model.items() if k not in ("vocab", "merges", "type")}
    vocab = model.get("vocab")
    added = spec.get("added_tokens") or []
    print(path)
    print(f"  model: {model.get('type')} ({len(vocab) if vocab is not None else '?'} pieces"
          f"{', %d merges' % len(model['merges']) if 'merges' in model else ''}) {json.dumps(flags, ensure_ascii=False)}")
    if "merges" in model and model["merges"]:
        print(f"  merges stored as {'pairs' if isinstance(model['merges'][0], list) else 'strings'}")
    for key in ("normalizer", "pre_tokenizer", "post_processor", "decoder"):
        print(f"  {key}: {component(spec.get(key))}")
    special = [t for t in added if t.get("special")]
    flagged = [t for t in added if t.get("lstrip") or t.get("rstrip") or t.get("single_word")]
    normalized = [t for t in added if t.get("normalized")]
    print(f"  added tokens: {len(added)} ({len(special)} special, {len(normalized)} normalized,"
          f" {len(flagged)} with lstrip/rstrip/single_word); first: "
          + ", ".join(f"{t['id']}={t['content']!r}" for t in added[:4]))
    for t in flagged:
        print(f"    {t['id']}={t['content']!r} lstrip={t['lstrip']} rstrip={t['rstrip']} single_word={t['single_word']}"
              f" normalized={t['normalized']} special={t['special']}")


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    for p in sys.argv[1:]:
        describe(p)
