#include "nndist/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* Per thread: a background checkpoint write (ckpt_writer.h) reports its own failures. */
static _Thread_local char g_msg[NND_ERR_MSG_MAX];

static const int g_codes[] = {
#define NND_X_CODE(name, code, text) code,
    NND_STATUS_LIST(NND_X_CODE)
#undef NND_X_CODE
};

static const char *const g_texts[] = {
#define NND_X_TEXT(name, code, text) text,
    NND_STATUS_LIST(NND_X_TEXT)
#undef NND_X_TEXT
};

int nnd_status_exit_code(nnd_status st)
{
    if ((int)st < 0 || st >= NND_STATUS_COUNT) return 1;
    return g_codes[st];
}

const char *nnd_status_text(nnd_status st)
{
    if ((int)st < 0 || st >= NND_STATUS_COUNT) return "unknown status";
    return g_texts[st];
}

nnd_status nnd_err_set(nnd_status st, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(g_msg, sizeof g_msg, fmt, ap);
    va_end(ap);
    return st;
}

const char *nnd_err_msg(void)
{
    return g_msg;
}

void nnd_err_replace(const char *msg)
{
    snprintf(g_msg, sizeof g_msg, "%s", msg);
}

void nnd_err_clear(void)
{
    g_msg[0] = '\0';
}
