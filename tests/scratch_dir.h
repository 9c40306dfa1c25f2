/* A scratch directory for a unit test's files: cmocka's group setup makes a fresh directory
 * under /tmp, the teardown removes it with everything below it, so no run sees another's files. */
#ifndef NNDIST_TESTS_SCRATCH_DIR_H
#define NNDIST_TESTS_SCRATCH_DIR_H

#include <stddef.h>

/* The directory's path, set by scratch_setup. */
extern char scratch_dir[64];

/* Group setup and teardown for cmocka_run_group_tests; 0 on success. */
int scratch_setup(void **state);
int scratch_teardown(void **state);

/* buf = scratch_dir/name. */
void scratch_path(char *buf, size_t size, const char *name);

#endif
