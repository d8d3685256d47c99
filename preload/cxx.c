/* cxx.c: the C++ allocation functions, exported by their Itanium ABI names, so that a C++ program's new comes
 * straight here (malloc's fast path inline, not libstdc++'s operator new calling malloc) and a tracked heap records
 * the call site in the program, not in the C++ runtime's operator new. Every operator delete is free itself, an
 * alias defined beside free (entry.c).
 *
 * Holds: operator new and new[] (plain, nothrow, aligned with std::align_val_t, aligned nothrow), and the C++
 * runtime's own definitions of the new forms, found by dlsym(RTLD_NEXT) in a constructor when a C++ runtime is
 * loaded (never inside malloc), else at the first failed request (a runtime dlopen'd later; a failed request is no
 * allocation).
 * A request the heap and the fallback cannot serve is handed to the runtime's definition of the same form: its
 * std::new_handler loop calls malloc (ours) again after each handler, and it throws std::bad_alloc (a nothrow form
 * returns NULL), which C cannot. The hand-over is the last thing a function here does (a tail call at -O2) and this
 * file is built with -fexceptions, so the exception unwinds through it either way.
 * Must never: link or load a C++ runtime (a program without one never calls these; one dlopen'd later is looked
 * up again at its first failure), call dlsym inside an allocation, or return NULL from a throwing form.
 */
#include <dlfcn.h>
#include <link.h>
#include <stdlib.h>
#include <string.h>

#include "../src/os/os.h"
#include "shim.h"

#define EXPORT __attribute__((visibility("default")))
#define CALLER() ((const void *)__builtin_return_address(0))

typedef struct nothrow nothrow_t; /* std::nothrow_t: an empty tag, passed by reference and never read */

typedef void *(*new_fn)(size_t);
typedef void *(*new_nt_fn)(size_t, const nothrow_t *);
typedef void *(*new_al_fn)(size_t, size_t);
typedef void *(*new_al_nt_fn)(size_t, size_t, const nothrow_t *);

enum { NEW, NEW_NT, NEW_AL, NEW_AL_NT, NEW_ARR, NEW_ARR_NT, NEW_ARR_AL, NEW_ARR_AL_NT, NFORMS };
static const char *const form_name[NFORMS] = {
	"_Znwm", "_ZnwmRKSt9nothrow_t", "_ZnwmSt11align_val_t", "_ZnwmSt11align_val_tRKSt9nothrow_t",
	"_Znam", "_ZnamRKSt9nothrow_t", "_ZnamSt11align_val_t", "_ZnamSt11align_val_tRKSt9nothrow_t",
};
typedef void (*any_fn)(void);
static any_fn next_form[NFORMS];

static void resolve(void)
{
	for (int i = 0; i < NFORMS; i++) {
		if (__atomic_load_n(&next_form[i], __ATOMIC_ACQUIRE))
			continue;
		void *sym = dlsym(RTLD_NEXT, form_name[i]);
		any_fn f;
		memcpy(&f, &sym, sizeof f); /* POSIX: a symbol's address converts to a function pointer */
		__atomic_store_n(&next_form[i], f, __ATOMIC_RELEASE);
	}
}

/* a C++ runtime among the loaded objects: libstdc++ or LLVM's libc++/libc++abi */
static int runtime_object(struct dl_phdr_info *info, size_t size, void *arg)
{
	(void)size;
	(void)arg;
	const char *name = info->dlpi_name ? strrchr(info->dlpi_name, '/') : NULL;
	name = name ? name + 1 : info->dlpi_name ? info->dlpi_name : "";
	return !strncmp(name, "libstdc++.so", 12) || !strncmp(name, "libc++.so", 9) || !strncmp(name, "libc++abi.so", 12);
}

/* At start, outside any allocation, and only when a runtime is there to be found: a dlsym that fails allocates its
 * error message, which would leave two blocks in the heap of every C program. */
__attribute__((constructor)) static void cxx_start(void)
{
	if (dl_iterate_phdr(runtime_object, NULL))
		resolve();
}

/* the runtime's definition of a form, for a request that failed here; a runtime loaded after start is looked up now
 * (a failed request is no allocation in progress: dlsym may allocate) */
static any_fn next(int form)
{
	any_fn f = __atomic_load_n(&next_form[form], __ATOMIC_ACQUIRE);
	if (!f) {
		resolve();
		f = __atomic_load_n(&next_form[form], __ATOMIC_ACQUIRE);
	}
	if (!f) {
		_pmp_log(0, "operator new failed and no C++ runtime defines ", form_name[form], " to throw std::bad_alloc");
		abort();
	}
	return f;
}

EXPORT void *_Znwm(size_t n);
EXPORT void *_Znam(size_t n);
EXPORT void *_ZnwmRKSt9nothrow_t(size_t n, const nothrow_t *tag);
EXPORT void *_ZnamRKSt9nothrow_t(size_t n, const nothrow_t *tag);
EXPORT void *_ZnwmSt11align_val_t(size_t n, size_t align);
EXPORT void *_ZnamSt11align_val_t(size_t n, size_t align);
EXPORT void *_ZnwmSt11align_val_tRKSt9nothrow_t(size_t n, size_t align, const nothrow_t *tag);
EXPORT void *_ZnamSt11align_val_tRKSt9nothrow_t(size_t n, size_t align, const nothrow_t *tag);

static int power_of_two(size_t a)
{
	return a && !(a & (a - 1));
}

/* The plain forms: malloc's fast path inline, else malloc's slow half, else the runtime's definition of the form,
 * out of line (the call site is read there only) */
static __attribute__((noinline)) void *new_other(size_t n, int form, const void *pc)
{
	void *p = _pmp_shim_malloc_other(n, pc);
	return p ? p : ((new_fn)next(form))(n);
}

static __attribute__((noinline)) void *new_nt_other(size_t n, const nothrow_t *tag, int form, const void *pc)
{
	void *p = _pmp_shim_malloc_other(n, pc);
	return p ? p : ((new_nt_fn)next(form))(n, tag);
}

#define NEW_PLAIN(name, form)                                                                                        \
	EXPORT void *name(size_t n)                                                                                   \
	{                                                                                                             \
		void *p = _pmp_shim_small_fast(n);                                                                    \
		return __builtin_expect(p != NULL, 1) ? p : new_other(n, form, CALLER());                             \
	}
#define NEW_NOTHROW(name, form)                                                                                      \
	EXPORT void *name(size_t n, const nothrow_t *tag)                                                             \
	{                                                                                                             \
		void *p = _pmp_shim_small_fast(n);                                                                    \
		return __builtin_expect(p != NULL, 1) ? p : new_nt_other(n, tag, form, CALLER());                     \
	}
NEW_PLAIN(_Znwm, NEW)
NEW_PLAIN(_Znam, NEW_ARR)
NEW_NOTHROW(_ZnwmRKSt9nothrow_t, NEW_NT)
NEW_NOTHROW(_ZnamRKSt9nothrow_t, NEW_ARR_NT)

/* an alignment that is no power of two is undefined behaviour: the runtime's definition decides what it does */
EXPORT void *_ZnwmSt11align_val_t(size_t n, size_t align)
{
	void *p = power_of_two(align) ? _pmp_shim_aligned(align, n, CALLER()) : NULL;
	return p ? p : ((new_al_fn)next(NEW_AL))(n, align);
}

EXPORT void *_ZnamSt11align_val_t(size_t n, size_t align)
{
	void *p = power_of_two(align) ? _pmp_shim_aligned(align, n, CALLER()) : NULL;
	return p ? p : ((new_al_fn)next(NEW_ARR_AL))(n, align);
}

EXPORT void *_ZnwmSt11align_val_tRKSt9nothrow_t(size_t n, size_t align, const nothrow_t *tag)
{
	void *p = power_of_two(align) ? _pmp_shim_aligned(align, n, CALLER()) : NULL;
	return p ? p : ((new_al_nt_fn)next(NEW_AL_NT))(n, align, tag);
}

EXPORT void *_ZnamSt11align_val_tRKSt9nothrow_t(size_t n, size_t align, const nothrow_t *tag)
{
	void *p = power_of_two(align) ? _pmp_shim_aligned(align, n, CALLER()) : NULL;
	return p ? p : ((new_al_nt_fn)next(NEW_ARR_AL_NT))(n, align, tag);
}
