/* os.h: the OS layer, the only code that calls mmap, mremap, fallocate, ftruncate, msync, fcntl locks and open.
 *
 * Contract (every function): inputs are checked by the caller; the return value is 0 on success or a positive errno
 * value on failure, never -1 and never a value left in errno. Nothing here allocates from the malloc family, uses
 * stdio, or takes a lock, so every function is safe on the preload's init path and after fork.
 * Must never: know the heap format, read environment variables, or call up into core/file/preload code.
 */
#ifndef PMP_OS_H
#define PMP_OS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Fault injection for tests (issue: crash safety). Operations that can be made to fail. */
enum pmp_os_op { PMP_OS_OPEN, PMP_OS_TRUNCATE, PMP_OS_FALLOCATE, PMP_OS_MMAP, PMP_OS_MSYNC, PMP_OS_LOCK, PMP_OS_NOPS };
/* Arm op to fail with err: after `skip` successful calls, `count` calls fail (count < 0: forever). err 0 disarms. */
void _pmp_os_fault_set(enum pmp_os_op op, int err, int skip, int count);

/* files */
int _pmp_os_open(const char *path, int flags, unsigned mode, int *fd);
int _pmp_os_close(int fd);
struct pmp_os_stat { uint64_t size; uint32_t mode, uid, gid, nlink; uint64_t dev, ino; int regular; };
int _pmp_os_fstat(int fd, struct pmp_os_stat *st);
int _pmp_os_lstat(const char *path, struct pmp_os_stat *st);
int _pmp_os_pread(int fd, void *buf, size_t len, uint64_t off, size_t *got);
/* write all of [buf, buf+len) at off (EINTR retried, short writes continued); async-signal-safe. A buffer the
 * process cannot read gives EFAULT, a full disk ENOSPC: never a signal. */
int _pmp_os_pwrite(int fd, const void *buf, size_t len, uint64_t off);
/* zeros over [off, off+len) of fd (pwritev of one zero buffer); 0 or an errno value */
int _pmp_os_write_zeros(int fd, uint64_t off, uint64_t len);
int _pmp_os_ftruncate(int fd, uint64_t size);
int _pmp_os_fallocate(int fd, uint64_t off, uint64_t len);   /* reserves disk blocks; extends the file */
int _pmp_os_punch_hole(int fd, uint64_t off, uint64_t len);  /* gives disk blocks back, size unchanged */
/* where fd's data is (SEEK_DATA/SEEK_HOLE): the first data at or after off, and the hole after it; both
 * UINT64_MAX when no data follows */
int _pmp_os_data_extent(int fd, uint64_t off, uint64_t *data, uint64_t *hole);
int _pmp_os_mkdir(const char *path, unsigned mode);          /* 0 also when it exists as a directory */
int _pmp_os_unlink(const char *path);
/* OFD lock on the whole file: exclusive (write) or shared; EAGAIN when another open file description holds it */
int _pmp_os_lock(int fd, int exclusive);

/* address space */
/* Map fd (or anonymous when fd < 0) at exactly addr, failing with EEXIST when any part of the range is taken.
 * addr == NULL: anywhere. shared: MAP_SHARED else MAP_PRIVATE. writable: PROT_READ|PROT_WRITE else PROT_READ. */
int _pmp_os_map(void *addr, size_t len, int fd, uint64_t off, int shared, int writable, void **out);
int _pmp_os_unmap(void *addr, size_t len);
int _pmp_os_msync(void *addr, size_t len);                   /* MS_SYNC; addr page-aligned */
int _pmp_os_pages_alloc(size_t len, void **out);             /* private anonymous zeroed memory, committed as touched */
int _pmp_os_pages_free(void *p, size_t len);
/* the pages of [p, p+len) may be taken back by the kernel (MADV_FREE); the range stays mapped, reads zero if taken */
int _pmp_os_pages_lazyfree(void *p, size_t len);

/* identity and time */
uint64_t _pmp_os_now_ns(void);                               /* CLOCK_REALTIME */
uint64_t _pmp_os_mono_ns(void);                              /* CLOCK_MONOTONIC */
uint64_t _pmp_os_pid(void);
uint32_t _pmp_os_uid(void);
uint32_t _pmp_os_euid(void);
uint64_t _pmp_os_tid(void);
int _pmp_os_exe_path(char *buf, size_t len);                 /* readlink /proc/self/exe */
int _pmp_os_boot_id(char *buf, size_t len);                  /* /proc/sys/kernel/random/boot_id */
uint64_t _pmp_os_start_time(uint64_t pid);                   /* /proc/PID/stat field 22, 0 if unknown */
uint64_t _pmp_os_random64(void);                             /* getrandom, else a mix of time, pid and address */

#ifdef PMP_CRASHPOINTS
/* crash-point enumeration (test builds only): the core calls _pmp_crashpoint before every store to the heap */
void _pmp_crashpoint(void);
void _pmp_crashpoint_arm(long nth); /* nth >= 1: SIGKILL self at that point; 0 disarms */
long _pmp_crashpoint_passed(void);  /* points passed since the last arm */
#endif

/* the end: write msg (no allocation) to stderr and abort */
_Noreturn void _pmp_os_fatal(const char *msg);
void _pmp_os_write_err(const char *msg);

/* ---- added for the preload shim (fork snapshots, exec naming, crash handler) ---- */
/* Move the private mapping [old, old+len) to exactly addr, replacing whatever is mapped there (mremap FIXED). */
int _pmp_os_remap_fixed(void *old, size_t len, void *addr);
/* Move the private mapping [old, old+len) to a place the kernel picks; *out gets it */
int _pmp_os_remap_anywhere(void *old, size_t len, void **out);
/* Replace [addr, addr+len) with private anonymous zeroed read-write memory (MAP_FIXED: replaces existing maps). */
int _pmp_os_map_anon_over(void *addr, size_t len);
/* rename without replacing an existing target (EEXIST) */
int _pmp_os_rename_noreplace(const char *from, const char *to);
/* raw write of len bytes to fd, EINTR retried */
int _pmp_os_write(int fd, const void *buf, size_t len);

/* 1 if every page of [addr, addr+len) is mapped (mincore); async-signal-safe, for walking a crashed stack */
int _pmp_os_mapped(const void *addr, size_t len);
/* how many bytes from addr (page-aligned) are mapped without a gap, at most len; async-signal-safe */
size_t _pmp_os_mapped_len(const void *addr, size_t len);
/* 1 while thread tid of this process exists (tgkill with signal 0); async-signal-safe */
int _pmp_os_thread_alive(uint64_t tid);
/* the extent [*lo, *hi) of the mapping that /proc/self/maps labels "[stack]" (the main thread's stack), read with
 * raw system calls only (no allocation, no stdio); 0 or an errno value (ENOENT when there is none) */
int _pmp_os_main_stack(uint64_t *lo, uint64_t *hi);

/* [addr, addr+len), a file mapping of space the file has never written (fallocated: it reads as zeros), is faulted
 * in one page at a time (MADV_RANDOM): a first touch there reads nothing ahead, which would fill (and zero) the
 * page cache for pages nobody may touch */
int _pmp_os_map_fresh(void *addr, size_t len);
/* keep [addr, addr+len) out of (dontfork) or in a child's address space at fork (MADV_DONTFORK / MADV_DOFORK) */
int _pmp_os_dontfork(void *addr, size_t len, int dontfork);
/* give the file open on fd the name path again (it was unlinked); EEXIST if path exists */
int _pmp_os_relink(int fd, const char *path);
/* RLIMIT_AS soft limit in bytes, 0 when unlimited */
uint64_t _pmp_os_as_limit(void);
/* this process's address space size in bytes (/proc/self/statm), 0 if unknown */
uint64_t _pmp_os_vm_size(void);
/* end the process now (exit_group): no atexit handler, no destructor */
_Noreturn void _pmp_os_exit_group(int status);
/* the execve and execveat system calls; they return only on failure, with the errno value */
int _pmp_os_execve(const char *path, char *const argv[], char *const envp[]);
int _pmp_os_execveat(int dirfd, const char *path, char *const argv[], char *const envp[], int flags);

#endif
