"""Runs a peer extractor over every page of a folder, one core; prints JSON lines {file, text} and the
seconds spent extracting (file reading excluded) on stderr. Run inside the throw-away virtualenv that
scripts/bench/extraction makes.

    python extraction_peers.py trafilatura|trafilatura-precision|resiliparse PAGES_DIR OUT.jsonl [RUNS]

Prints the median CPU seconds of RUNS passes.
"""
import json
import os
import sys
import time


def main():
    tool, pages, out = sys.argv[1], sys.argv[2], sys.argv[3]
    names = sorted(n for n in os.listdir(pages) if n.endswith((".html", ".htm")))
    data = [open(os.path.join(pages, n), "rb").read() for n in names]
    if tool.startswith("trafilatura"):
        import trafilatura
        precision = tool == "trafilatura-precision"

        def run(html):
            return trafilatura.extract(html, favor_precision=precision) or ""
    elif tool == "resiliparse":
        from resiliparse.extract.html2text import extract_plain_text
        from resiliparse.parse.encoding import bytes_to_str, detect_encoding
        from resiliparse.parse.html import HTMLTree

        def run(html):
            tree = HTMLTree.parse(bytes_to_str(html, detect_encoding(html)))
            return extract_plain_text(tree, main_content=True)
    else:
        sys.exit(f"unknown tool {tool}")
    runs = int(sys.argv[4]) if len(sys.argv) > 4 else 1
    times = []
    for _ in range(runs):
        texts = []
        start = time.process_time()
        for html in data:
            try:
                texts.append(run(html))
            except Exception:  # a peer failing on a page scores as empty output
                texts.append("")
        times.append(time.process_time() - start)
    seconds = sorted(times)[len(times) // 2]
    with open(out, "w") as f:
        for n, t in zip(names, texts):
            f.write(json.dumps({"file": n, "text": t}, ensure_ascii=False) + "\n")
    print(f"{seconds:.3f}", file=sys.stderr)


if __name__ == "__main__":
    main()
