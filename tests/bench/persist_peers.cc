/* persist_peers.cc: one persistent-heap workload run against pmempreload's explicit API (pmp_malloc/pmp_free on a
 * pmp_file_open heap), libpmemobj (pmemobj_alloc/pmemobj_free on a pool file) and Boost.Interprocess
 * managed_mapped_file, so scripts/bench.sh can report their ops/s side by side (issue 8).
 *
 * The workload, identical for every peer: a persistent table of SLOTS pointers lives in the heap itself (pmp: a block
 * named by the root "slots"; pmemobj: the root object; Boost: a named array of offset_ptr). OPS seeded random steps
 * each pick a slot: a full slot is freed, an empty one gets a block of a mixed small size (60% 16-64 B, 30% 64-256 B,
 * 10% 256-1024 B) whose first 8 bytes are set to the slot number (a plain store, no flush, for every peer). Then the
 * heap is closed, reopened, and every full slot is checked for its tag. Prints one line per run:
 *   peer=NAME ops=N seconds=S mops=M reopen_ms=R live=L verified=ok|BAD
 * The allocation guarantees differ and are the peers' own: pmemobj persists its metadata on every call (msync on a
 * regular file; cache-line flushes with PMEM_IS_PMEM_FORCE=1), pmempreload's heap is process-crash safe without
 * msync, Boost's is not crash safe at all.
 *
 * Built by meson only when libpmemobj or Boost is found; the pmp peer is always there.
 * Must never: assert on a time (scripts/bench.sh takes medians of ratios), run a peer on tmpfs without saying so
 * (the caller picks --dir), or leave its heap file behind.
 */
#include <chrono>
#include <cinttypes>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include <unistd.h>

#include "pmempreload.h"

#if HAVE_PMEMOBJ
#include <libpmemobj.h>
#endif
#if HAVE_BOOST
#include <boost/interprocess/managed_mapped_file.hpp>
#include <boost/interprocess/offset_ptr.hpp>
#endif

namespace {

struct params {
	uint64_t ops = 2000000;
	uint64_t slots = 100000;
	double max_seconds = 120.0; /* a slow peer stops early and reports the ops it did */
	std::string dir = ".";
};

struct result {
	uint64_t ops = 0;
	double seconds = 0, reopen = 0;
	uint64_t live = 0;
	bool ok = true;
};

double now()
{
	using namespace std::chrono;
	return duration<double>(steady_clock::now().time_since_epoch()).count();
}

uint64_t rng(uint64_t &s)
{
	s ^= s << 13;
	s ^= s >> 7;
	s ^= s << 17;
	return s;
}

size_t pick_size(uint64_t &s)
{
	uint64_t r = rng(s) % 100;
	if (r < 60)
		return 16 + rng(s) % 49;
	if (r < 90)
		return 64 + rng(s) % 193;
	return 256 + rng(s) % 769;
}

/* The one loop every peer runs. full(k) tells whether slot k holds a block, put(k, size) allocates into it and
 * returns the block, drop(k) frees it. Stops after p.ops steps or p.max_seconds, checked every 4096 steps. */
template <class Full, class Put, class Drop> uint64_t run_ops(const params &p, Full full, Put put, Drop drop)
{
	uint64_t s = 0x9e3779b97f4a7c15ull, i = 0;
	double t0 = now();
	for (; i < p.ops; i++) {
		uint64_t k = rng(s) % p.slots;
		if (full(k)) {
			drop(k);
		} else {
			void *b = put(k, pick_size(s));
			if (!b) {
				fprintf(stderr, "persist_peers: allocation failed at step %" PRIu64 "\n", i);
				exit(1);
			}
			memcpy(b, &k, sizeof k);
		}
		if ((i & 4095) == 4095 && now() - t0 > p.max_seconds) {
			i++;
			break;
		}
	}
	return i;
}

void report(const char *peer, const result &r)
{
	printf("peer=%s ops=%" PRIu64 " seconds=%.4f mops=%.4f reopen_ms=%.2f live=%" PRIu64 " verified=%s\n", peer,
	       r.ops, r.seconds, (double)r.ops / r.seconds / 1e6, r.reopen * 1e3, r.live, r.ok ? "ok" : "BAD");
}

int run_pmp(const params &p)
{
	std::string path = p.dir + "/persist-pmp." + std::to_string(getpid()) + ".heap";
	pmp_file_opts_t o;
	memset(&o, 0, sizeof o);
	o.mode = PMP_OPEN_CREATE;
	o.addr = (void *)0x6e0000000000ull; /* clear of the preload's default, should this run under it */
	pmp_heap_t *h;
	int e = pmp_file_open(path.c_str(), &o, &h);
	if (e) {
		fprintf(stderr, "persist_peers: %s: %s\n", path.c_str(), pmp_strerror(e));
		return 2;
	}
	void **tab = (void **)pmp_calloc(h, p.slots, sizeof *tab);
	if (!tab || pmp_root_set(h, "slots", tab)) {
		fprintf(stderr, "persist_peers: pmp slot table\n");
		return 2;
	}
	result r;
	double t = now();
	r.ops = run_ops(
		p, [&](uint64_t k) { return tab[k] != nullptr; },
		[&](uint64_t k, size_t n) { return tab[k] = pmp_malloc(h, n); },
		[&](uint64_t k) {
			pmp_free(h, tab[k]);
			tab[k] = nullptr;
		});
	r.seconds = now() - t;
	pmp_close(h);
	t = now();
	o.mode = PMP_OPEN_EXISTING;
	e = pmp_file_open(path.c_str(), &o, &h);
	if (e) {
		fprintf(stderr, "persist_peers: reopen %s: %s\n", path.c_str(), pmp_strerror(e));
		return 2;
	}
	tab = (void **)pmp_root_get(h, "slots");
	for (uint64_t k = 0; tab && k < p.slots; k++)
		if (tab[k]) {
			uint64_t tag;
			memcpy(&tag, tab[k], sizeof tag);
			r.live++;
			r.ok = r.ok && tag == k;
		}
	r.reopen = now() - t;
	r.ok = r.ok && tab && pmp_check(h, NULL) == 0;
	pmp_close(h);
	unlink(path.c_str());
	report("pmp", r);
	return r.ok ? 0 : 1;
}

#if HAVE_PMEMOBJ
size_t pool_size(const params &p) { return ((size_t)64 << 20) + p.slots * 1100; }

int run_pmemobj(const params &p)
{
	std::string path = p.dir + "/persist-pmemobj." + std::to_string(getpid()) + ".pool";
	const char *layout = "persist_peers";
	PMEMobjpool *pop = pmemobj_create(path.c_str(), layout, pool_size(p), 0600);
	if (!pop) {
		fprintf(stderr, "persist_peers: pmemobj_create %s: %s\n", path.c_str(), pmemobj_errormsg());
		return 2;
	}
	PMEMoid root = pmemobj_root(pop, p.slots * sizeof(PMEMoid));
	PMEMoid *tab = (PMEMoid *)pmemobj_direct(root);
	if (!tab) {
		fprintf(stderr, "persist_peers: pmemobj_root: %s\n", pmemobj_errormsg());
		return 2;
	}
	result r;
	double t = now();
	r.ops = run_ops(
		p, [&](uint64_t k) { return !OID_IS_NULL(tab[k]); },
		[&](uint64_t k, size_t n) -> void * {
			if (pmemobj_alloc(pop, &tab[k], n, 1, NULL, NULL))
				return nullptr;
			return pmemobj_direct(tab[k]);
		},
		[&](uint64_t k) { pmemobj_free(&tab[k]); });
	r.seconds = now() - t;
	pmemobj_close(pop);
	t = now();
	pop = pmemobj_open(path.c_str(), layout);
	if (!pop) {
		fprintf(stderr, "persist_peers: pmemobj_open %s: %s\n", path.c_str(), pmemobj_errormsg());
		return 2;
	}
	tab = (PMEMoid *)pmemobj_direct(pmemobj_root(pop, p.slots * sizeof(PMEMoid)));
	for (uint64_t k = 0; k < p.slots; k++)
		if (!OID_IS_NULL(tab[k])) {
			uint64_t tag;
			memcpy(&tag, pmemobj_direct(tab[k]), sizeof tag);
			r.live++;
			r.ok = r.ok && tag == k;
		}
	r.reopen = now() - t;
	pmemobj_close(pop);
	unlink(path.c_str());
	report(getenv("PMEM_IS_PMEM_FORCE") && atoi(getenv("PMEM_IS_PMEM_FORCE")) ? "pmemobj-forced" : "pmemobj", r);
	return r.ok ? 0 : 1;
}
#endif

#if HAVE_BOOST
int run_boost(const params &p)
{
	namespace bi = boost::interprocess;
	typedef bi::offset_ptr<char> slot_t;
	std::string path = p.dir + "/persist-boost." + std::to_string(getpid()) + ".seg";
	result r;
	{
		bi::managed_mapped_file seg(bi::create_only, path.c_str(), ((size_t)64 << 20) + p.slots * 1100);
		slot_t *tab = seg.construct<slot_t>("slots")[p.slots](nullptr);
		double t = now();
		r.ops = run_ops(
			p, [&](uint64_t k) { return tab[k] != nullptr; },
			[&](uint64_t k, size_t n) -> void * {
				tab[k] = (char *)seg.allocate(n, std::nothrow);
				return tab[k].get();
			},
			[&](uint64_t k) {
				seg.deallocate(tab[k].get());
				tab[k] = nullptr;
			});
		r.seconds = now() - t;
	}
	double t = now();
	{
		bi::managed_mapped_file seg(bi::open_only, path.c_str());
		std::pair<slot_t *, size_t> f = seg.find<slot_t>("slots");
		r.ok = f.first && f.second == p.slots;
		for (uint64_t k = 0; r.ok && k < p.slots; k++)
			if (f.first[k]) {
				uint64_t tag;
				memcpy(&tag, f.first[k].get(), sizeof tag);
				r.live++;
				r.ok = r.ok && tag == k;
			}
		r.reopen = now() - t;
	}
	unlink(path.c_str());
	report("boost", r);
	return r.ok ? 0 : 1;
}
#endif

int usage()
{
	fprintf(stderr, "usage: persist_peers --peer pmp|pmemobj|boost [--dir DIR] [--ops N] [--slots K] "
			"[--max-seconds S]\n       persist_peers --list   (the peers this build has)\n");
	return 2;
}

} // namespace

int main(int argc, char **argv)
{
	params p;
	std::string peer;
	for (int i = 1; i < argc; i++) {
		std::string a = argv[i];
		if (a == "--list") {
			printf("pmp%s%s\n", HAVE_PMEMOBJ ? " pmemobj" : "", HAVE_BOOST ? " boost" : "");
			return 0;
		} else if (i + 1 >= argc) {
			return usage();
		} else if (a == "--peer") {
			peer = argv[++i];
		} else if (a == "--dir") {
			p.dir = argv[++i];
		} else if (a == "--ops") {
			p.ops = strtoull(argv[++i], nullptr, 10);
		} else if (a == "--slots") {
			p.slots = strtoull(argv[++i], nullptr, 10);
		} else if (a == "--max-seconds") {
			p.max_seconds = atof(argv[++i]);
		} else {
			return usage();
		}
	}
	if (p.slots == 0)
		return usage();
	if (peer == "pmp")
		return run_pmp(p);
#if HAVE_PMEMOBJ
	if (peer == "pmemobj")
		return run_pmemobj(p);
#endif
#if HAVE_BOOST
	if (peer == "boost")
		return run_boost(p);
#endif
	if (peer == "pmemobj" || peer == "boost") {
		fprintf(stderr, "persist_peers: built without %s\n", peer.c_str());
		return 3;
	}
	return usage();
}
