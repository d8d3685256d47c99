# demo_workload.py: the built-in default program of scripts/demo.sh. Builds and sorts a few hundred thousand
# objects, keeps a recognisable record alive, prints a digest and leaves abruptly, so its heap has something to explain.
import hashlib
import random

random.seed(2026)
records = [{"id": i, "name": f"user-{i:06d}", "score": random.random()} for i in range(300_000)]
records.sort(key=lambda r: r["score"])
marker = "pmempreload-demo-marker: the record that survives the process"
index = {r["name"]: r for r in records[:50_000]}
digest = hashlib.sha256("".join(r["name"] for r in records[:1000]).encode()).hexdigest()
print(f"sorted {len(records)} records, indexed {len(index)}, digest {digest[:16]}, marker {len(marker)} bytes")

# Leave without tearing the interpreter down, as a killed process would: the heap file keeps every live object,
# which is what the forensic view is for (a normal exit would free them all first).
import os
import sys

sys.stdout.flush()
os._exit(0)
