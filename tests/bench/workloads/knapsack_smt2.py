# knapsack_smt2.py K: writes to stdout the z3 input of scripts/bench.sh: K seeded 0/1 knapsack problems of 60 items in
# QF_LIA, each in its own push/pop scope with a maximize objective (z3's optimiser: many terms and lemmas made and
# dropped). The same K gives the same file. Must never: depend on anything but K.
import sys

k = int(sys.argv[1]) if len(sys.argv) > 1 else 12
n = 60
s = 12345


def rnd():
    global s
    s = (s * 1103515245 + 12345) % (1 << 31)
    return s


print("(set-logic QF_LIA)")
for i in range(n):
    print(f"(declare-const x{i} Int)\n(assert (and (>= x{i} 0) (<= x{i} 1)))")
for inst in range(k):
    w = [rnd() % 97 + 3 for _ in range(n)]
    v = [rnd() % 89 + 5 for _ in range(n)]
    print("(push 1)")
    print("(assert (<= (+ " + " ".join(f"(* {w[i]} x{i})" for i in range(n)) + f") {sum(w) // 3}))")
    for i in range(inst % 3, n - 1, 3):
        print(f"(assert (or (= x{i} 0) (= x{i + 1} 0)))")
    print("(maximize (+ " + " ".join(f"(* {v[i]} x{i})" for i in range(n)) + "))")
    print("(check-sat)\n(get-objectives)\n(pop 1)")
