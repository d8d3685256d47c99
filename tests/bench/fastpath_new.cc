/* fastpath_new.cc: N operator new(64) + sized operator delete pairs after a warm-up, the C++ twin of
 * fastpath_pairs.c, for counting instructions per pair with valgrind --tool=callgrind
 * --toggle-collect=measured_pairs (scripts/bench.sh, section callgrind): under glibc the pair goes through
 * libstdc++'s operator new and delete into malloc and free, under an allocator that defines them straight there.
 * Must never: be timed, or let the compiler fold a pair away (built with -fno-allocation-dce; the pointer goes
 * through a volatile).
 */
#include <cstdio>
#include <cstdlib>
#include <new>

extern "C" void measured_pairs(long n);

extern "C" __attribute__((noinline)) void measured_pairs(long n)
{
	for (long i = 0; i < n; i++) {
		void *volatile p = ::operator new(64);
		::operator delete(p, 64);
	}
}

int main(int argc, char **argv)
{
	long n = argc > 1 ? std::atol(argv[1]) : 100000;
	for (long i = 0; i < 10000; i++) { /* warm-up, not counted */
		void *volatile p = ::operator new(64);
		::operator delete(p, 64);
	}
	measured_pairs(n);
	std::printf("fastpath_new: %ld pairs\n", n);
	return 0;
}
