/* Status codes and the one error message of the process.
 *
 * Functions that can fail return an nnd_status; where the failure happens they format one
 * message (naming the file, dataset, flag or value and what was expected) with nnd_err_set().
 * The caller passes the status up; the command prints nnd_err_msg() once (rank 0 only). */
#ifndef NNDIST_ERROR_H
#define NNDIST_ERROR_H

/* X(name, exit code, short text). Exit codes: 2 = the user's input (flags, files, shapes) was
 * wrong, 1 = a runtime failure (I/O, memory, numerics), 75 = checkpointed on request, requeue,
 * 130 = stopped by a signal with nothing to checkpoint (as a shell reports an interrupt). */
#define NND_STATUS_LIST(X)                                                                         \
    X(NND_OK, 0, "ok")                                                                             \
    X(NND_ERR_USAGE, 2, "invalid command line")                                                    \
    X(NND_ERR_INPUT, 2, "invalid input file")                                                      \
    X(NND_ERR_MISMATCH, 2, "incompatible model or data")                                           \
    X(NND_ERR_IO, 1, "I/O error")                                                                  \
    X(NND_ERR_NOMEM, 1, "out of memory")                                                           \
    X(NND_ERR_NUMERIC, 1, "non-finite values")                                                     \
    X(NND_ERR_INTERNAL, 1, "internal error")                                                       \
    X(NND_EXIT_REQUEUE, 75, "checkpointed on request; requeue to continue")                        \
    X(NND_ERR_INTERRUPTED, 130, "stopped by a signal")

typedef enum {
#define NND_X_ENUM(name, code, text) name,
    NND_STATUS_LIST(NND_X_ENUM)
#undef NND_X_ENUM
        NND_STATUS_COUNT
} nnd_status;

/* The process exit code for a status. */
int nnd_status_exit_code(nnd_status st);
/* A short text for a status ("invalid input file"). */
const char *nnd_status_text(nnd_status st);

/* Formats the message of the current failure (printf-style) and returns st, so that
 * `return nnd_err_set(NND_ERR_INPUT, "%s: ...", path);` reads as one statement. */
nnd_status nnd_err_set(nnd_status st, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The message set last (borrowed; empty when none). */
const char *nnd_err_msg(void);
/* Overwrites the message (used when another rank's message is received). */
void nnd_err_replace(const char *msg);
void nnd_err_clear(void);

#define NND_ERR_MSG_MAX 1024
/* Room for a file name with its NUL: Linux's PATH_MAX, the longest name a system call takes. */
#define NND_PATH_MAX 4096

#endif
