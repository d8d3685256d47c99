// cxxmain.cc: C++ under the preload: plain new, aligned new (alignas(256)), std containers, and a dlopened plugin
// whose operator new must land in the heap too (the fallback must not capture C++ allocations).
// Usage: cxxmain PLUGIN.so. stdout: results (same with and without the preload); stderr: "inheap ..." lines.
// Must never: print heap membership on stdout (the runs without the preload must print the same).
#include <dlfcn.h>
#include <cstdint>
#include <cstdio>
#include <map>
#include <string>
#include <vector>

struct alignas(256) Wide {
	char b[300];
};

extern "C" typedef void *(*plugin_make_t)(std::size_t);
extern "C" typedef long (*plugin_sum_t)(void *);

int main(int argc, char **argv)
{
	typedef void *(*pd_t)(void);
	typedef int (*owns_t)(const void *, const void *);
	pd_t pd = (pd_t)dlsym(RTLD_DEFAULT, "pmp_default");
	owns_t owns = (owns_t)dlsym(RTLD_DEFAULT, "pmp_owns");
	void *heap = pd ? pd() : nullptr;

	int *i = new int(7);
	Wide *w = new Wide[3];
	std::map<std::string, std::vector<int>> m;
	for (int k = 0; k < 2000; k++)
		m["key" + std::to_string(k)].push_back(k);
	long total = 0;
	for (auto &kv : m)
		total += kv.second[0];
	std::printf("int=%d aligned=%d map=%zu total=%ld\n", *i, (int)((std::uintptr_t)w % 256 == 0), m.size(), total);

	void *so = dlopen(argv[1], RTLD_NOW);
	if (!so) {
		std::printf("dlopen failed: %s\n", dlerror());
		return 1;
	}
	auto make = (plugin_make_t)dlsym(so, "plugin_make");
	auto sum = (plugin_sum_t)dlsym(so, "plugin_sum");
	void *obj = make(1000);
	std::printf("plugin sum=%ld\n", sum(obj));
	void *pnew = *(void **)obj; // the plugin's first member: a pointer from its operator new
	if (heap && owns)
		std::fprintf(stderr, "inheap new=%d aligned=%d plugin_obj=%d plugin_new=%d\n", owns(heap, i), owns(heap, w),
			     owns(heap, obj), owns(heap, pnew));
	delete i;
	delete[] w;
	return 0;
}
