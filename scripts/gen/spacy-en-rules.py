#!/usr/bin/env python3
"""Generate Sources/CDarwinText/spacy_en_rules.h: the data of spaCy's English tokenizer and the Python
character properties that datatrove's filters rely on, as C tables.

darwin's word splitter (Sources/CDarwinText/darwin_words.c) implements spaCy's tokenization algorithm
(whitespace runs, special cases, prefix/suffix/infix search, URL match) in C; this script exports the
rules it runs on, so that "gopher_quality" counts words exactly as datatrove (spaCy `en`) does.
The rules are data from spaCy (MIT License, Copyright Explosion AI); character classes are
evaluated code point by code point with the Python that datatrove runs on.

Run in a virtualenv with spacy installed:
    python3 -m venv /tmp/sp && /tmp/sp/bin/pip install spacy==3.8.* datatrove
    /tmp/sp/bin/python scripts/gen/spacy-en-rules.py > Sources/CDarwinText/spacy_en_rules.h
"""
import re
import re._constants as C
import re._parser as P
import sys
import unicodedata

import spacy
from spacy.lang.en import English
from spacy.pipeline import Sentencizer

MAX_CP = 0x110000

classes = []  # list of sorted (lo, hi) range tuples
class_index = {}


def ranges_of(pred):
    out, start = [], None
    for cp in range(MAX_CP):
        if pred(cp):
            if start is None:
                start = cp
        elif start is not None:
            out.append((start, cp - 1))
            start = None
    if start is not None:
        out.append((start, MAX_CP - 1))
    return tuple(out)


def class_id(rngs):
    if rngs not in class_index:
        class_index[rngs] = len(classes)
        classes.append(rngs)
    return class_index[rngs]


def in_node_ranges(items):
    negate = False
    parts = []
    for op, av in items:
        if op == C.NEGATE:
            negate = True
        elif op == C.LITERAL:
            parts.append((av, av))
        elif op == C.RANGE:
            parts.append(av)
        else:
            raise SystemExit(f"unsupported class item {op}")
    parts.sort()
    merged = []
    for lo, hi in parts:
        if merged and lo <= merged[-1][1] + 1:
            merged[-1] = (merged[-1][0], max(merged[-1][1], hi))
        else:
            merged.append((lo, hi))
    if negate:
        inv, prev = [], 0
        for lo, hi in merged:
            if lo > prev:
                inv.append((prev, lo - 1))
            prev = hi + 1
        if prev < MAX_CP:
            inv.append((prev, MAX_CP - 1))
        merged = inv
    return tuple(merged)


def atom(op, av):
    """A single-character atom: literal code point (>= 0) or -(class id + 1)."""
    if op == C.LITERAL:
        return av
    if op == C.IN:
        return -(class_id(in_node_ranges(av)) + 1)
    raise SystemExit(f"unsupported atom {op}")


def expand(seq):
    """Expand a parsed sequence into alternatives: lists of (atom, plus) for the body."""
    alts = [[]]
    for op, av in seq:
        if op in (C.LITERAL, C.IN):
            a = atom(op, av)
            alts = [x + [(a, False)] for x in alts]
        elif op == C.MAX_REPEAT:
            lo, hi, sub = av
            if len(sub) != 1 or hi != C.MAXREPEAT or lo != 1:
                raise SystemExit(f"unsupported repeat {av}")
            a = atom(*sub[0])
            alts = [x + [(a, True)] for x in alts]
        elif op == C.SUBPATTERN:
            alts = [x + y for x in alts for y in expand(av[-1])]
        elif op == C.BRANCH:
            subs = []
            for branch in av[1]:
                subs += expand(branch)
            alts = [x + y for x in alts for y in subs]
        else:
            raise SystemExit(f"unsupported node {op}")
    return alts


def rules_of(patterns):
    out = []
    for pattern in patterns:
        if not pattern.strip():
            continue  # spaCy skips empty pieces
        tree = list(P.parse(pattern))
        behind, ahead, neg = [], None, False
        while tree and tree[0][0] == C.ASSERT and tree[0][1][0] == -1:
            behind = [atom(*x) for x in tree[0][1][1]]
            tree = tree[1:]
        if tree and tree[-1][0] in (C.ASSERT, C.ASSERT_NOT) and tree[-1][1][0] == 1:
            op, (_, sub) = tree[-1]
            if len(sub) != 1:
                raise SystemExit(f"unsupported lookahead in {pattern!r}")
            ahead = atom(*sub[0])
            neg = op == C.ASSERT_NOT
            tree = tree[:-1]
        for body in expand(tree):
            out.append((behind, body, ahead, neg))
    return out


def c_atom(a):
    return str(a)


def emit_rules(name, rules):
    print(f"static const dt_rule {name}[] = {{")
    for behind, body, ahead, neg in rules:
        if len(body) > 8 or len(behind) > 2:
            raise SystemExit("rule too long")
        b = ", ".join(c_atom(x) for x in behind) or "0"
        bd = ", ".join(c_atom(x) for x, _ in body)
        plus = 1 if body[-1][1] else 0
        if any(p for _, p in body[:-1]):
            raise SystemExit("'+' only supported on the last atom")
        a = "0" if ahead is None else c_atom(ahead)
        print(f"    {{{len(behind)}, {{{b}}}, {len(body)}, {{{bd}}}, {plus}, {0 if ahead is None else 1}, {1 if neg else 0}, {a}}},")
    print("};")


def c_string(s):
    out = '"'
    for b in s.encode("utf-8"):
        if 32 <= b < 127 and chr(b) not in '"\\?':
            out += chr(b)
        else:
            out += f"\\{b:03o}"
    return out + '"'


def main():
    D = English.Defaults
    nlp = spacy.blank("en")
    tok = nlp.tokenizer
    prefixes = rules_of(D.prefixes)
    suffixes = rules_of(D.suffixes)
    infixes = rules_of(D.infixes)

    # URL match: the classes it needs (its structure is coded by hand in darwin_words.c).
    url = tok.url_match.__self__.pattern
    tld = re.search(r"\(\?:\[(a-z\\uFF41.*?)\]\{2,63\}\)", url)
    if not tld:
        raise SystemExit("URL pattern changed: TLD class not found")
    url_tld = class_id(in_node_ranges(P.parse("[" + tld.group(1) + "]")[0][1]))

    props = {
        "DT_CLASS_PY_SPACE": ranges_of(lambda c: chr(c).isspace()),
        "DT_CLASS_PY_ALPHA": ranges_of(lambda c: chr(c).isalpha()),
        "DT_CLASS_PY_DECIMAL": ranges_of(lambda c: chr(c).isdecimal()),
        "DT_CLASS_PY_WORD": ranges_of(lambda c: chr(c).isalnum() or c == 0x5F),
        "DT_CLASS_CAT_P": ranges_of(lambda c: unicodedata.category(chr(c)).startswith("P")),
        "DT_CLASS_CAT_CC": ranges_of(lambda c: unicodedata.category(chr(c)) == "Cc"),
        "DT_CLASS_CAT_CN": ranges_of(lambda c: unicodedata.category(chr(c)) == "Cn"),
        "DT_CLASS_CAT_CO": ranges_of(lambda c: unicodedata.category(chr(c)) == "Co"),
        "DT_CLASS_CAT_MN": ranges_of(lambda c: unicodedata.category(chr(c)) == "Mn"),
    }
    from datatrove.utils.text import PUNCTUATION_SET, TERMINAL_PUNCTUATION

    props["DT_CLASS_DT_PUNCT"] = ranges_of(lambda c: chr(c) in PUNCTUATION_SET)
    props["DT_CLASS_DT_TERMINAL"] = ranges_of(lambda c: chr(c) in TERMINAL_PUNCTUATION)
    from datatrove.utils.text import PUNCTUATION

    props["DT_CLASS_DT_PUNCTUATION_STR"] = ranges_of(lambda c: chr(c) in PUNCTUATION)
    punct_chars = Sentencizer.default_punct_chars
    if any(len(p) != 1 for p in punct_chars):
        raise SystemExit("multi-character sentencizer punctuation")
    props["DT_CLASS_SENT_PUNCT"] = ranges_of(lambda c: chr(c) in punct_chars)
    prop_ids = {k: class_id(v) for k, v in props.items()}

    exceptions = []
    for key, pieces in sorted(tok.rules.items()):
        orths = [p[spacy.attrs.ORTH] if spacy.attrs.ORTH in p else p["ORTH"] for p in pieces]
        if "".join(orths) != key:
            raise SystemExit(f"special case {key!r} is not a split of itself")
        if any(ch.isspace() for ch in key):
            continue  # never reached: darwin only tokenizes whitespace-free spans with rules
        ends, n = [], 0
        for o in orths:
            n += len(o.encode("utf-8"))
            ends.append(n)
        exceptions.append((key, ends))

    print("// Generated by scripts/gen/spacy-en-rules.py from spaCy", spacy.__version__, "(English tokenizer rules,")
    print("// MIT License, Copyright (C) 2016-2024 ExplosionAI GmbH) and Python", sys.version.split()[0], "Unicode",
          unicodedata.unidata_version, "character properties. Do not edit.")
    print("#ifndef DARWIN_SPACY_EN_RULES_H\n#define DARWIN_SPACY_EN_RULES_H\n")
    for k, v in prop_ids.items():
        print(f"#define {k} {v}")
    print(f"#define DT_CLASS_URL_TLD {url_tld}")
    print(f"#define DT_CLASS_COUNT {len(classes)}\n")
    for i, rngs in enumerate(classes):
        flat = ", ".join(f"0x{lo:X}, 0x{hi:X}" for lo, hi in rngs)
        print(f"static const uint32_t dt_class_{i}[] = {{{flat}}};")
    print("static const dt_class dt_classes[DT_CLASS_COUNT] = {")
    for i, rngs in enumerate(classes):
        print(f"    {{dt_class_{i}, {len(rngs)}}},")
    print("};\n")
    emit_rules("dt_prefix_rules", prefixes)
    emit_rules("dt_suffix_rules", suffixes)
    emit_rules("dt_infix_rules", infixes)
    print(f"#define DT_PREFIX_RULES {len(prefixes)}\n#define DT_SUFFIX_RULES {len(suffixes)}\n#define DT_INFIX_RULES {len(infixes)}\n")
    print("static const char *const dt_exception_keys[] = {")
    for key, _ in exceptions:
        print(f"    {c_string(key)},")
    print("};")
    print("static const uint8_t dt_exception_ends[][8] = {")
    for _, ends in exceptions:
        if len(ends) > 8 or max(ends) > 255:
            raise SystemExit("special case too long")
        print("    {" + ", ".join(str(e) for e in ends) + "},")
    print("};")
    print("static const uint8_t dt_exception_pieces[] = {")
    print("    " + ", ".join(str(len(e)) for _, e in exceptions))
    print("};")
    print(f"#define DT_EXCEPTIONS {len(exceptions)}\n")
    print("#endif")


if __name__ == "__main__":
    main()
