/* errors.c: pmp_strerror, one static string for every PMP_E* code and for the errno values the library returns.
 *
 * Must never: allocate or call strerror (both unsafe on the preload's paths); every string is a constant.
 */
#include <errno.h>

#include "pmempreload.h"

const char *pmp_strerror(int err)
{
	switch (err) {
	case 0: return "success";
	case PMP_EMAGIC: return "not a pmempreload heap (bad magic)";
	case PMP_EVERSION: return "heap format version not supported";
	case PMP_ECHECKSUM: return "superblock checksum mismatch in both copies";
	case PMP_EADDRINUSE: return "the heap's fixed address range is already in use in this process";
	case PMP_ESHORT: return "heap file is shorter than its superblock says (truncated)";
	case PMP_EOWNER: return "heap file refused: owned by another user, group- or world-writable, hard-linked, or replaced while opening";
	case PMP_ELOCKED: return "heap file is in use by another process";
	case PMP_ECORRUPT: return "heap is inconsistent (block chain or metadata damaged)";
	case PMP_ERDONLY: return "heap is open read-only";
	case PMP_EBADADDR: return "heap was created at another address";
	case PMP_ETOOSMALL: return "memory too small to hold a heap";
	case PMP_EROOTFULL: return "named root table is full";
	case PMP_ELAYOUT: return "superblock fields are implausible (damaged or hostile file)";
	case PMP_EFILETYPE: return "not a regular file";
	case PMP_EFOREIGN: return "heap file was written by another program";
	case EPERM: return "operation not permitted";
	case ENOENT: return "no such file or directory";
	case EINTR: return "interrupted system call";
	case EIO: return "input/output error";
	case EBADF: return "bad file descriptor";
	case EAGAIN: return "resource temporarily unavailable";
	case ENOMEM: return "out of memory";
	case EACCES: return "permission denied";
	case EBUSY: return "device or resource busy";
	case EEXIST: return "file exists";
	case ENOTDIR: return "not a directory";
	case EISDIR: return "is a directory";
	case EINVAL: return "invalid argument";
	case ENFILE: return "too many open files in system";
	case EMFILE: return "too many open files";
	case EFBIG: return "file too large";
	case ENOSPC: return "no space left on device";
	case EROFS: return "read-only file system";
	case EMLINK: return "too many links";
	case ENAMETOOLONG: return "name too long";
	case ENOSYS: return "function not implemented";
	case ELOOP: return "too many levels of symbolic links (refusing a symlink)";
	case EOVERFLOW: return "value too large";
	case EOPNOTSUPP: return "operation not supported";
	case ENODEV: return "no such device";
	case ETXTBSY: return "text file busy";
	case EDQUOT: return "disk quota exceeded";
	default: return err < 0 ? "unknown pmempreload error" : "system error";
	}
}
