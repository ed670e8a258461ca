"""Sum a py-spy raw profile (``py-spy record -f raw --threads
--subprocesses``) per process and thread, and per function within one.

    python bench/profile_agg.py PROFILE.txt                 # threads
    python bench/profile_agg.py PROFILE.txt --thread NAME   # its functions

Seconds are samples / rate (``--rate``, the ``-r`` given to py-spy). A
function's "incl" counts each sample once however deep it recurs; "self" is
the samples where it is the innermost frame.
"""

from __future__ import annotations

import argparse
import re
from collections import Counter


def _who(frames: list[str]) -> tuple[str, list[str]]:
    """(process and thread label, the Python frames) of one stack."""
    label, rest = [], frames
    while rest and (rest[0].startswith("process ") or rest[0].startswith("thread ")):
        head = rest[0]
        label.append(head)
        rest = rest[1:]
    return " / ".join(label), rest


def _short(frame: str) -> str:
    """``name (path:line)`` as ``name (file)``: lines of one function merge."""
    m = re.match(r"(.*) \((.*?)(?::\d+)?\)$", frame)
    if not m:
        return frame
    name, path = m.groups()
    return f"{name} ({path.rsplit('/', 1)[-1]})"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("profile")
    p.add_argument("--rate", type=float, default=100.0)
    p.add_argument("--thread", help="a substring of the process / thread label")
    p.add_argument("--top", type=int, default=40)
    args = p.parse_args()
    threads: Counter[str] = Counter()
    incl: Counter[str] = Counter()
    self_: Counter[str] = Counter()
    with open(args.profile, encoding="utf-8", errors="replace") as handle:
        lines = handle.readlines()
    for line in lines:
        stack, _, count = line.rstrip("\n").rpartition(" ")
        if not stack:
            continue
        n = int(count)
        # a process's command line is quoted and may hold ";"
        stack = re.sub(r':"[^"]*"', "", stack)
        who, frames = _who(stack.split(";"))
        threads[who] += n
        if args.thread and args.thread in who:
            names = [_short(f) for f in frames]
            for name in set(names):
                incl[name] += n
            if names:
                self_[names[-1]] += n
    if not args.thread:
        for who, n in threads.most_common():
            print(f"{n / args.rate:8.2f} s  {who}")
        return
    total = sum(n for who, n in threads.items() if args.thread in who)
    print(f"{total / args.rate:.2f} s in threads matching {args.thread!r}")
    print("   incl s   self s  function")
    for name, n in incl.most_common(args.top):
        print(f"{n / args.rate:9.2f} {self_[name] / args.rate:8.2f}  {name}")


if __name__ == "__main__":
    main()
