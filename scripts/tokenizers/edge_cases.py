"""Texts that exercise the corners of tokenization: whitespace runs, Unicode normalization, scripts with and
without spaces, emoji sequences, control and private-use characters, digits, contractions, literal
special-token strings and very long runs. Used by scripts/tokenizers/make-golden (golden encodings for
darwin's tests) and scripts/check-tokenizer (added to the corpus sample). Standard library only.

EDGE_CASES are the same for every tokenizer; token_cases(spec) adds texts built from one tokenizer's own
added tokens (spec = its parsed tokenizer.json).
"""

EDGE_CASES = [
    # Plain text and whitespace.
    "Hello, world!",
    "The quick brown fox jumps over the lazy dog. THE QUICK BROWN FOX JUMPS OVER THE LAZY DOG.",
    "Tokenizers split text into pieces; a model sees only their ids. Whitespace, punctuation and case all "
    "matter: 'Hello' and ' hello' and 'HELLO' are usually different tokens.",
    "",
    " ",
    "A",
    "   leading spaces",
    "trailing spaces   ",
    "  both ends  ",
    "\n\n\n",
    "\t\t\t",
    " \n \n ",
    "word\n\n\n\nword\n",
    "\r\n windows\r\nline endings\r\n",
    "col1\tcol2\x0bcol3\x0ccol4\x1cgroup\x1dsep",
    "two  spaces,   three,    four,     five;\t tab then space",
    # Code.
    "def f(x):\n\tif x:\n\t\treturn x  # comment\n\treturn None\n",
    "int main(void) {\n        int a = 1;          \n        return a << 2;\n}\n\n\n",
    '{"key": [1, 2, 3], "nested": {"a": null, "b": "\\u00e9"}}',
    "<div class=\"x\">Hello&nbsp;world</div>\n# Title\n* item\n```python\nprint('hi')\n```\n",
    "https://example.com/path/to?query=1&b=2#frag user@example.org C:\\Users\\darwin\\file.txt",
    "$\\int_0^\\infty e^{-x^2}\\,dx = \\frac{\\sqrt{\\pi}}{2}$ ∑ ∀ ∃ ≤ ≥ ≠ → ∞",
    "!!!??? ... --- *** ___ ~~~ ;;; @@@ ((( ))) [[[ ]]] {{{ }}} ''' \"\"\" ```",
    # Digits and contractions.
    "12345678",
    "3.14159 1,000,000 -42 0x1F 1e10 2024-01-31 12:30:45 ２０２４年 ١٢٣ १२३",
    "I'm don't THEY'RE we'll you've she'd it's O'Neil's I’m don’t",
    # Unicode spaces, controls, odd code points.
    "a\u00a0b\u00a0\u00a0c non-breaking",
    "\u3000全角スペース\u3000と\u2003em\u2009thin\u200bzero\u200dwidth\u2028line\u2029para",
    "a\x00b\x01c\x07d\x1be\x7ff\u0085g\u009fh",
    "\ufffd replacement, \ue000\uf8ff private use, \U000f0000\U0010fffd planes 15-16, \ufffe\uffff",
    "\ufeffBOM at the start, and \u200e\u200f direction marks",
    "\u0301 a lone combining mark at the start",
    # Normalization.
    "e\u0301 vs \u00e9, n\u0303 vs \u00f1, A\u030a vs \u00c5, \u1e9b\u0323 and \u212b",
    "Z\u0351\u036b\u0343\u036a\u0302\u036b\u033d\u034f\u0334\u0319\u0324\u031e\u0349\u035a\u032f\u031e\u0320\u034dA\u036b\u0357",
    "ﬁnance ﬀ ﬃ ① ℌ ㎏ ½ Ⅻ ™ ㈱ ｶﾀｶﾅ",
    "ＡＢＣ ｆｕｌｌｗｉｄｔｈ １２３ ！？",
    "İstanbul ıİiI ß ẞ ǅ Σσς",
    # Scripts.
    "안녕하세요, 세계! 한국어 텍스트입니다.",
    "\u1100\u1161\u11a8 \u1112\u1161\u11ab conjoining jamo, ㅎㅏㄴ compatibility jamo",
    "我爱自然语言处理。今天天气很好！繁體中文也可以。",
    "𠀀𠀁 𪚥 𩸽 CJK extension B and beyond",
    "ひらがなとカタカナ、そして漢字。ｶﾀｶﾅは半角です。",
    "ภาษาไทยไม่มีการเว้นวรรคระหว่างคำ",
    "नमस्ते दुनिया, यह हिन्दी है। क्षत्रिय",
    "தமிழ் বাংলা ગુજરાતી ਪੰਜਾਬੀ ಕನ್ನಡ",
    "ភាសាខ្មែរ မြန်မာ ລາວ ሰላም ዓለም",
    "مرحبا بالعالم، هذا نص عربي.",
    "שלום עולם, זה טקסט בעברית.",
    "The word שלום means peace (123) and مرحبا 456 means hello.",
    "Привет, мир! Это русский текст. Ёлка.",
    "Γειά σου Κόσμε — ελληνικά",
    "Tiếng Việt có dấu: ắ ặ ẫ ờ ữ",
    "abc中文123カタカナ한국어xyzСлово",
    # Emoji.
    "I ❤️ 🍕 and 😀😃😄!",
    "👩‍👩‍👧‍👦 family, 🧑🏽‍💻 technologist, 🏳️‍🌈 flag",
    "🇫🇷🇩🇪🇯🇵 flags and 🏴󠁧󠁢󠁳󠁣󠁴󠁿 Scotland",
    "👍🏻👍🏿 ✌️ ☺︎ #️⃣ 1️⃣",
    # Strings that look like tokens.
    "<|endoftext|> <s> </s> <unk> <pad> [CLS] [SEP] <mask>",
    "<s>Hello</s>",
    "<|im_start|>user\nHi<|im_end|>\n",
    "<0x41> <0xFF> <0x0A>",
    "▁ metaspace ▁▁ in text",
    "Ġ and Ċ look like byte-level pieces",
    # Long runs.
    "Pneumonoultramicroscopicsilicovolcanoconiosis Donaudampfschifffahrtselektrizitätenhauptbetriebswerkbauunterbeamtengesellschaft",
    "a" * 1000,
    " " * 300 + "x",
    "é" * 100,
    "🙂" * 40,
    "ab1" * 60,
    "\n" * 100 + "end",
]


def token_cases(spec):
    """Texts with the literal strings of one tokenizer's own added tokens (spec: its parsed tokenizer.json):
    its first special tokens and its first plain added tokens, alone, inside words, next to whitespace,
    twice in a row, and cut short."""
    added = spec.get("added_tokens") or []
    chosen = [t for t in added if t.get("special")][:4] + [t for t in added if not t.get("special")][:2]
    # Tokens that strip whitespace or match only as words, wherever they are.
    chosen += [t for t in added if (t.get("lstrip") or t.get("rstrip") or t.get("single_word")) and t not in chosen][:2]
    out = []
    for t in chosen:
        s = t["content"]
        out += [s, f"Hello{s}world", f"a {s} b", f"x  {s}  y\n{s}\n", f"{s}{s}123", s[: max(1, len(s) // 2)] + " cut"]
    if len(chosen) >= 2:
        out.append(chosen[0]["content"] + " text " + chosen[1]["content"] + "more" + chosen[0]["content"])
    seen, unique = set(EDGE_CASES), []
    for text in out:
        if text not in seen:
            seen.add(text)
            unique.append(text)
    return unique


def cases(spec):
    """Every edge case for one tokenizer."""
    return EDGE_CASES + token_cases(spec)
