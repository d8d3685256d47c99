#!/usr/bin/env python3
# bench_driver.py: the measuring half of scripts/bench.sh (which installs, builds and prepares, then calls this).
# Runs every benchmark of issue 8 under each allocator, interleaved (for run r, for each benchmark, for each allocator,
# the allocator order rotating with r, so that noise hits all alike), takes the child's wall time and peak RSS
# (wait4 rusage, descendants included), and prints one plain-text table per section: ratios against glibc, median
# [min max] over the runs, geometric means, and the targets of issue 8 with where each stands. Each section's table
# is written to OUT/<section>.txt with the exact command line of every run in OUT/<section>.log and each run's output
# in OUT/raw/.
# Sections: mimalloc-bench (its programs, unchanged, from an already built tree named by --mimalloc-bench), programs
# (python3, perl, sqlite3, z3, rocksdb db_bench, make -j of lua), persist (tests/bench/persist_peers), callgrind
# (tests/bench/fastpath_pairs), micro (tests/bench/mallocbench).
# Must never: download or build anything (bench.sh prepares; mimalloc-bench is built by hand outside the project),
# report a time without the run count and the spread beside it, or hide a failed or wrong run (it shows as FAIL or
# WRONG and leaves the geometric mean, which then says over how many benchmarks it is).
import argparse
import datetime
import hashlib
import math
import os
import platform
import re
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
PEERS = ["jemalloc", "mimalloc", "tcmalloc"]
MINE = "pmempreload"
TIME = "/usr/bin/time"  # GNU time (Debian package time)
# variables that change how an allocator behaves; removed from every child's environment
STRIP = re.compile(r"^(LD_PRELOAD|GLIBC_TUNABLES|MALLOC_.*|MIMALLOC_.*|TCMALLOC_.*|JEMALLOC_.*|PMEMPRELOAD_.*|PMEM_.*)$")


def now_s():
    return datetime.datetime.now().strftime("%Y-%m-%d %H:%M:%S")


def num(v):
    """an absolute value, about 3 significant digits"""
    a = abs(v)
    return f"{v:.0f}" if a >= 100 else f"{v:.1f}" if a >= 10 else f"{v:.2f}" if a >= 0.1 else f"{v:.2g}"


def rat(v):
    """a ratio: 2 decimals"""
    return f"{v:.2f}" if abs(v) >= 0.01 else f"{v:.2g}"


def spread(xs, f=rat):
    """median, and [min max] beside it when there is more than one value"""
    if not xs:
        return "-"
    med = statistics.median(xs)
    return f(med) if len(xs) == 1 else f"{f(med)} [{f(min(xs))} {f(max(xs))}]"


def table(rows):
    """rows of cells (the first is the header): first column left-aligned, the others right-aligned"""
    n = max(len(r) for r in rows)
    rows = [list(r) + [""] * (n - len(r)) for r in rows]
    w = [max(len(r[i]) for r in rows) for i in range(n)]
    return ["  ".join(c.ljust(w[i]) if i == 0 else c.rjust(w[i]) for i, c in enumerate(r)).rstrip() for r in rows]


class Run:
    def __init__(self, rc, wall, rss_kb, out, why=""):
        self.rc, self.wall, self.rss_kb, self.out, self.why = rc, wall, rss_kb, out, why
        self.stdout = out    # out is stdout + stderr, for reading results; stdout alone, for comparing
        self.metric = None   # the "time" of the tables (seconds; a relative time for time-bound benchmarks)
        self.thr = None      # throughput, where the benchmark prints one
        self.digest = None   # output checksum, for benchmarks whose output must equal glibc's
        self.wrong = False

    @property
    def ok(self):
        return self.rc == 0 and self.metric is not None and not self.wrong


class Bench:
    """One benchmark: a command run in cwd with stdin, plus how to read its result from its output."""

    def __init__(self, name, cmd, cwd, stdin=None, metric=None, thr=None, pre=None, same_output=False,
                 geomean=True, note="", ok=None):
        self.name, self.cmd, self.cwd, self.stdin = name, cmd, cwd, stdin
        self.metric = metric          # fn(output text, wall) -> seconds; None: the wall time
        self.thr = thr                # fn(output text) -> throughput or None
        self.pre = pre                # command run untimed (glibc, output to the log) before every run
        self.same_output = same_output
        self.geomean = geomean
        self.note = note
        self.ok = ok                  # fn(output text) -> bool: the run did its work


def grab(pattern, conv=float):
    rx = re.compile(pattern, re.M)

    def f(text, *_):
        m = rx.findall(text)
        return conv(m[-1]) if m else None
    return f


class Driver:
    def __init__(self, a):
        self.a = a
        self.out = a.out
        os.makedirs(os.path.join(self.out, "raw"), exist_ok=True)
        self.work = a.work
        self.heaps = os.path.join(self.work, "heaps")
        self.scratch = os.path.join(self.work, "cwd")
        for d in (self.heaps, self.scratch):
            os.makedirs(d, exist_ok=True)
        self.base_env = {k: v for k, v in os.environ.items() if not STRIP.match(k)}
        self.allocs = []  # (name, extra env)
        for spec in a.alloc:
            name, _, lib = spec.partition("=")
            if name == "glibc":
                self.allocs.append((name, {}))
            elif not lib or not os.path.exists(lib):
                self.say(f"allocator {name}: skipped ({lib or 'no library'} not found)")
            elif name == MINE:
                self.allocs.append((name, {"LD_PRELOAD": lib, "PMEMPRELOAD_PATH": os.path.join(self.heaps, "%e.%p.heap"),
                                           "PMEMPRELOAD_KEEP": "never"}))
            else:
                self.allocs.append((name, {"LD_PRELOAD": lib}))
        self.names = [n for n, _ in self.allocs]
        self.summary = []   # target lines, printed at the end
        self.child = None   # the running command's process group, ended with us
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(sig, self.stop)
        self.results = {}   # section -> {(bench, alloc): [Run per r]}

    def stop(self, signum, _frame):
        if self.child:
            try:
                os.killpg(self.child, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.say(f"bench: stopped by signal {signum}")
        sys.exit(1)

    # ---- output ----
    def say(self, line=""):
        print(line, flush=True)

    def skip(self, section, why):
        """a section that cannot run says so, here and in the summary, whose targets it then leaves unmeasured"""
        self.say(f"== {section}: SKIPPED: {why}")
        self.summary.append(f"SKIPPED {section}: {why}")

    def open_log(self, section):
        log = open(os.path.join(self.out, section + ".log"), "w")
        load = " ".join(open("/proc/loadavg").read().split()[:3])
        log.write(f"# {section}: command lines of every run, in the order run; started {now_s()}\n")
        log.write(f"# host {platform.node()} {platform.release()}, {os.cpu_count()} cpus, load average {load}\n")
        log.write("# every command runs with the caller's environment minus LD_PRELOAD, GLIBC_TUNABLES, MALLOC_*, "
                  "MIMALLOC_*, TCMALLOC_*, JEMALLOC_*, PMEMPRELOAD_* and PMEM_*, plus what its line sets\n")
        for n, e in self.allocs:
            log.write(f"# allocator {n}: {' '.join(f'{k}={v}' for k, v in e.items()) or '(no preload)'}\n")
        log.flush()
        return log

    def write_table(self, section, lines):
        text = "\n".join(lines) + "\n"
        with open(os.path.join(self.out, section + ".txt"), "w") as f:
            f.write(text)
        self.say(text)

    # ---- running one command ----
    def execute(self, cmd, cwd, env_extra, stdin, out_path, log, label, timeout=None, measure=True):
        """Run cmd with env_extra set through env(1) and, when measuring, under GNU time, whose child is the
        program: the peak RSS is the program's (and its descendants'), not that of this Python process, which a
        forked child carries until exec. The preload reaches only the program, as in mimalloc-bench's bench.sh."""
        tfile = out_path + ".time"
        full = ["/usr/bin/env"] + [f"{k}={v}" for k, v in env_extra.items()] + cmd if env_extra else list(cmd)
        measure = measure and os.path.exists(TIME)
        if measure:
            full = [TIME, "-f", "%e %M", "-o", tfile] + full
        line = f"cd {shlex.quote(cwd)} && {shlex.join(full)} < {shlex.quote(stdin or '/dev/null')}"
        line += f" > {shlex.quote(out_path)} 2> {shlex.quote(out_path[:-4] + '.err')}"
        timeout = timeout or self.a.timeout
        fin = open(stdin or "/dev/null", "rb")
        fout = open(out_path, "wb")
        ferr = open(out_path[:-4] + ".err", "wb")
        t0 = time.perf_counter()
        try:
            p = subprocess.Popen(full, cwd=cwd, env=self.base_env, stdin=fin, stdout=fout, stderr=ferr,
                                 start_new_session=True)
        except OSError as e:
            fin.close()
            fout.close()
            ferr.close()
            log.write(f"{label}: {line}\n    => not started: {e}\n")
            return Run(127, 0.0, 0, "", f"not started: {e}")
        self.child = p.pid
        timed_out = []

        def kill():
            timed_out.append(1)
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        timer = threading.Timer(timeout, kill)
        timer.start()
        _, status, ru = os.wait4(p.pid, 0)
        wall = time.perf_counter() - t0
        timer.cancel()
        self.child = None
        p.returncode = os.waitstatus_to_exitcode(status)
        try:  # whatever the program left running in its session
            os.killpg(p.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        fin.close()
        fout.close()
        ferr.close()
        rss = ru.ru_maxrss
        if measure:
            try:
                last = open(tfile).read().split("\n")
                rss = int([x for x in last if re.match(r"^[0-9.]+ \d+$", x)][-1].split()[1])
            except (OSError, IndexError, ValueError):
                rss = 0
        text = open(out_path, "rb").read().decode("utf-8", "replace")
        err = open(out_path[:-4] + ".err", "rb").read().decode("utf-8", "replace")
        why = f"timed out after {timeout} s" if timed_out else (f"exit {p.returncode}" if p.returncode else "")
        r = Run(p.returncode if not timed_out else -9, wall, rss, text + err, why)
        r.stdout = text
        log.write(f"{label}: {line}\n    => rc={r.rc} wall={wall:.3f}s maxrss={rss}KB"
                  f" user={ru.ru_utime:.2f}s sys={ru.ru_stime:.2f}s{' ' + why if why else ''}\n")
        log.flush()
        return r

    def clean_heaps(self, log):
        left = [f for f in os.listdir(self.heaps)]
        for f in left:
            p = os.path.join(self.heaps, f)
            if os.path.isdir(p):
                shutil.rmtree(p, ignore_errors=True)
            else:
                os.unlink(p)
        if left:
            log.write(f"    note: {len(left)} file(s) left in the heap directory, removed: {' '.join(left[:5])}\n")

    def run_bench(self, section, b, alloc, env_extra, r, log):
        raw = os.path.join(self.out, "raw", section)
        os.makedirs(raw, exist_ok=True)
        if b.pre:
            self.execute(b.pre, b.cwd, {}, None, os.path.join(raw, f"{b.name}.{alloc}.r{r}.pre.out"), log,
                         f"[run {r}] {b.name} {alloc} (untimed preparation)", measure=False)
        out = os.path.join(raw, f"{b.name}.{alloc}.r{r}.out")
        run = self.execute(b.cmd, b.cwd, env_extra, b.stdin, out, log, f"[run {r}] {b.name} {alloc}")
        self.clean_heaps(log)
        if run.rc == 0:
            if b.ok and not b.ok(run.out):
                run.wrong, run.why = True, "output does not show the work done"
            run.metric = b.metric(run.out, run.wall) if b.metric else run.wall
            if run.metric is None:
                run.why = "no result in its output"
            run.thr = b.thr(run.out) if b.thr else None
            if b.same_output:
                run.digest = hashlib.sha256(run.stdout.encode()).hexdigest()  # stdout only: not warnings
        if run.why:
            log.write(f"    => {b.name} {alloc}: {run.why} (see {out})\n")
        return run

    def campaign(self, section, benches):
        """for r in runs: for b in benches: for alloc (rotated by r)"""
        log = self.open_log(section)
        res = {}
        n = len(self.allocs)
        for r in range(1, self.a.runs + 1):
            order = self.allocs[(r - 1) % n:] + self.allocs[:(r - 1) % n]
            for b in benches:
                for alloc, env_extra in order:
                    run = self.run_bench(section, b, alloc, env_extra, r, log)
                    res.setdefault((b.name, alloc), []).append(run)
                    self.say(f"  [{section} run {r}/{self.a.runs}] {b.name:<16} {alloc:<12} "
                             + (f"{run.metric:8.3f} s  {run.rss_kb / 1024:8.1f} MiB" if run.ok else
                                f"FAILED: {run.why}"))
                # outputs that must be equal: compare each allocator's with glibc's of the same run
                if b.same_output:
                    ref = res.get((b.name, "glibc"), [None])[-1]
                    for alloc, _ in order:
                        run = res[(b.name, alloc)][-1]
                        if ref and ref.digest and run.digest and run.digest != ref.digest:
                            run.wrong, run.why = True, "output differs from glibc's"
                            log.write(f"    => {b.name} {alloc}: WRONG: output differs from glibc's\n")
        log.write(f"# finished {now_s()}; load average {' '.join(open('/proc/loadavg').read().split()[:3])}\n")
        log.close()
        self.results[section] = res
        return res

    # ---- statistics and tables ----
    @staticmethod
    def geo(xs):
        return math.exp(sum(math.log(x) for x in xs) / len(xs)) if xs else None

    def ratio_table(self, benches, res, title, what):
        """what: 'metric' (time) or 'rss'. Returns the lines, per allocator the per-run ratios of each benchmark
        (plus '_best': pmempreload against the best of the others, run by run), and per allocator the geometric
        mean of each run over the benchmarks that every allocator ran correctly."""
        runs = self.a.runs
        val = (lambda x: x.metric) if what == "metric" else (lambda x: float(x.rss_kb))
        unit = (lambda v: num(v)) if what == "metric" else (lambda v: num(v / 1024))
        cols = self.names
        best_col = MINE in cols and what == "metric" and len(cols) > 1
        rows = [["benchmark"] + cols + (["pmp/best other"] if best_col else [])]
        per_alloc = {c: {} for c in cols}
        failed = set()
        for b in benches:
            cells = []
            g = res.get((b.name, "glibc"), [])
            for c in cols:
                rs = res.get((b.name, c), [])
                bad = [x for x in rs if not x.ok]
                if not rs or bad:
                    kind = "-" if not rs else "WRONG" if any(x.wrong for x in bad) else "FAIL"
                    cells.append(kind if not rs else f"{kind} {len(bad)}/{len(rs)}")
                    failed.add(b.name)
                elif c == "glibc":
                    cells.append(spread([val(x) for x in rs], unit))
                elif len(g) != len(rs) or any(not x.ok for x in g):
                    cells.append("no glibc")
                    failed.add(b.name)
                else:
                    if any(val(y) <= 0 for y in g) or any(val(x) <= 0 for x in rs):
                        cells.append("?")      # GNU time gave no figure
                        failed.add(b.name)
                        continue
                    ratios = [val(x) / val(y) for x, y in zip(rs, g)]
                    per_alloc[c][b.name] = ratios
                    cells.append(spread(ratios))
            if best_col:
                mine = res.get((b.name, MINE), [])
                others = [res.get((b.name, p), []) for p in cols if p != MINE]
                if mine and all(x.ok for x in mine) and all(len(o) == len(mine) and all(x.ok for x in o)
                                                            for o in others):
                    rr = [mine[i].metric / min(o[i].metric for o in others) for i in range(len(mine))]
                    per_alloc.setdefault("_best", {})[b.name] = rr
                    cells.append(spread(rr))
                else:
                    cells.append("-")
            rows.append([b.name + ("*" if b.metric else "") + ("" if b.geomean else " (s)")] + cells)
        common = [b.name for b in benches if b.geomean and b.name not in failed]
        geo_runs = {}
        cells = []
        for c in cols:
            if c == "glibc":
                cells.append("1.00")
                continue
            per_run = [self.geo([per_alloc[c][n][i] for n in common]) for i in range(runs)] if common else []
            geo_runs[c] = per_run
            cells.append(spread(per_run))
        rows.append(["geomean"] + cells)
        skipped = [b.name for b in benches if b.geomean and b.name in failed]
        lines = [title] + table(rows)
        lines.append(f"  geomean over {len(common)} benchmark(s), one per run, then median [min max] of those"
                     + (f"; left out because a run failed or was wrong somewhere: {', '.join(skipped)}"
                        if skipped else ""))
        return lines, per_alloc, geo_runs


    # ---- section 1: mimalloc-bench ----
    def mimalloc_bench(self):
        sec = "mimalloc-bench"
        mb = self.a.mimalloc_bench
        if not mb:
            self.skip(sec, f"MIMALLOC_BENCH is not set (point it at the out/bench directory of a "
                     "mimalloc-bench checkout whose bench/ folder was built with its own CMake; see "
                     "tests/bench/README.md)")
            return
        if not os.path.isdir(mb):
            self.skip(sec, f"MIMALLOC_BENCH={mb} is not a directory")
            return
        src = self.a.mimalloc_bench_src or os.path.normpath(os.path.join(mb, "..", "..", "bench"))
        P = str(self.a.procs)
        q = self.a.quick
        larson_s = "1" if q else "5"
        xm_t = "1" if q else "5"
        cache_reps = "200000" if q else "2000000"
        cfrac_n = "175451865205073170563711388363278453" if q else "17545186520507317056371138836327483792789528"
        larson_rt = grab(r"relative time: ([0-9.]+)s")
        larson_thr = grab(r"Throughput =\s*([0-9.]+)")
        xm_rt = grab(r"rtime: ([0-9.]+)")
        xm_thr = grab(r"free/sec: ([0-9.]+) M")
        rp_ops = grab(r"\.(\d+) memory ops", int)
        gt_it = grab(r"^(\d+) iterations", int)
        cwd = self.scratch
        specs = [  # name, program, args, stdin, metric, thr, in geomean
            ("cfrac", "cfrac", [cfrac_n], None, None, None, True),
            ("espresso", "espresso", [os.path.join(src, "espresso", "largest.espresso")], None, None, None, True),
            ("barnes", "barnes", [], os.path.join(src, "barnes", "input"), None, None, True),
            ("larsonN", "larson", [larson_s, "8", "1000", "5000", "100", "4141", P], None, larson_rt, larson_thr, True),
            ("larsonN-sized", "larson-sized", [larson_s, "8", "1000", "5000", "100", "4141", P], None, larson_rt,
             larson_thr, True),
            ("larson1", "larson", [larson_s, "8", "1000", "5000", "100", "4141", "1"], None, larson_rt, larson_thr,
             False),
            ("alloc-test1", "alloc-test", ["1"], None, None, None, True),
            ("alloc-testN", "alloc-test", [str(min(self.a.procs, 16))], None, None, None, True),
            ("xmalloc-testN", "xmalloc-test", ["-w", P, "-t", xm_t, "-s", "64"], None, xm_rt, xm_thr, True),
            ("xmalloc-test1", "xmalloc-test", ["-w", "1", "-t", xm_t, "-s", "64"], None, xm_rt, xm_thr, False),
            ("cache-scratch1", "cache-scratch", ["1", "1000", "1", cache_reps, P], None, None, None, True),
            ("cache-scratchN", "cache-scratch", [P, "1000", "1", cache_reps, P], None, None, None, True),
            ("cache-thrash1", "cache-thrash", ["1", "1000", "1", cache_reps, P], None, None, None, True),
            ("cache-thrashN", "cache-thrash", [P, "1000", "1", cache_reps, P], None, None, None, True),
            ("glibc-simple", "glibc-simple", [], None, None, None, True),
            ("glibc-thread", "glibc-thread", [P], None, lambda t, w: (1e9 / gt_it(t)) if gt_it(t) else None, None,
             True),
            ("malloc-large", "malloc-large", [], None, None, None, True),
            ("mstressN", "mstress", [P, "50", "25"], None, None, None, True),
            ("mleak10", "mleak", ["5"], None, None, None, True),
            ("mleak100", "mleak", ["50"], None, None, None, True),
            ("rptestN", "rptest", [P, "0", "1", "2", "500", "1000", "100", "8", "16000"], None,
             lambda t, w: (2e6 / rp_ops(t)) if rp_ops(t) else None, None, True),
        ]
        benches = []
        for name, prog, args, stdin, metric, thr, gm in specs:
            exe = os.path.join(mb, prog)
            missing = [f for f in [exe] + [x for x in args if x.startswith("/")] + ([stdin] if stdin else [])
                       if not os.path.exists(f)]
            if missing:
                self.say(f"  {sec}: {name} skipped: missing {', '.join(missing)}")
                continue
            if self.a.only and not re.search(self.a.only, name):
                continue
            benches.append(Bench(name, [exe] + args, cwd, stdin, metric, thr, geomean=gm))
        if not benches:
            self.skip(sec, f"no benchmark program found in {mb}")
            return
        self.say(f"== {sec}: {len(benches)} benchmarks x {len(self.allocs)} allocators x {self.a.runs} run(s), "
                 f"{P} threads for the N variants")
        res = self.campaign(sec, benches)
        n = self.a.runs
        head = f"over {n} run(s)" + (", median [min max]" if n > 1 else "")
        t_lines, t_per, t_geo = self.ratio_table(
            benches, res, f"mimalloc-bench ({mb}): time, ratio to glibc (lower is better), {head}; "
            "glibc column in seconds", "metric")
        m_lines, m_per, m_geo = self.ratio_table(
            benches, res, f"mimalloc-bench: peak RSS, ratio to glibc (lower is better), {head}; "
            "glibc column in MiB", "rss")
        lines = t_lines + [""] + m_lines + [""]
        lines.append("* time derived from the throughput the program prints (it runs for a fixed time), as "
                     "mimalloc-bench does; (s) runs only for the scaling line, not in the geomean")
        # 2 threads against 1: throughput ratio per run
        lines.append("")
        lines.append(f"scaling: throughput with {P} threads / with 1 thread, {head} (target for pmempreload: >= 1.8)")
        rows = [["benchmark"] + self.names]
        for nn, one in (("larsonN", "larson1"), ("xmalloc-testN", "xmalloc-test1")):
            cells = []
            for c in self.names:
                a_, b_ = res.get((nn, c), []), res.get((one, c), [])
                if a_ and b_ and all(x.ok and x.thr for x in a_ + b_):
                    rr = [x.thr / y.thr for x, y in zip(a_, b_)]
                    cells.append(spread(rr))
                    if c == MINE:
                        self.target(f"{nn[:-1]} {P} threads / 1 thread throughput", rr, ">=", 1.8)
                else:
                    cells.append("-")
            rows.append([nn[:-1]] + cells)
        lines += table(rows)
        self.write_table(sec, lines)
        # targets
        if MINE in t_geo and t_geo[MINE]:
            self.target("mimalloc-bench time geomean / glibc's", t_geo[MINE], "<=", 0.90,
                        "peers: " + ", ".join(f"{p} {statistics.median(t_geo[p]):.2f}" for p in PEERS if t_geo.get(p)))
        in_geo = {b.name for b in benches if b.geomean}
        best = {k: v for k, v in t_per.get("_best", {}).items() if k in in_geo}
        if best:
            worst = max(best, key=lambda k: statistics.median(best[k]))
            over = [f"{k} {statistics.median(v):.2f}" for k, v in best.items() if statistics.median(v) > 1.25]
            self.target(f"mimalloc-bench worst time / best peer's ({worst})", best[worst], "<=", 1.25,
                        "over 1.25: " + (", ".join(over) if over else "none"))
        if MINE in m_geo and m_geo[MINE] and m_geo.get("jemalloc"):
            je = m_geo["jemalloc"]
            self.target("mimalloc-bench peak RSS geomean / jemalloc's", [x / y for x, y in zip(m_geo[MINE], je)],
                        "<=", 1.0, f"pmempreload {statistics.median(m_geo[MINE]):.2f}x glibc, jemalloc "
                        f"{statistics.median(je):.2f}x glibc")

    def target(self, what, values, op, goal, note=""):
        med = statistics.median(values)
        met = med <= goal if op == "<=" else med >= goal
        f = rat if abs(med) < 100 else num
        mm = f" [{f(min(values))} {f(max(values))}]" if len(values) > 1 else ""
        self.summary.append(f"{'met   ' if met else 'MISSED'}  {what}: {f(med)}{mm} (target {op} {goal})"
                            + (f"; {note}" if note else ""))

    # ---- section 2: real programs ----
    def programs(self):
        sec = "programs"
        q = self.a.quick
        wl = os.path.join(HERE, "workloads")
        inputs = os.path.join(self.work, "inputs")
        os.makedirs(inputs, exist_ok=True)
        benches = []

        def have(path, name):
            if shutil.which(path) or os.path.exists(path):
                return True
            self.say(f"  {sec}: {name} skipped: {path} not installed")
            return False
        py = "/usr/bin/python3"
        if have(py, "python3"):
            benches.append(Bench("python3-dict", [py, "-I", os.path.join(wl, "dict_sort.py"), "30000" if q else "300000"],
                                 self.scratch, same_output=True))
            benches.append(Bench("python3-sparse", [py, "-I", os.path.join(wl, "sparse_buffers.py"),
                                                    "60" if q else "400"], self.scratch, same_output=True))
        if have("/usr/bin/perl", "perl"):
            benches.append(Bench("perl-hash", ["/usr/bin/perl", os.path.join(wl, "hash_sort.pl"),
                                               "20000" if q else "200000"], self.scratch, same_output=True))
        if have("/usr/bin/sqlite3", "sqlite3"):
            rows = "50000" if q else "500000"
            sql = os.path.join(inputs, f"sqlite_workload.{rows}.sql")
            with open(sql, "w") as f:
                f.write(open(os.path.join(wl, "sqlite_workload.sql")).read().replace("@ROWS@", rows))
            benches.append(Bench("sqlite3", ["/usr/bin/sqlite3", "-batch", ":memory:"], self.scratch, stdin=sql,
                                 same_output=True))
        if have("/usr/bin/z3", "z3 (Debian package z3)"):
            k = "2" if q else "12"
            smt = os.path.join(inputs, f"knapsack.{k}.smt2")
            with open(smt, "w") as f:
                subprocess.run([sys.executable, os.path.join(wl, "knapsack_smt2.py"), k], stdout=f, check=True)
            benches.append(Bench("z3", ["/usr/bin/z3", "-smt2", smt], self.scratch, same_output=True,
                                 ok=lambda t: t.count("sat") >= 1))
        if have("/usr/bin/db_bench", "rocksdb db_bench (Debian package rocksdb-tools)"):
            db = os.path.join(self.work, "rocksdb")
            benches.append(Bench("rocksdb-fillrand", ["/usr/bin/db_bench", "--benchmarks=fillrandom", f"--db={db}",
                                                      f"--num={100000 if q else 1000000}", "--seed=42"],
                                 self.scratch, pre=["rm", "-rf", db], ok=lambda t: "fillrandom" in t))
        lua = self.a.lua_src
        if not lua or not os.path.isfile(os.path.join(lua, "Makefile")):
            self.say(f"  {sec}: lua-make skipped: no lua source tree ({lua or 'bench.sh could not get one'}: "
                     "it comes from `apt-get source lua5.4`, see bench.sh)")
        elif have("/usr/bin/make", "make") and have("/usr/bin/gcc", "gcc"):
            benches.append(Bench(f"lua-make-j{self.a.procs}", ["/usr/bin/make", f"-j{self.a.procs}", "linux"], lua,
                                 pre=["/usr/bin/make", "clean"],
                                 ok=lambda t: "Error" not in t))
        if self.a.only:
            benches = [b for b in benches if re.search(self.a.only, b.name)]
        if not benches:
            self.skip(sec, f"none of the programs is installed")
            return
        self.say(f"== {sec}: {len(benches)} programs x {len(self.allocs)} allocators x {self.a.runs} run(s)")
        res = self.campaign(sec, benches)
        n = self.a.runs
        head = f"over {n} run(s)" + (", median [min max]" if n > 1 else "")
        t_lines, _, t_geo = self.ratio_table(benches, res, f"real programs: time, ratio to glibc, {head}; "
                                             "glibc column in seconds", "metric")
        m_lines, _, _ = self.ratio_table(benches, res, f"real programs: peak RSS (largest process), ratio "
                                         f"to glibc, {head}; glibc column in MiB", "rss")
        lines = t_lines + [""] + m_lines + ["", "outputs of python3, perl, sqlite3 and z3 are compared with glibc's: "
                                            "WRONG when they differ"]
        self.write_table(sec, lines)
        if MINE in t_geo and t_geo[MINE]:
            self.summary.append(f"info    real programs time geomean / glibc's: pmempreload "
                                f"{statistics.median(t_geo[MINE]):.2f}; "
                                + ", ".join(f"{p} {statistics.median(t_geo[p]):.2f}" for p in PEERS if t_geo.get(p)))

    # ---- section 4: persistent peers ----
    def persist(self):
        sec = "persist"
        exe = os.path.join(self.a.build, "tests", "bench", "persist_peers")
        if not os.path.exists(exe):
            self.skip(sec, f"{exe} not built (meson builds it only when libpmemobj-dev or "
                     "libboost-dev is installed)")
            return
        have = subprocess.run([exe, "--list"], capture_output=True, text=True).stdout.split()
        q = self.a.quick
        common = ["--dir", self.heaps, "--ops", "200000" if q else "2000000", "--slots", "20000" if q else "100000"]
        peers = [("pmp", ["--peer", "pmp"], {})]
        cap = "5" if q else "30"
        if "pmemobj" in have:
            peers.append(("pmemobj", ["--peer", "pmemobj", "--max-seconds", cap], {}))
            peers.append(("pmemobj-forced", ["--peer", "pmemobj"], {"PMEM_IS_PMEM_FORCE": "1"}))
        else:
            self.say(f"  {sec}: pmemobj skipped: persist_peers was built without libpmemobj")
        if "boost" in have:
            peers.append(("boost", ["--peer", "boost"], {}))
        else:
            self.say(f"  {sec}: boost skipped: persist_peers was built without Boost.Interprocess")
        self.say(f"== {sec}: {len(peers)} peers x {self.a.runs} run(s), heap files in {self.heaps}")
        log = self.open_log(sec)
        res = {}
        mops = grab(r"mops=([0-9.]+)")
        reopen = grab(r"reopen_ms=([0-9.]+)")
        raw = os.path.join(self.out, "raw", sec)
        os.makedirs(raw, exist_ok=True)
        for r in range(1, self.a.runs + 1):
            for name, args, env in peers[(r - 1) % len(peers):] + peers[:(r - 1) % len(peers)]:
                run = self.execute([exe] + args + common, self.scratch, env, None,
                                   os.path.join(raw, f"{name}.r{r}.out"), log, f"[run {r}] {name}")
                run.metric = mops(run.out) if run.rc == 0 else None
                run.thr = reopen(run.out) if run.rc == 0 else None
                if run.rc == 0 and "verified=ok" not in run.out:
                    run.wrong = True
                res.setdefault(name, []).append(run)
                self.say(f"  [{sec} run {r}/{self.a.runs}] {name:<16} "
                         + (f"{run.metric:.3f} Mops/s" if run.ok else f"FAILED: {run.why or 'not verified'}"))
        log.close()
        n = self.a.runs
        head = f"over {n} run(s)" + (", median [min max]" if n > 1 else "")
        lines = [f"persistent heaps, one workload ({common[3]} steps of random malloc/free of 16-1024 B over "
                 f"{common[5]} persistent slots, then close + reopen + check), heap files in {self.heaps}, {head}",
                 ]
        rows = [["peer", "Mops/s", "pmp / peer", "reopen+verify ms"]]
        pm = res.get("pmp", [])
        for name, _, _ in peers:
            rs = res[name]
            if not all(x.ok for x in rs):
                rows.append([name, "FAIL"])
                continue
            ratio = [p.metric / x.metric for p, x in zip(pm, rs)] if pm and all(p.ok for p in pm) else []
            rows.append([name, spread([x.metric for x in rs], num), spread(ratio, num) if name != "pmp" else "",
                         spread([x.thr for x in rs], num)])
            if name != "pmp" and ratio:
                self.target(f"persistent workload pmp ops/s / {name}'s", ratio, ">=",
                            5.0 if name == "boost" else 20.0,
                            {"pmemobj": "pmemobj msyncs on every call on a regular file",
                             "pmemobj-forced": "pmemobj with cache-line flushes instead (PMEM_IS_PMEM_FORCE=1)",
                             "boost": ""}[name])
        lines += table(rows)
        lines += ["", "pmemobj: on a regular file libpmemobj msyncs on every allocation; it stops after "
                  f"{cap} s and reports the steps it did (a prefix of the same sequence). pmemobj-forced: PMEM_IS_PMEM_FORCE=1 (cache-line flushes instead of msync, "
                  "as on real persistent memory; not power-loss safe on a disk).",
                  "pmp: process-crash safe, no msync (PMEMPRELOAD_SYNC=none semantics). boost: not crash safe."]
        self.write_table(sec, lines)

    # ---- section 5: instructions per malloc/free pair ----
    def callgrind(self):
        sec = "callgrind"
        progs = [("malloc(64)+free", "fastpath_pairs"), ("operator new(64)+delete", "fastpath_new")]
        vg = shutil.which("valgrind")
        if not vg:
            self.skip(sec, f"valgrind not installed")
            return
        exes = [(what, os.path.join(self.a.build, "tests", "bench", prog)) for what, prog in progs]
        if not os.path.exists(exes[0][1]):
            self.skip(sec, f"{exes[0][1]} not built")
            return
        n = 20000 if self.a.quick else 200000
        self.say(f"== {sec}: {n} malloc(64)+free pairs (and operator new(64)+delete pairs) under callgrind, one run "
                 "per allocator (counts repeat)")
        log = self.open_log(sec)
        raw = os.path.join(self.out, "raw", sec)
        os.makedirs(raw, exist_ok=True)
        annotate = shutil.which("callgrind_annotate")
        lines, first = [], None
        for what, exe in exes:
            if not os.path.exists(exe):
                lines.append(f"({what}: {exe} not built)")
                continue
            got, loop = {}, {}
            for name, env in self.allocs:
                per_pair, own, why = self.callgrind_count(vg, annotate, exe, name, env, n, raw, log)
                if per_pair is not None:
                    got[name] = per_pair
                if own is not None:
                    loop[name] = own
                self.say(f"  [{sec}] {what:<24} {name:<12} " + (f"{per_pair:.1f} instructions per pair"
                                                                 if per_pair is not None else f"FAILED: {why}"))
            alloc_only = {k: v - loop.get(k, 0.0) for k, v in got.items()}
            if first is None:
                first = alloc_only
            lines += [f"instructions per {what} pair on the fast path (callgrind, {n} pairs "
                      "after 10,000 of warm-up): all counted, the loop's own (measured_pairs, exclusive), and the "
                      "rest: the calls into the allocator"]
            rows = [["allocator", "instr/pair", "of it the loop", "allocator", "/ jemalloc"]]
            je = alloc_only.get("jemalloc")
            for name in self.names:
                if name in got:
                    rows.append([name, f"{got[name]:.1f}", f"{loop[name]:.1f}" if name in loop else "?",
                                 f"{alloc_only[name]:.1f}", rat(alloc_only[name] / je) if je else "-"])
                else:
                    rows.append([name, "FAIL"])
            lines += table(rows) + [""]
        log.close()
        self.write_table(sec, lines[:-1] if lines and lines[-1] == "" else lines)
        je = first.get("jemalloc") if first else None
        if first and MINE in first and je:
            self.target("allocator instructions per malloc/free pair / jemalloc's", [first[MINE] / je], "<=",
                        1.0, f"pmempreload {first[MINE]:.0f}, jemalloc {je:.0f}"
                        + "".join(f", {p} {first[p]:.0f}" for p in ["glibc", "mimalloc", "tcmalloc"]
                                  if p in first))

    def callgrind_count(self, vg, annotate, exe, name, env, n, raw, log):
        """exe's n pairs under callgrind with allocator name: (instructions per pair, of them the loop's own (None
        when not found), why it failed (when the first is None))"""
        tag = os.path.basename(exe)
        # the preload goes to the client through env(1), so valgrind's own launcher runs without it
        env = dict(env)
        if name == MINE:
            env["PMEMPRELOAD_SIZE"] = "1G"
        prefix = f"callgrind.{tag}.{name}."
        for old in [f for f in os.listdir(raw) if f.startswith(prefix)]:
            os.unlink(os.path.join(raw, old))
        cmd = [vg, "--tool=callgrind", "--toggle-collect=measured_pairs", "--trace-children=yes",
               f"--callgrind-out-file={raw}/{prefix}%p.out", "/usr/bin/env"] \
            + [f"{k}={v}" for k, v in env.items()] + [exe, str(n)]
        run = self.execute(cmd, self.scratch, {}, None, os.path.join(raw, f"{tag}.{name}.out"), log, f"[{name}]",
                           timeout=600, measure=False)
        self.clean_heaps(log)
        m = re.findall(r"Collected : (\d+)", run.out)
        if run.rc != 0 or not m or int(m[-1]) == 0:
            return None, None, run.why or "no count"
        loop = None
        # the loop's own instructions (measured_pairs, exclusive), so the allocator's can be told apart
        for f in sorted(os.listdir(raw)) if annotate else []:
            if f.startswith(prefix) and f.endswith(".out"):
                cmd_a = [annotate, "--inclusive=no", os.path.join(raw, f)]
                log.write(f"[{name}] {shlex.join(cmd_a)}\n")
                txt = subprocess.run(cmd_a, capture_output=True, text=True).stdout
                mm = re.search(r"^\s*([\d,]+) .*:measured_pairs ", txt, re.M)
                if mm:
                    loop = int(mm.group(1).replace(",", "")) / n
        return int(m[-1]) / n, loop, None

    # ---- micro: tests/bench/mallocbench (the project's own micro-benchmark) ----
    def micro(self):
        sec = "micro"
        exe = os.path.join(self.a.build, "tests", "bench", "mallocbench")
        if not os.path.exists(exe):
            self.skip(sec, f"{exe} not built")
            return
        scale = ["--scale", "0.1"] if self.a.quick else []
        rx = re.compile(r"^(\w+)\s+\d+ ops\s+[0-9.]+ s\s+([0-9.]+) Mops/s", re.M)
        benches = [Bench("mallocbench", [exe] + scale, self.scratch, metric=lambda t, w: 1.0 if rx.search(t) else None)]
        self.say(f"== {sec}: mallocbench x {len(self.allocs)} allocators + the explicit API x {self.a.runs} run(s)")
        saved = self.allocs
        self.allocs = saved + [("pmp-api", {})]
        benches_api = Bench("mallocbench-api", [exe, "--api"] + scale, self.scratch,
                            metric=lambda t, w: 1.0 if rx.search(t) else None)
        log = self.open_log(sec)
        res = {}
        for r in range(1, self.a.runs + 1):
            for alloc, env in self.allocs:
                b = benches_api if alloc == "pmp-api" else benches[0]
                run = self.run_bench(sec, b, alloc, env, r, log)
                for w, v in rx.findall(run.out) if run.ok else []:
                    res.setdefault((w, alloc), []).append(float(v))
                self.say(f"  [{sec} run {r}/{self.a.runs}] {alloc:<12} " + ("ok" if run.ok else f"FAILED: {run.why}"))
        log.close()
        names = [a for a, _ in self.allocs]
        self.allocs = saved
        works = [w for w in ["touch", "retouch", "pairs", "churn", "mixed", "threads"] if any(k[0] == w for k in res)]
        lines = [f"mallocbench (tests/bench): Mops/s (higher is better), over {self.a.runs} run(s)"
                 + (", median [min max]" if self.a.runs > 1 else ""),
                 ]
        rows = [["workload"] + names]
        for w in works:
            rows.append([w] + [spread(res.get((w, a), []), num) for a in names])
        lines += table(rows)
        self.write_table(sec, lines)


def main():
    ap = argparse.ArgumentParser(description="measuring half of scripts/bench.sh")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--out", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--build", required=True)
    ap.add_argument("--alloc", action="append", default=[], help="NAME=LIB (glibc= for none), in column order")
    ap.add_argument("--mimalloc-bench", default="")
    ap.add_argument("--mimalloc-bench-src", default="")
    ap.add_argument("--lua-src", default="")
    ap.add_argument("--procs", type=int, default=2)
    ap.add_argument("--timeout", type=int, default=900)
    ap.add_argument("--sections", default="mimalloc-bench,programs,persist,callgrind,micro")
    ap.add_argument("--only", default="", help="regex on benchmark names (mimalloc-bench and programs)")
    a = ap.parse_args()
    d = Driver(a)
    load = " ".join(open("/proc/loadavg").read().split()[:3])
    d.say(f"bench: {now_s()}, {os.cpu_count()} cpus, load average {load}; {a.runs} run(s)"
          f"{' (quick: small inputs)' if a.quick else ''}; results in {a.out}")
    if a.runs < 3 and not a.quick:
        d.say("bench: WARNING: fewer than 3 runs: medians of fewer than 3 runs are not results")
    sections = {"mimalloc-bench": d.mimalloc_bench, "programs": d.programs, "persist": d.persist,
                "callgrind": d.callgrind, "micro": d.micro}
    for s in a.sections.split(","):
        if s not in sections:
            d.say(f"bench: unknown section {s} (known: {', '.join(sections)})")
            return 2
    for s in a.sections.split(","):
        sections[s]()
    load = " ".join(open("/proc/loadavg").read().split()[:3])
    lines = [f"issue 8 targets, pmempreload (load average at the end {load}; {a.runs} run(s)"
             f"{', QUICK: small inputs, not results' if a.quick else ''})"] + (d.summary or ["(no target measured)"])
    d.write_table("summary", lines)
    return 0


if __name__ == "__main__":
    sys.exit(main())
