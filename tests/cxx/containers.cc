/* containers.cc: the cxx suite: standard containers built in a heap file with pmp::allocator and
 * pmp::offset_allocator, reopened in a new process (read, then changed), and read at another address where
 * pmempreload.hpp says they move. Compiled twice: g++ with libstdc++ and clang++ with libc++.
 *
 * Holds: the round trip every container goes through (build, reopen, move), one case per container and
 * allocator, and the unit tests of offset_ptr and of the allocators themselves.
 * Must never: let a moved read follow an absolute address into anything but PROT_NONE memory (so "does not
 * move" is a certain SIGSEGV, never garbage read as data), or leave a heap file behind.
 */
#include <criterion/criterion.h>

#include <pmempreload.hpp>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <forward_list>
#include <functional>
#include <list>
#include <map>
#include <stdexcept>
#include <string>
#include <string_view>
#include <unistd.h>
#include <unordered_map>
#include <vector>

#include <sys/mman.h>
#include <sys/wait.h>

namespace {

/* ---- what this standard library does with a fancy pointer (pmempreload.hpp's table) ---- */
#ifdef _LIBCPP_VERSION
constexpr bool nodes_move = true;      /* list, map and unordered_map link nodes with the allocator's pointer */
#define OFFSET_STRING_COMPILES 0       /* basic_string copies its representation as raw words */
#define OFFSET_DEQUE_COMPILES 0        /* the const iterator needs a T** to const T* const* conversion */
#else
constexpr bool nodes_move = false;     /* _List_node_base*, _Rb_tree_node_base*, _Hash_node_base* links */
#define OFFSET_STRING_COMPILES 1
#define OFFSET_DEQUE_COMPILES 1
#endif

template <class T> using raw_alloc = pmp::allocator<T>;
template <class T> using off_alloc = pmp::offset_allocator<T>;

/* text in the heap: a basic_string on the heap, or where that cannot be (libc++ with offset_ptr) a vector<char> */
template <template <class> class A> struct text_of {
	using type = std::basic_string<char, std::char_traits<char>, A<char>>;
};
#if !OFFSET_STRING_COMPILES
template <> struct text_of<off_alloc> {
	using type = std::vector<char, off_alloc<char>>;
};
#endif
template <template <class> class A> using text = typename text_of<A>::type;

template <class T> std::string_view view(const T &t) { return std::string_view(t.data(), t.size()); }
struct text_hash {
	template <class T> std::size_t operator()(const T &t) const { return std::hash<std::string_view>()(view(t)); }
};

constexpr int N = 3000;
/* long enough that no string fits a small-string buffer: every one is a block with a pointer to it */
std::string word(int i) { return "word-" + std::to_string(i) + "-padded-well-past-the-local-buffer"; }
template <class T, class Alloc> T make_text(int i, const Alloc &a)
{
	std::string w = word(i);
	return T(w.begin(), w.end(), a);
}

void require(bool ok, const std::string &what)
{
	if (!ok)
		throw std::runtime_error(what);
}

/* ---- processes and heap files ---- */

void *const ADDR = reinterpret_cast<void *>(0x650000000000ull);
constexpr std::size_t RESERVE = std::size_t(1) << 30;

/* f() in a new process; its wait status (exit 0 when it returned without throwing; its message goes to stderr) */
template <class F> int in_child(F f)
{
	fflush(nullptr);
	pid_t pid = fork();
	if (pid == 0) {
		int rc = 0;
		try {
			f();
		} catch (const std::exception &e) {
			fprintf(stderr, "child: %s\n", e.what());
			rc = 1;
		}
		_exit(rc);
	}
	int st = -1;
	if (pid < 0 || waitpid(pid, &st, 0) != pid)
		return -1;
	return st;
}
bool ok(int st) { return st >= 0 && WIFEXITED(st) && WEXITSTATUS(st) == 0; }

struct scratch {
	char dir[64];
	std::string path;
	scratch()
	{
		snprintf(dir, sizeof dir, "%s/pmp-cxx.XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
		cr_assert(mkdtemp(dir), "mkdtemp");
		path = std::string(dir) + "/c.heap";
	}
	~scratch()
	{
		unlink(path.c_str());
		rmdir(dir);
	}
};

pmp_heap_t *open_heap(const std::string &path, int mode, unsigned flags = 0)
{
	pmp_file_opts_t o{};
	o.mode = mode;
	o.flags = flags;
	o.addr = ADDR;
	o.reserve = RESERVE;
	pmp_heap_t *h = nullptr;
	int e = pmp_file_open(path.c_str(), &o, &h);
	require(e == 0, "open " + path + ": " + pmp_strerror(e));
	return h;
}

/* The round trip: build in one process; reopen in another, check, change (allocating: the allocator must find
 * the new handle) and pass pmp_check; then read the heap in a third process that holds the whole original range
 * PROT_NONE, so the heap maps elsewhere and any absolute address left in it faults when followed: a container
 * that moves reads back whole, one that does not dies of SIGSEGV (deterministically, never by reading garbage).
 * check(c, n, a) gets an allocator for the keys it looks up: the container's own, or on the read-only moved
 * view one of a scratch heap. */
template <class C, class Fill, class Check>
void round_trip(bool expect_moves, Fill fill, Check check)
{
	scratch s;
	cr_assert(ok(in_child([&] {
		pmp_heap_t *h = open_heap(s.path, PMP_OPEN_CREATE);
		C *c = pmp::find_or_construct<C>(h, "c", typename C::allocator_type(h));
		fill(*c, 0, N);
		require(pmp_close(h) == 0, "close");
	})), "build");
	cr_assert(ok(in_child([&] {
		pmp_heap_t *h = open_heap(s.path, PMP_OPEN_EXISTING);
		C *c = pmp::find_or_construct<C>(h, "c", typename C::allocator_type(h));
		check(*c, N, c->get_allocator());
		fill(*c, N, N + 100);
		check(*c, N + 100, c->get_allocator());
		require(pmp_check(h, nullptr) == 0, "pmp_check after the change");
		require(pmp_close(h) == 0, "close");
	})), "reopen at the same address");

	int st = in_child([&] {
		void *squat = mmap(ADDR, RESERVE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE |
						      MAP_FIXED_NOREPLACE, -1, 0);
		require(squat == ADDR, "cannot take the original range");
		pmp_heap_t *m = open_heap(s.path, PMP_OPEN_READONLY, PMP_FILE_ANYADDR);
		pmp_info_t info;
		pmp_info(m, &info);
		require(info.mapped_at != info.base, "the view did not move");
		const C *c = static_cast<const C *>(pmp_root_get(m, "c"));
		require(c != nullptr, "root lost");
		alignas(4096) static unsigned char keys[1 << 20];
		pmp_heap_t *k;
		require(pmp_heap_create(keys, sizeof keys, 0, &k) == 0, "scratch heap");
		check(*c, N + 100, typename C::allocator_type(k));
		pmp_close(m);
	});
	if (expect_moves)
		cr_assert(ok(st), "read at another address: wait status 0x%x", st);
	else
		cr_assert(st >= 0 && WIFSIGNALED(st) && WTERMSIG(st) == SIGSEGV,
			  "a container said not to move did not fault at another address (wait status 0x%x)", st);
}

/* ---- one case per container: fill [from, to) and check [0, n) ---- */

template <template <class> class A> void vector_of_ints(bool moves)
{
	using C = std::vector<int, A<int>>;
	round_trip<C>(
		moves, [](C &c, int from, int to) { for (int i = from; i < to; i++) c.push_back(i * 7); },
		[](const C &c, int n, const typename C::allocator_type &) {
			require(c.size() == std::size_t(n), "size");
			for (int i = 0; i < n; i++)
				require(c[i] == i * 7, "element " + std::to_string(i));
		});
}

template <template <class> class A> void vector_of_text(bool moves)
{
	using T = text<A>;
	using C = std::vector<T, A<T>>;
	round_trip<C>(
		moves,
		[](C &c, int from, int to) {
			for (int i = from; i < to; i++)
				c.push_back(make_text<T>(i, c.get_allocator()));
		},
		[](const C &c, int n, const typename C::allocator_type &) {
			require(c.size() == std::size_t(n), "size");
			for (int i = 0; i < n; i++)
				require(view(c[i]) == word(i), "element " + std::to_string(i));
		});
}

template <template <class> class A> void deque_of_ints(bool moves)
{
	using C = std::deque<int, A<int>>;
	round_trip<C>(
		moves,
		[](C &c, int from, int to) {
			for (int i = from; i < to; i++)
				c.push_back(i);
		},
		[](const C &c, int n, const typename C::allocator_type &) {
			require(c.size() == std::size_t(n), "size");
			for (int i = 0; i < n; i++)
				require(c[i] == i, "element " + std::to_string(i));
		});
}

template <template <class> class A> void forward_list_of_ints(bool moves)
{
	using C = std::forward_list<int, A<int>>;
	round_trip<C>(
		moves,
		[](C &c, int from, int to) {
			auto at = c.before_begin();
			while (std::next(at) != c.end())
				++at;
			for (int i = from; i < to; i++)
				at = c.insert_after(at, i);
		},
		[](const C &c, int n, const typename C::allocator_type &) {
			int i = 0;
			for (int x : c) {
				require(x == i, "element " + std::to_string(i));
				i++;
			}
			require(i == n, "length");
		});
}

template <template <class> class A> void list_of_ints(bool moves)
{
	using C = std::list<int, A<int>>;
	round_trip<C>(
		moves, [](C &c, int from, int to) { for (int i = from; i < to; i++) c.push_back(i); },
		[](const C &c, int n, const typename C::allocator_type &) {
			require(c.size() == std::size_t(n), "size");
			int i = 0;
			for (int x : c) {
				require(x == i, "element " + std::to_string(i));
				i++;
			}
		});
}

/* a map and an unordered map of text -> int: filled and checked alike */
template <class C> void text_map(bool moves)
{
	using T = typename C::key_type;
	round_trip<C>(
		moves,
		[](C &c, int from, int to) {
			for (int i = from; i < to; i++)
				c.emplace(make_text<T>(i, c.get_allocator()), i);
		},
		[](const C &c, int n, const typename C::allocator_type &keys) {
			require(c.size() == std::size_t(n), "size");
			long sum = 0;
			for (const auto &kv : c)
				sum += kv.second;
			require(sum == long(n) * (n - 1) / 2, "sum of values");
			for (int i = 0; i < n; i += 97) {
				T key = make_text<T>(i, keys);
				auto it = c.find(key);
				require(it != c.end() && it->second == i, "lookup of " + word(i));
			}
		});
}

template <template <class> class A>
using map_t = std::map<text<A>, int, std::less<text<A>>, A<std::pair<const text<A>, int>>>;
template <template <class> class A>
using hash_t = std::unordered_map<text<A>, int, text_hash, std::equal_to<text<A>>, A<std::pair<const text<A>, int>>>;

} // namespace

/* raw pointers: every container survives a reopen at its own address, none a move */
Test(raw_allocator, vector) { vector_of_ints<raw_alloc>(false); }
Test(raw_allocator, vector_of_strings) { vector_of_text<raw_alloc>(false); }
Test(raw_allocator, deque) { deque_of_ints<raw_alloc>(false); }
Test(raw_allocator, list) { list_of_ints<raw_alloc>(false); }
Test(raw_allocator, forward_list) { forward_list_of_ints<raw_alloc>(false); }
Test(raw_allocator, map) { text_map<map_t<raw_alloc>>(false); }
Test(raw_allocator, unordered_map) { text_map<hash_t<raw_alloc>>(false); }

/* offset pointers: the table of pmempreload.hpp */
Test(offset_allocator, vector) { vector_of_ints<off_alloc>(true); }
Test(offset_allocator, vector_of_text) { vector_of_text<off_alloc>(true); }
#if OFFSET_DEQUE_COMPILES
Test(offset_allocator, deque) { deque_of_ints<off_alloc>(true); }
#endif
Test(offset_allocator, list) { list_of_ints<off_alloc>(nodes_move); }
Test(offset_allocator, forward_list) { forward_list_of_ints<off_alloc>(nodes_move); }
Test(offset_allocator, map) { text_map<map_t<off_alloc>>(nodes_move); }
Test(offset_allocator, unordered_map) { text_map<hash_t<off_alloc>>(nodes_move); }

/* ---- offset_ptr itself ---- */

struct base_node {
	int b = 1;
};
struct node : base_node {
	int d = 2;
};

Test(offset_ptr, null_self_and_copies)
{
	pmp::offset_ptr<int> p;
	cr_assert(!p && p == nullptr && p.get() == nullptr);
	pmp::offset_ptr<pmp::offset_ptr<int>> self(&p);
	cr_assert_eq(self.get(), &p, "a pointer to itself is not null");

	int a[4] = {10, 20, 30, 40};
	struct holder {
		pmp::offset_ptr<int> q;
	};
	auto *h1 = new holder{a};
	auto *h2 = new holder(*h1); /* elsewhere: the distance is re-encoded */
	delete h1;
	cr_assert_eq(h2->q.get(), a);
	cr_assert_eq(*h2->q, 10);
	delete h2;
}

Test(offset_ptr, arithmetic_and_comparisons)
{
	int a[4] = {10, 20, 30, 40};
	pmp::offset_ptr<int> p(a), e(a + 4);
	cr_assert_eq(e - p, 4);
	cr_assert_eq(p[2], 30);
	cr_assert_eq(*(p + 3), 40);
	cr_assert_eq(*(3 + p), 40);
	pmp::offset_ptr<int> q = p;
	cr_assert_eq(*++q, 20);
	cr_assert_eq(*q++, 20);
	cr_assert_eq(*q, 30);
	cr_assert_eq(*--q, 20);
	q += 2;
	cr_assert_eq(*q, 40);
	q -= 3;
	cr_assert(q == p && q == a && a == q && !(q != a) && q < e && e > q && q <= a && a + 4 >= q);
	pmp::offset_ptr<const int> c = p; /* T to const T, implicitly */
	cr_assert(c == p && c == a);
	int *raw = p; /* and to a raw pointer, as libstdc++ wants */
	cr_assert_eq(raw, a);
	cr_assert(std::pointer_traits<pmp::offset_ptr<int>>::pointer_to(a[1]) == a + 1);
	static_assert(std::is_same_v<std::pointer_traits<pmp::offset_ptr<int>>::rebind<char>, pmp::offset_ptr<char>>);
}

Test(offset_ptr, casts_between_node_types)
{
	node n;
	pmp::offset_ptr<node> d(&n);
	pmp::offset_ptr<base_node> b = d;                          /* derived to base: implicit */
	auto back = static_cast<pmp::offset_ptr<node>>(b);         /* base to derived: only by static_cast */
	pmp::offset_ptr<void> v = d;
	auto again = static_cast<pmp::offset_ptr<node>>(v);
	cr_assert(back == &n && again == &n && b->b == 1 && back->d == 2);
	static_assert(!std::is_convertible_v<pmp::offset_ptr<base_node>, pmp::offset_ptr<node>>);
}

/* ---- allocators ---- */

Test(allocator, equality_follows_the_heap)
{
	alignas(4096) static unsigned char one[PMP_HEAP_MIN * 2], two[PMP_HEAP_MIN * 2];
	pmp_heap_t *h1, *h2;
	cr_assert_eq(pmp_heap_create(one, sizeof one, 0, &h1), 0);
	cr_assert_eq(pmp_heap_create(two, sizeof two, 0, &h2), 0);
	pmp::allocator<int> a1(h1), a2(h2);
	pmp::allocator<char> a1c(a1);
	cr_assert(a1 == a1c && a1 != a2);
	cr_assert_eq(a1.heap(), h1);
	cr_assert_eq(a2.heap(), h2);

	/* over-aligned types come from pmp_memalign */
	struct alignas(256) wide {
		char c[256];
	};
	pmp::allocator<wide> aw(h1);
	wide *w = aw.allocate(3);
	cr_assert_eq(reinterpret_cast<std::uintptr_t>(w) % 256, 0u);
	cr_assert(pmp_owns(h1, w));
	aw.deallocate(w, 3);
	cr_assert_eq(pmp_check(h1, nullptr), 0);
	pmp_close(h1);
	pmp_close(h2);
}

Test(allocator, full_heap_throws)
{
	alignas(4096) static unsigned char mem[PMP_HEAP_MIN];
	pmp_heap_t *h;
	cr_assert_eq(pmp_heap_create(mem, sizeof mem, 0, &h), 0);
	std::vector<long, pmp::offset_allocator<long>> v{pmp::offset_allocator<long>(h)};
	bool threw = false;
	try {
		for (;;)
			v.push_back(1);
	} catch (const std::bad_alloc &) {
		threw = true;
	}
	cr_assert(threw && !v.empty());
	cr_assert_throw(v.get_allocator().allocate(std::size_t(-1) / 4), std::bad_array_new_length);
	v.clear();
	v.shrink_to_fit();
	cr_assert_eq(pmp_check(h, nullptr), 0);
	pmp_close(h);
}

/* a reopened container has no heap until this process enrolls the new handle */
Test(allocator, reopened_needs_enroll)
{
	scratch s;
	using C = std::vector<int, pmp::offset_allocator<int>>;
	cr_assert(ok(in_child([&] {
		pmp_heap_t *h = open_heap(s.path, PMP_OPEN_CREATE);
		pmp::find_or_construct<C>(h, "c", C::allocator_type(h))->push_back(1);
		pmp_close(h);
	})));
	cr_assert(ok(in_child([&] {
		pmp_heap_t *h = open_heap(s.path, PMP_OPEN_EXISTING);
		C *c = static_cast<C *>(pmp_root_get(h, "c"));
		require(c->get_allocator().heap() == nullptr, "a heap before enroll");
		bool threw = false;
		try {
			c->push_back(2);
		} catch (const std::bad_alloc &) {
			threw = true;
		}
		require(threw, "allocated without a heap");
		pmp::enroll(h);
		c->push_back(2);
		require(c->size() == 2 && (*c)[1] == 2, "after enroll");
		pmp_close(h);

		/* closed and opened again in this process: enroll replaces the handle */
		h = open_heap(s.path, PMP_OPEN_EXISTING);
		c = pmp::find_or_construct<C>(h, "c", C::allocator_type(h));
		c->push_back(3);
		require(c->size() == 3 && pmp_check(h, nullptr) == 0, "after the second open");
		pmp_close(h);
	})));
}
