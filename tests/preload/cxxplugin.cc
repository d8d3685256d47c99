// cxxplugin.cc: a dlopened C++ plugin; its objects come from operator new (and a std::vector) inside the plugin.
// Must never: allocate with malloc directly (the point is the plugin's operator new).
#include <cstddef>
#include <vector>

struct Obj {
	long *raw;               // from new[] in the plugin: the test checks it is in the heap
	std::vector<long> v;
};

extern "C" void *plugin_make(std::size_t n)
{
	Obj *o = new Obj;
	o->raw = new long[n];
	for (std::size_t i = 0; i < n; i++) {
		o->raw[i] = (long)i;
		o->v.push_back((long)i * 2);
	}
	return o;
}

extern "C" long plugin_sum(void *p)
{
	Obj *o = static_cast<Obj *>(p);
	long s = 0;
	for (std::size_t i = 0; i < o->v.size(); i++)
		s += o->v[i] + o->raw[i];
	return s;
}
