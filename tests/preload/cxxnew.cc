// cxxnew.cc: the C++ allocation functions under the preload: a huge new runs the std::new_handler loop and throws
// std::bad_alloc, nothrow new returns nullptr, aligned new honours its alignment, every delete form frees, and the
// blocks of a tracked heap record the call site in this file (make_obj, make_arr), not in the C++ runtime.
// Usage: cxxnew. stdout: "KEY VALUE" lines (the same without the preload but for inheap); exit 0 when every C++
// semantic held. Must never: let the compiler inline make_obj/make_arr or drop a new (built with -O0).
#include <dlfcn.h>
#include <cstdint>
#include <cstdio>
#include <new>

#define OBJS 120
#define ARRS 30

struct Obj {
	long v[6];
};
struct alignas(4096) Page {
	char b[100];
};

static int handler_calls;
static void handler()
{
	if (++handler_calls == 3)
		std::set_new_handler(nullptr); // the next failure throws
}

__attribute__((noinline)) static Obj *make_obj()
{
	return new Obj();
}

__attribute__((noinline)) static int *make_arr()
{
	return new int[50];
}

int main()
{
	typedef void *(*pd_t)(void);
	typedef int (*owns_t)(const void *, const void *);
	pd_t pd = (pd_t)dlsym(RTLD_DEFAULT, "pmp_default");
	owns_t owns = (owns_t)dlsym(RTLD_DEFAULT, "pmp_owns");
	void *heap = pd ? pd() : nullptr;
	auto inheap = [&](const void *p) { return heap && owns && owns(heap, p); };
	int ok = 1;

	static Obj *objs[OBJS];
	static int *arrs[ARRS];
	for (int i = 0; i < OBJS; i++)
		objs[i] = make_obj();
	for (int i = 0; i < ARRS; i++)
		arrs[i] = make_arr();

	volatile std::size_t huge = (std::size_t)1 << 62;
	int thrown = 0;
	std::set_new_handler(handler);
	try {
		void *p = ::operator new(huge);
		std::printf("huge new returned %p\n", p);
	} catch (const std::bad_alloc &) {
		thrown = 1;
	}
	std::printf("bad_alloc %d\nhandler_calls %d\n", thrown, handler_calls);
	ok &= thrown && handler_calls == 3;
	thrown = 0;
	try {
		int *a = new int[huge / 8];
		std::printf("huge new[] returned %p\n", (void *)a);
	} catch (const std::bad_alloc &) {
		thrown = 1;
	}
	try {
		void *p = ::operator new(huge, std::align_val_t(64));
		std::printf("huge aligned new returned %p\n", p);
	} catch (const std::bad_alloc &) {
		thrown++;
	}
	std::printf("bad_alloc_array_aligned %d\n", thrown);
	ok &= thrown == 2;

	void *n1 = ::operator new(huge, std::nothrow), *n2 = ::operator new[](huge, std::nothrow);
	void *n3 = ::operator new(huge, std::align_val_t(128), std::nothrow);
	std::printf("nothrow_null %d\n", !n1 && !n2 && !n3);
	ok &= !n1 && !n2 && !n3;

	Page *pg = new Page;
	Page *pgs = new Page[3];
	void *a256 = ::operator new(1000, std::align_val_t(256));
	void *a512 = ::operator new[](10, std::align_val_t(512), std::nothrow);
	int aligned = (uintptr_t)pg % 4096 == 0 && (uintptr_t)pgs % 4096 == 0 && (uintptr_t)a256 % 256 == 0 &&
		      (uintptr_t)a512 % 512 == 0;
	std::printf("aligned %d\n", aligned);
	ok &= aligned;
	int nt = 0;
	int *small = new (std::nothrow) int(5);
	char *smalls = new (std::nothrow) char[77];
	nt = small && smalls && *small == 5;
	std::printf("nothrow_small %d\n", nt);
	ok &= nt;
	std::fprintf(stderr, "inheap obj=%d arr=%d page=%d a256=%d nothrow=%d\n", inheap(objs[0]), inheap(arrs[0]),
		     inheap(pg), inheap(a256), inheap(small));

	// every delete form
	delete pg;            // sized aligned (C++17: _ZdlPvmSt11align_val_t)
	delete[] pgs;         // aligned array
	::operator delete(a256, std::align_val_t(256));
	::operator delete[](a512, std::align_val_t(512), std::nothrow);
	::operator delete(small, std::nothrow);
	delete[] smalls;
	delete objs[0];       // sized
	objs[0] = nullptr;
	::operator delete(::operator new(10));
	::operator delete[](::operator new[](10), (std::size_t)10);
	std::printf("objs %d\narrs %d\nobj_size %zu\n", OBJS - 1, ARRS, sizeof(Obj));
	return ok ? 0 : 1;
}
