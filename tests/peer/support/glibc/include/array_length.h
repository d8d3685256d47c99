/* array_length.h (peer shim): glibc's array_length and array_end for glibc's tests.
 * Must never: accept a pointer (sizeof would silently give the pointer's size): that fails to compile.
 */
#ifndef PEER_ARRAY_LENGTH_H
#define PEER_ARRAY_LENGTH_H

#define PEER_NOT_A_POINTER(var) \
	(0 * sizeof(struct { int peer_must_be_an_array : \
		__builtin_types_compatible_p(__typeof__(var), __typeof__(&(var)[0])) ? -1 : 1; }))
#define array_length(var) (sizeof(var) / sizeof((var)[0]) + PEER_NOT_A_POINTER(var))
#define array_end(var) (&(var)[array_length(var)])

#endif
