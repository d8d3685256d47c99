#!/bin/bash
# t-python.sh: python3 builds and sorts 300k objects under the preload; same output; heap checked.
. "$(dirname "$0")/lib.sh"
PY=$(command -v python3.11 || command -v python3)
[ -x /usr/bin/python3 ] && PY=/usr/bin/python3 # the real binary, not a pyenv wrapper script
cat >"$T/sort.py" <<'PYEOF'
import random
random.seed(42)
objs = [{"k": random.random(), "s": str(i), "t": (i, i * 2)} for i in range(300000)]
objs.sort(key=lambda o: o["k"])
d = {o["s"]: o for o in objs[:100000]}
print(len(objs), len(d), objs[0]["s"], objs[-1]["s"], sum(o["t"][1] for o in objs[::1000]))
print(sorted(d)[:3], "".join(sorted(set("".join(o["s"] for o in objs[:5000])))))
PYEOF
# pymalloc would serve small objects from its own arenas: make CPython use malloc for everything
export PYTHONMALLOC=malloc
compare python "$PY" "$T/sort.py"
check_heaps 1
landed "$(basename "$(readlink -f "$PY")")" 300000
