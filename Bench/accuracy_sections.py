"""Bench/ACCURACY.md is assembled from sections, each owned by one script (accuracy_lite.py, accuracy_synth.py)."""
import os
import re


def replace_section(path, name, text):
    """Writes `text` between <!-- name:begin --> and <!-- name:end --> in `path`, keeping the other sections."""
    begin, end = f"<!-- {name}:begin -->", f"<!-- {name}:end -->"
    block = f"{begin}\n{text.rstrip()}\n{end}\n"
    old = open(path).read() if os.path.exists(path) else "# Accuracy\n\n"
    if begin in old:
        new = re.sub(re.escape(begin) + r".*?" + re.escape(end) + r"\n?", lambda _: block, old, flags=re.S)
    else:
        new = old.rstrip() + "\n\n" + block
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(new)
    os.replace(tmp, path)
