/* pmempreload.hpp: the C++17 companion of pmempreload.h, header-only: STL allocators on an explicit heap and a
 * self-relative fancy pointer, so that standard containers can live in a heap file.
 *
 * Holds: pmp::offset_ptr<T> (a pointer stored as its distance from its own address), pmp::allocator<T> (raw T*
 * pointers) and pmp::offset_allocator<T> (offset_ptr<T> pointers) on a pmp_heap_t, the process table that leads
 * an allocator from its heap's base address to the heap's handle (pmp::enroll), and pmp::find_or_construct.
 * Must never: put process-local state (a handle, a mutex, a vtable or function pointer) into a heap, need a .cpp
 * file or any library beyond libpmpheap, or throw from a deallocation.
 *
 * What survives what (tests/cxx checks each line, with g++ 12 / libstdc++ and clang++ 14 / libc++, C++17):
 *
 * Reopened at the same address (a writable open always maps a heap file where it was created): every standard
 * container, with either allocator, provided the container object itself is in the heap (find_or_construct puts
 * it there) and so is everything it points to: allocator-aware elements built on the same heap (a basic_string
 * with pmp::allocator<char>, not std::string) or plain data; nothing with a vtable or a function pointer.
 *
 * Read at another address (PMP_OPEN_READONLY | PMP_FILE_ANYADDR while the original range is taken): only the
 * containers whose every stored pointer, in the container object and in its nodes, is the allocator's pointer
 * type, so that offset_allocator makes all of them self-relative (each row is tested with its first container;
 * the others of the row share its implementation):
 *
 *   container                 libstdc++ (g++ 12)            libc++ (clang++ 14)
 *   vector                    moves                         moves
 *   basic_string              moves                         does not compile (a)
 *   deque                     moves                         does not compile (b)
 *   list, forward_list        no: raw node links (c)        moves
 *   map, set, multi*          no: raw _Rb_tree links (c)    moves
 *   unordered_map, _set       no: raw hash node links (c)   moves
 *
 *   (a) libc++ copies a string's representation as raw words, which a self-relative pointer cannot survive.
 *   (b) its const iterator needs offset_ptr<offset_ptr<T>> to become offset_ptr<const offset_ptr<const T>>, as
 *       T** becomes const T* const*; two class types cannot do that without type punning.
 *   (c) libstdc++ converts the allocator's pointer to a raw node pointer and links nodes with those: the container
 *       compiles with offset_allocator and works at its own address, but a moved view follows the old addresses.
 *
 * So with libstdc++ a relocatable heap holds vectors, deques and strings (vector<basic_string> included); with
 * libc++ it holds vectors and every node container, and text goes in a vector<char, offset_allocator<char>> (it
 * has operator<, so it serves as a map key). Read a moved view through const members only: it is mapped
 * read-only, and no writable heap stands behind its allocator.
 *
 * An allocator stores its heap's base address (persistent: the same at every writable open), never the handle,
 * which is process-local. After a reopen, pmp::enroll(h) (or find_or_construct, which calls it) tells this
 * process which handle serves that base; until then an allocation in a reopened container throws bad_alloc.
 */
#ifndef PMEMPRELOAD_HPP
#define PMEMPRELOAD_HPP

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <iterator>
#include <limits>
#include <memory>
#include <mutex>
#include <new>
#include <stdexcept>
#include <type_traits>
#include <utility>

#include <pmempreload.h>

namespace pmp {

/* ---- offset_ptr: the distance from the pointer's own address to its target ---- */

template <class T> class offset_ptr {
	/* 1 is null: 0 is a pointer to itself, which an empty node container's sentinel may well hold; nothing
	 * points one byte into an offset_ptr */
	static constexpr std::intptr_t null_off = 1;
	std::intptr_t off_ = null_off;

	std::intptr_t encode(const volatile void *p) const noexcept
	{
		return p ? static_cast<std::intptr_t>(reinterpret_cast<std::uintptr_t>(p) -
						      reinterpret_cast<std::uintptr_t>(this))
			 : null_off;
	}

public:
	using element_type = T;
	using value_type = std::remove_cv_t<T>;
	using difference_type = std::ptrdiff_t;
	using pointer = T *;
	using reference = std::add_lvalue_reference_t<T>;
	using iterator_category = std::random_access_iterator_tag;
	template <class U> using rebind = offset_ptr<U>;

	offset_ptr() noexcept = default;
	offset_ptr(T *p) noexcept : off_(encode(p)) {}
	/* a copy re-encodes: the distance belongs to the place the pointer is stored at */
	offset_ptr(const offset_ptr &o) noexcept : off_(encode(o.get())) {}
	template <class U, std::enable_if_t<std::is_convertible_v<U *, T *>, int> = 0>
	offset_ptr(const offset_ptr<U> &o) noexcept : off_(encode(static_cast<T *>(o.get())))
	{
	}
	/* static_cast from a base to a derived node type, as libc++ casts its node base to its node */
	template <class U, std::enable_if_t<!std::is_convertible_v<U *, T *> &&
						    std::is_pointer_v<decltype(static_cast<T *>(std::declval<U *>()))>,
					    int> = 0>
	explicit offset_ptr(const offset_ptr<U> &o) noexcept : off_(encode(static_cast<T *>(o.get())))
	{
	}

	offset_ptr &operator=(const offset_ptr &o) noexcept
	{
		off_ = encode(o.get());
		return *this;
	}
	offset_ptr &operator=(T *p) noexcept
	{
		off_ = encode(p);
		return *this;
	}

	T *get() const noexcept
	{
		if (off_ == null_off)
			return nullptr;
		return reinterpret_cast<T *>(reinterpret_cast<std::uintptr_t>(this) + static_cast<std::uintptr_t>(off_));
	}
	/* libstdc++'s basic_string, list and tree need the pointer to become a raw one implicitly (see (c) above) */
	operator T *() const noexcept { return get(); }
	explicit operator bool() const noexcept { return off_ != null_off; }
	T *operator->() const noexcept { return get(); }
	template <class U = T, std::enable_if_t<!std::is_void_v<U>, int> = 0> U &operator*() const noexcept
	{
		return *get();
	}
	template <class U = T, std::enable_if_t<!std::is_void_v<U>, int> = 0>
	U &operator[](difference_type i) const noexcept
	{
		return get()[i];
	}
	template <class U = T, std::enable_if_t<!std::is_void_v<U>, int> = 0>
	static offset_ptr pointer_to(U &r) noexcept
	{
		return offset_ptr(std::addressof(r));
	}

	offset_ptr &operator+=(difference_type n) noexcept { return *this = get() + n; }
	offset_ptr &operator-=(difference_type n) noexcept { return *this = get() - n; }
	offset_ptr &operator++() noexcept { return *this += 1; }
	offset_ptr &operator--() noexcept { return *this -= 1; }
	offset_ptr operator++(int) noexcept
	{
		offset_ptr r(*this);
		++*this;
		return r;
	}
	offset_ptr operator--(int) noexcept
	{
		offset_ptr r(*this);
		--*this;
		return r;
	}
	friend offset_ptr operator+(const offset_ptr &p, difference_type n) noexcept { return p.get() + n; }
	friend offset_ptr operator+(difference_type n, const offset_ptr &p) noexcept { return p.get() + n; }
	friend offset_ptr operator-(const offset_ptr &p, difference_type n) noexcept { return p.get() - n; }
	friend difference_type operator-(const offset_ptr &a, const offset_ptr &b) noexcept { return a.get() - b.get(); }
};

/* ---- comparisons of an offset_ptr with another, a raw pointer or nullptr ---- */

namespace detail {
template <class T> T *raw(T *p) noexcept { return p; }
template <class T> T *raw(const offset_ptr<T> &p) noexcept { return p.get(); }
inline std::nullptr_t raw(std::nullptr_t) noexcept { return nullptr; }

template <class X> struct is_offset_ptr : std::false_type {};
template <class T> struct is_offset_ptr<offset_ptr<T>> : std::true_type {};
/* one template per operator instead of three overloads: with conversions both ways, offset_ptr == T* would be
 * ambiguous between the member-wise and the built-in comparison */
template <class A, class B, class R>
using if_offset = std::enable_if_t<is_offset_ptr<A>::value || is_offset_ptr<B>::value, R>;
} // namespace detail

#define PMP_OFFSET_PTR_COMPARE(op)                                                                                     \
	template <class A, class B>                                                                                    \
	auto operator op(const A &a, const B &b) noexcept                                                              \
		->detail::if_offset<A, B, decltype(detail::raw(a) op detail::raw(b))>                                  \
	{                                                                                                              \
		return detail::raw(a) op detail::raw(b);                                                               \
	}
PMP_OFFSET_PTR_COMPARE(==)
PMP_OFFSET_PTR_COMPARE(!=)
PMP_OFFSET_PTR_COMPARE(<)
PMP_OFFSET_PTR_COMPARE(>)
PMP_OFFSET_PTR_COMPARE(<=)
PMP_OFFSET_PTR_COMPARE(>=)
#undef PMP_OFFSET_PTR_COMPARE

/* ---- the process table: heap base address -> this process's handle ---- */

namespace detail {
struct heap_slot {
	std::atomic<std::uintptr_t> base{0};
	std::atomic<pmp_heap_t *> heap{nullptr};
};
inline constexpr std::size_t max_heaps = 64;
inline heap_slot heap_table[max_heaps];
inline std::mutex heap_table_lock;

inline pmp_heap_t *lookup(std::uintptr_t base) noexcept
{
	for (heap_slot &s : heap_table)
		if (s.base.load(std::memory_order_acquire) == base)
			return s.heap.load(std::memory_order_acquire);
	return nullptr;
}
} // namespace detail

/* Make h the heap of every allocator of its base address in this process (replacing a closed handle of the same
 * base) and return that base. A read-only view is not entered: nothing may be allocated in it, and the writable
 * heap it is a copy of may be open beside it. Throws std::invalid_argument for a null handle, std::length_error
 * past 64 heaps. */
inline std::uintptr_t enroll(pmp_heap_t *h)
{
	pmp_info_t info;
	if (!h || pmp_info(h, &info))
		throw std::invalid_argument("pmp::enroll: not a heap");
	std::uintptr_t base = reinterpret_cast<std::uintptr_t>(info.base);
	if (info.readonly)
		return base;
	std::lock_guard<std::mutex> g(detail::heap_table_lock);
	detail::heap_slot *unused = nullptr;
	for (detail::heap_slot &s : detail::heap_table) {
		std::uintptr_t b = s.base.load(std::memory_order_relaxed);
		if (b == base) {
			s.heap.store(h, std::memory_order_release);
			return base;
		}
		if (!b && !unused)
			unused = &s;
	}
	if (!unused)
		throw std::length_error("pmp::enroll: more than 64 heaps");
	unused->heap.store(h, std::memory_order_relaxed);
	unused->base.store(base, std::memory_order_release);
	return base;
}

/* ---- allocators ---- */

/* Offset selects the pointer type: T* (pmp::allocator) or offset_ptr<T> (pmp::offset_allocator). */
template <class T, bool Offset> class basic_allocator {
	std::uintptr_t base_;

public:
	using value_type = T;
	using pointer = std::conditional_t<Offset, offset_ptr<T>, T *>;
	using const_pointer = std::conditional_t<Offset, offset_ptr<const T>, const T *>;
	using void_pointer = std::conditional_t<Offset, offset_ptr<void>, void *>;
	using const_void_pointer = std::conditional_t<Offset, offset_ptr<const void>, const void *>;
	using size_type = std::size_t;
	using difference_type = std::ptrdiff_t;
	/* memory of one heap is never freed into another: the allocator travels with the contents */
	using propagate_on_container_copy_assignment = std::true_type;
	using propagate_on_container_move_assignment = std::true_type;
	using propagate_on_container_swap = std::true_type;
	using is_always_equal = std::false_type;
	template <class U> struct rebind {
		using other = basic_allocator<U, Offset>;
	};

	explicit basic_allocator(pmp_heap_t *h) : base_(enroll(h)) {}
	template <class U> basic_allocator(const basic_allocator<U, Offset> &o) noexcept : base_(o.base()) {}

	/* the heap's base address: what the allocator stores, and what makes two allocators equal */
	std::uintptr_t base() const noexcept { return base_; }
	/* this process's writable handle of the allocator's heap; nullptr when none is enrolled */
	pmp_heap_t *heap() const noexcept { return detail::lookup(base_); }

	pointer allocate(size_type n)
	{
		if (n > std::numeric_limits<size_type>::max() / sizeof(T))
			throw std::bad_array_new_length();
		pmp_heap_t *h = heap();
		void *p = nullptr;
		if (h)
			p = alignof(T) > alignof(std::max_align_t) ? pmp_memalign(h, alignof(T), n * sizeof(T))
								   : pmp_malloc(h, n * sizeof(T));
		if (!p)
			throw std::bad_alloc();
		return pointer(static_cast<T *>(p));
	}
	void deallocate(pointer p, size_type) noexcept
	{
		if (pmp_heap_t *h = heap())
			pmp_free(h, detail::raw(p));
	}

	template <class U>
	friend bool operator==(const basic_allocator &a, const basic_allocator<U, Offset> &b) noexcept
	{
		return a.base() == b.base();
	}
	template <class U>
	friend bool operator!=(const basic_allocator &a, const basic_allocator<U, Offset> &b) noexcept
	{
		return a.base() != b.base();
	}
};

template <class T> using allocator = basic_allocator<T, false>;
template <class T> using offset_allocator = basic_allocator<T, true>;

/* ---- a root object ---- */

/* The object rooted at name in h, or else a new T built in h from args and rooted there (built before it is
 * rooted: a crash leaves no root or a whole object). Enrolls h. nullptr when a read-only heap lacks the root;
 * throws std::bad_alloc when the heap is full, std::runtime_error when the root table is. */
template <class T, class... Args> T *find_or_construct(pmp_heap_t *h, const char *name, Args &&...args)
{
	enroll(h);
	if (void *p = pmp_root_get(h, name))
		return static_cast<T *>(p);
	pmp_info_t info;
	if (pmp_info(h, &info) || info.readonly)
		return nullptr;
	void *mem = alignof(T) > alignof(std::max_align_t) ? pmp_memalign(h, alignof(T), sizeof(T))
							    : pmp_malloc(h, sizeof(T));
	if (!mem)
		throw std::bad_alloc();
	T *obj;
	try {
		obj = ::new (mem) T(std::forward<Args>(args)...);
	} catch (...) {
		pmp_free(h, mem);
		throw;
	}
	if (int e = pmp_root_set(h, name, obj)) {
		obj->~T();
		pmp_free(h, mem);
		throw std::runtime_error(pmp_strerror(e));
	}
	return obj;
}

} // namespace pmp

#endif
