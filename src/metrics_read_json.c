/* The JSON-lines metrics file (metrics_read.h): one flat object per line, read by a hand parser of
 * the subset train writes and a person would write by hand. A key is a string with JSON's
 * escapes (\uXXXX and surrogate pairs to UTF-8); a value is a number (strtod), null, or a value
 * kept only as its text for a lazy refusal: a string, true, false, Python's NaN and Infinity, an
 * object or an array (skipped with its brackets matched, its content unparsed). */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "metrics_read_internal.h"

#define LINE_MAX_BYTES NND_METRICS_JSON_LINE_MAX
#define NEST_MAX       64 /* the deepest nesting of a value skipped */

typedef struct {
    nnd_metrics_table *t;
    uint64_t line, first_line; /* the line being read; the line of the first object */
    const char *start, *p;     /* the line, and the next byte to parse */
    char buf[LINE_MAX_BYTES + 1];
    char key[LINE_MAX_BYTES + 1];     /* the last key, decoded (never longer than its text) */
    char scratch[LINE_MAX_BYTES + 1]; /* a string value, decoded and dropped */
    char found[24];
} cursor;

/* What is at the cursor, for a message. */
static const char *found(cursor *c)
{
    const unsigned char ch = (unsigned char)*c->p;
    if (ch == '\0') return "the end of the line";
    if (isprint(ch))
        snprintf(c->found, sizeof c->found, "'%c'", ch);
    else
        snprintf(c->found, sizeof c->found, "byte 0x%02x", ch);
    return c->found;
}

static nnd_status malformed(const cursor *c, const char *fmt, ...)
{
    char what[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    return nnd_err_set(NND_ERR_INPUT,
                       "%s: line %llu: malformed JSON at byte %zu: %s (expected one object of "
                       "numbers and nulls per line)",
                       c->t->path, (unsigned long long)c->line, (size_t)(c->p - c->start) + 1,
                       what);
}

static void skip_ws(cursor *c)
{
    while (*c->p == ' ' || *c->p == '\t' || *c->p == '\r' || *c->p == '\n') c->p++;
}

static int hex4(const char *s, unsigned *v)
{
    *v = 0;
    for (int i = 0; i < 4; i++) {
        if (!isxdigit((unsigned char)s[i])) return 0;
        *v = *v * 16 + (unsigned)(isdigit((unsigned char)s[i])
                                      ? s[i] - '0'
                                      : tolower((unsigned char)s[i]) - 'a' + 10);
    }
    return 1;
}

static size_t put_utf8(unsigned cp, char *out)
{
    if (cp < 0x80) return out[0] = (char)cp, 1;
    if (cp < 0x800) {
        out[0] = (char)(0xc0 | cp >> 6);
        out[1] = (char)(0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xe0 | cp >> 12);
        out[1] = (char)(0x80 | (cp >> 6 & 0x3f));
        out[2] = (char)(0x80 | (cp & 0x3f));
        return 3;
    }
    out[0] = (char)(0xf0 | cp >> 18);
    out[1] = (char)(0x80 | (cp >> 12 & 0x3f));
    out[2] = (char)(0x80 | (cp >> 6 & 0x3f));
    out[3] = (char)(0x80 | (cp & 0x3f));
    return 4;
}

/* The string at the cursor (its opening quote) decoded into out, the cursor past its end. */
static nnd_status parse_string(cursor *c, char *out)
{
    static const char escapes[] = "\"\\/bfnrt", decoded[] = "\"\\/\b\f\n\r\t";
    size_t n = 0;
    c->p++;
    for (;;) {
        const unsigned char ch = (unsigned char)*c->p;
        if (ch == '"') break;
        if (ch == '\0') return malformed(c, "a string not closed before the end of the line");
        if (ch < 0x20) return malformed(c, "a control character (byte 0x%02x) in a string", ch);
        if (ch != '\\') {
            out[n++] = (char)ch;
            c->p++;
            continue;
        }
        const char esc = c->p[1];
        const char *e = esc ? strchr(escapes, esc) : NULL;
        if (e) {
            out[n++] = decoded[e - escapes];
            c->p += 2;
            continue;
        }
        unsigned cp, lo;
        if (esc != 'u') return malformed(c, "an unknown escape in a string");
        if (!hex4(c->p + 2, &cp)) return malformed(c, "'\\u' without four hex digits");
        if (cp >= 0xdc00 && cp < 0xe000) return malformed(c, "a lone low surrogate");
        if (cp == 0) return malformed(c, "'\\u0000' (a NUL) in a string");
        if (cp >= 0xd800 && cp < 0xdc00) {
            if (c->p[6] != '\\' || c->p[7] != 'u' || !hex4(c->p + 8, &lo) || lo < 0xdc00 ||
                lo >= 0xe000)
                return malformed(c, "a high surrogate without its low half");
            cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
            c->p += 6;
        }
        n += put_utf8(cp, out + n);
        c->p += 6;
    }
    out[n] = '\0';
    c->p++;
    return NND_OK;
}

/* An object or array value, skipped: its brackets matched, strings read, nothing else checked. */
static nnd_status skip_nested(cursor *c)
{
    char opened[NEST_MAX];
    int depth = 0;
    do {
        const char ch = *c->p;
        if (ch == '"') {
            nnd_status st = parse_string(c, c->scratch);
            if (st) return st;
            continue;
        }
        if (ch == '\0')
            return malformed(c, "a '%c' not closed before the end of the line", opened[depth - 1]);
        if (ch == '{' || ch == '[') {
            if (depth == NEST_MAX) return malformed(c, "values nested deeper than %d", NEST_MAX);
            opened[depth++] = ch;
        } else if (ch == '}' || ch == ']') {
            if (opened[depth - 1] != (ch == '}' ? '{' : '['))
                return malformed(c, "a '%c' closing a '%c'", ch, opened[depth - 1]);
            depth--;
        }
        c->p++;
    } while (depth > 0);
    return NND_OK;
}

/* The value at the cursor: *kind 1 a finite number *v, 0 null, -1 anything else. */
static nnd_status parse_value(cursor *c, int *kind, double *v)
{
    const char *s = c->p;
    const int neg = *s == '-';
    *kind = -1;
    if (*s == '"') return parse_string(c, c->scratch);
    if (*s == '{' || *s == '[') return skip_nested(c);
    if (isdigit((unsigned char)s[neg])) {
        const char *e = s;
        while (*e && strchr("0123456789+-.eE", *e)) e++;
        char *end;
        *v = strtod(s, &end);
        if (end != e) { /* 1.2.3, 1e, 0x10: shown up to the next separator */
            while (*e && !strchr(",}] \t\r", *e)) e++;
            return malformed(c, "'%.*s' is not a number", (int)(e - s > 40 ? 40 : e - s), s);
        }
        c->p = e;
        *kind = isfinite(*v) ? 1 : -1; /* 1e999 */
        return NND_OK;
    }
    const char *e = s + neg;
    while (isalpha((unsigned char)*e)) e++;
    static const char *const words[] = {"null", "true", "false", "NaN", "Infinity", "-Infinity"};
    for (size_t i = 0; i < sizeof words / sizeof words[0]; i++)
        if (strlen(words[i]) == (size_t)(e - s) && strncmp(s, words[i], (size_t)(e - s)) == 0) {
            *kind = i == 0 ? 0 : -1;
            c->p = e;
            return NND_OK;
        }
    if (e > s) return malformed(c, "'%.*s' is not a value", (int)(e - s > 40 ? 40 : e - s), s);
    return malformed(c, "expected a value (a number or null), found %s", found(c));
}

/* What a pass over a line does with its keys: count them (the first line), take them as the
 * column names (the first line again), or match them to the names and store the values. */
enum pass { COUNT, NAMES, ROW };

/* A key where names[j] was expected (key NULL: the end of the object): refused. */
static nnd_status key_mismatch(const cursor *c, size_t j, const char *key)
{
    const nnd_metrics_table *t = c->t;
    const unsigned long long ln = c->line, first = c->first_line;
    if (!key)
        return nnd_err_set(NND_ERR_INPUT,
                           "%s: line %llu: the object ends where the key '%s' was expected "
                           "(every line has the keys of line %llu, in its order)",
                           t->path, ln, t->names[j], first);
    if (j < t->n_cols)
        return nnd_err_set(NND_ERR_INPUT,
                           "%s: line %llu: the key '%s' where '%s' was expected (every line has "
                           "the keys of line %llu, in its order)",
                           t->path, ln, key, t->names[j], first);
    return nnd_err_set(NND_ERR_INPUT,
                       "%s: line %llu: the key '%s' after the last key, '%s'; expected the %zu "
                       "keys of line %llu, in its order",
                       t->path, ln, key, t->names[t->n_cols - 1], t->n_cols, first);
}

/* One pass over the object on the cursor's line; *n_keys: how many keys it has. */
static nnd_status parse_object(cursor *c, enum pass pass, const long req[2], size_t *n_keys)
{
    nnd_metrics_table *t = c->t;
    size_t j = 0;
    nnd_status st = NND_OK;
    c->p = c->start;
    skip_ws(c);
    if (*c->p != '{') return malformed(c, "expected '{', found %s", found(c));
    c->p++;
    skip_ws(c);
    while (*c->p != '}' || j > 0) {
        if (*c->p != '"')
            return malformed(c, "expected a key in double quotes, found %s", found(c));
        if ((st = parse_string(c, c->key))) return st;
        if (pass == ROW && (j >= t->n_cols || strcmp(c->key, t->names[j]) != 0))
            return key_mismatch(c, j, c->key);
        if (pass == NAMES) {
            for (size_t i = 0; i < j; i++)
                if (strcmp(t->names[i], c->key) == 0)
                    return nnd_err_set(NND_ERR_INPUT,
                                       "%s: line %llu: the key '%s' appears twice in the object",
                                       t->path, (unsigned long long)c->line, c->key);
            if (!(t->names[j] = strdup(c->key)))
                return nnd_err_set(NND_ERR_NOMEM, "%s: out of memory for the keys", t->path);
        }
        skip_ws(c);
        if (*c->p != ':')
            return malformed(c, "expected ':' after the key '%s', found %s", c->key, found(c));
        c->p++;
        skip_ws(c);
        const char *text = c->p;
        int kind;
        double v = NAN;
        if ((st = parse_value(c, &kind, &v))) return st;
        if (pass == ROW)
            st = nnd_metrics_read_field(t, req, j, c->line, kind, v, text, (size_t)(c->p - text));
        if (st) return st;
        j++;
        skip_ws(c);
        if (*c->p == '}') break;
        if (*c->p != ',')
            return malformed(c, "expected ',' or '}' after the value of '%s', found %s", c->key,
                             found(c));
        c->p++;
        skip_ws(c);
    }
    c->p++;
    skip_ws(c);
    if (*c->p) return malformed(c, "%s after the object's closing '}'", found(c));
    if (pass == ROW && j < t->n_cols) return key_mismatch(c, j, NULL);
    *n_keys = j;
    return NND_OK;
}

/* The next line into c->buf, its line break left out: *got 0 at the end of the file. */
static nnd_status read_line(FILE *f, cursor *c, int *got)
{
    size_t n = 0;
    int ch;
    c->line++;
    while ((ch = getc(f)) != EOF && ch != '\n') {
        if (n == LINE_MAX_BYTES)
            return nnd_err_set(NND_ERR_INPUT,
                               "%s: line %llu: longer than %d bytes, the most a line is read "
                               "with; expected %s",
                               c->t->path, (unsigned long long)c->line, LINE_MAX_BYTES,
                               nnd_metrics_expected(c->t));
        if (ch == '\0')
            return nnd_err_set(
                NND_ERR_INPUT, "%s: line %llu: a NUL byte at byte %zu; expected text, %s",
                c->t->path, (unsigned long long)c->line, n + 1, nnd_metrics_expected(c->t));
        c->buf[n++] = (char)ch;
    }
    if (ferror(f))
        return nnd_err_set(NND_ERR_IO, "%s: read failed at line %llu: %s", c->t->path,
                           (unsigned long long)c->line, strerror(errno));
    c->buf[n] = '\0';
    *got = n > 0 || ch == '\n';
    /* A byte-order mark at the start of the file, as some editors write. */
    c->start = c->buf;
    if (c->line == 1 && strncmp(c->buf, "\xef\xbb\xbf", 3) == 0) c->start += 3;
    return NND_OK;
}

nnd_status nnd_metrics_read_jsonl(nnd_metrics_table *t, FILE *f)
{
    cursor *c = calloc(1, sizeof *c);
    if (!c) return nnd_err_set(NND_ERR_NOMEM, "%s: out of memory", t->path);
    c->t = t;
    long req[2] = {-1, -1};
    size_t cap = 0, n;
    int got;
    nnd_status st;
    while (!(st = read_line(f, c, &got)) && got) {
        c->p = c->start;
        skip_ws(c);
        if (*c->p == '\0') continue; /* a blank line */
        if (!c->first_line) {
            c->first_line = c->line;
            st = parse_object(c, COUNT, req, &n);
            if (!st) st = nnd_metrics_read_columns(t, n);
            if (!st) st = parse_object(c, NAMES, req, &n);
            if (!st) st = nnd_metrics_read_required(t, c->line, req);
        }
        if (!st) st = nnd_metrics_read_row(t, &cap, c->line);
        if (!st) st = parse_object(c, ROW, req, &n);
        if (st) break;
        t->n_rows++;
    }
    if (!st && !c->first_line)
        st = nnd_err_set(NND_ERR_INPUT, "%s: the file is empty; expected %s", t->path,
                         nnd_metrics_expected(t));
    free(c);
    return st;
}
