/* support/temp_file.h (peer shim): temporary files of glibc's test support library, created in $TMPDIR (the
 * peer runner gives each test its own directory) and removed at exit by the process that created them.
 * Must never: create a file outside $TMPDIR (or /tmp when it is unset).
 */
#ifndef PEER_SUPPORT_TEMP_FILE_H
#define PEER_SUPPORT_TEMP_FILE_H

#ifdef __cplusplus
extern "C" {
#endif

/* a new file $TMPDIR/BASEXXXXXX open for reading and writing; *filename (if not NULL) gets a malloc'd copy of
 * its name, which the caller frees. Returns the descriptor, or -1 with a message. */
int create_temp_file(const char *base, char **filename);
/* remove NAME at exit as well */
void add_temp_file(const char *name);

#ifdef __cplusplus
}
#endif
#endif
