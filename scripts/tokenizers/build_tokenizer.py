"""Builds the tokenizer.json files that no package ships ready-made; run by scripts/fetch-tokenizers in the
`tokenizers` environment of darwin_venv.py.

    build_tokenizer.py sentencepiece MODEL OUT.json   # SentencePiece BPE model -> tokenizer.json
    build_tokenizer.py unigram SAMPLE_DIR OUT.json    # trains a Unigram model on zstd JSONL shards
"""
import glob
import io
import json
import os
import sys

from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers


def sentencepiece(model, out):
    """A Llama-style conversion of a SentencePiece BPE model (legacy mode, as Mistral's own tokenizer.json
    has it): normalizer Prepend("▁") + Replace(" " -> "▁"), no pre-tokenizer, BPE with byte_fallback,
    <s> prepended by the post-processor, <unk> <s> </s> as special added tokens."""
    os.environ.setdefault("TRANSFORMERS_NO_ADVISORY_WARNINGS", "1")  # no "PyTorch not found" notice
    import sentencepiece as spm
    from transformers import LlamaTokenizer
    from transformers.convert_slow_tokenizer import convert_slow_tokenizer

    slow = LlamaTokenizer(vocab_file=model, legacy=True, add_bos_token=True, add_eos_token=False)
    tok = convert_slow_tokenizer(slow)
    bos, unk = slow.bos_token, slow.unk_token
    tok.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A", pair=f"{bos} $A {bos}:1 $B:1", special_tokens=[(bos, slow.bos_token_id)])
    tok.add_special_tokens([AddedToken(unk, special=True, normalized=False)])
    # The conversion must tokenize plain text exactly as SentencePiece does.
    sp = spm.SentencePieceProcessor(model_file=model)
    probes = ["Hello world", "  two leading spaces", "trailing  ", "a\tb\n\nc", "日本語のテキスト",
              "emoji 👩‍👩‍👧 and 🇫🇷", "12345678", "e\u0301 é", "I'm don't THEY'RE", "\u00a0nbsp\u3000ideographic"]
    for text in probes:
        if sp.encode(text) != tok.encode(text, add_special_tokens=False).ids:
            sys.exit(f"converted tokenizer differs from SentencePiece on {text!r}")
    tok.save(out)


def sample_texts(sample_dir):
    import zstandard
    for path in sorted(glob.glob(os.path.join(sample_dir, "*.jsonl.zst"))):
        with open(path, "rb") as f:
            reader = io.TextIOWrapper(zstandard.ZstdDecompressor().stream_reader(f), encoding="utf-8")
            for line in reader:
                if line.strip():
                    yield json.loads(line)["text"]


def unigram(sample_dir, out):
    """A small Unigram tokenizer trained on darwin's bundled sample: NFKC, runs of spaces and tabs to one
    space, surrounding whitespace stripped; Metaspace (prepend on the first piece only); byte fallback
    through <0x00>..<0xFF> pieces; <s> $A </s> added by the post-processor; plus two added tokens that
    exercise lstrip and single_word/normalized matching."""
    special = ["<unk>", "<s>", "</s>"]
    tok = Tokenizer(models.Unigram())
    tok.normalizer = normalizers.Sequence([
        normalizers.NFKC(), normalizers.Replace(Regex("[ \t]+"), " "), normalizers.Strip()])
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="first", split=True)
    trainer = trainers.UnigramTrainer(vocab_size=8000 - 256, special_tokens=special, unk_token="<unk>",
                                      shrinking_factor=0.75, max_piece_length=16, n_sub_iterations=2,
                                      show_progress=False)
    tok.train_from_iterator(list(sample_texts(sample_dir)), trainer=trainer)
    # Byte fallback: the trainer has no such option, so the 256 byte pieces are appended with the lowest
    # score and the model rebuilt with byte_fallback on.
    # Training is not repeatable bit for bit: scores differ in their last digits from run to run, and the
    # single characters kept only to cover the alphabet get scores stepped down in hash-map order. So
    # scores are rounded to 6 decimals, those characters (every single-character piece scored below the
    # lowest longer piece) share the lowest of their scores, and pieces are sorted by score, then by
    # piece: the same pieces always get the same ids and scores.
    spec = json.loads(tok.to_str())
    vocab = [(piece, round(score, 6)) for piece, score in spec["model"]["vocab"]]
    head = [v for v in vocab if v[0] in special]
    rest = [v for v in vocab if v[0] not in special]
    lowest_long = min(score for piece, score in rest if len(piece) > 1)
    filler = {piece for piece, score in rest if len(piece) == 1 and score < lowest_long}
    if filler:
        floor = min(score for piece, score in rest if piece in filler)
        rest = [(piece, floor if piece in filler else score) for piece, score in rest]
    vocab = head + sorted(rest, key=lambda v: (-v[1], v[0]))
    floor = min(score for _, score in vocab) - 1.0
    have = {piece for piece, _ in vocab}
    vocab += [(f"<0x{b:02X}>", floor) for b in range(256) if f"<0x{b:02X}>" not in have]
    tok.model = models.Unigram(vocab, unk_id=[p for p, _ in vocab].index("<unk>"), byte_fallback=True)
    tok.decoder = decoders.Sequence([
        decoders.ByteFallback(), decoders.Fuse(), decoders.Metaspace(replacement="▁", prepend_scheme="first")])
    tok.post_processor = processors.TemplateProcessing(
        single="<s> $A </s>", pair="<s> $A </s> $B:1 </s>:1",
        special_tokens=[("<s>", tok.token_to_id("<s>")), ("</s>", tok.token_to_id("</s>"))])
    tok.add_special_tokens([AddedToken("<mask>", special=True, lstrip=True, normalized=False)])
    tok.add_tokens([AddedToken("darwin", single_word=True, normalized=True)])
    tok.save(out)


if __name__ == "__main__":
    if len(sys.argv) != 4 or sys.argv[1] not in ("sentencepiece", "unigram"):
        sys.exit(__doc__)
    kind, src, dst = sys.argv[1:]
    {"sentencepiece": sentencepiece, "unigram": unigram}[kind](src, dst + ".part")
    os.replace(dst + ".part", dst)
