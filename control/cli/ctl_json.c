/*
 * control/cli/ctl_json.c - JSON output of ferryctl. Every string goes through
 * ctl_json_write_escaped().
 */
#include <math.h>
#include <string.h>

#include "ctl_json.h"

void
ctl_json_init(struct ctl_json *j, FILE *f)
{
    memset(j, 0, sizeof(*j));
    j->f = f;
    j->first[0] = true;
}

/* Length of the valid UTF-8 sequence at s (1..4), 0 when invalid. */
static size_t
json_utf8_len(const unsigned char *s)
{
    unsigned char c = s[0];
    size_t n;
    uint32_t cp;

    if (c < 0x80)
        return 1;
    if (c >= 0xC2 && c <= 0xDF)
        n = 2, cp = c & 0x1F;
    else if (c >= 0xE0 && c <= 0xEF)
        n = 3, cp = c & 0x0F;
    else if (c >= 0xF0 && c <= 0xF4)
        n = 4, cp = c & 0x07;
    else
        return 0;
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3F);
    }
    if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10FFFF)) ||
        (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    return n;
}

void
ctl_json_write_escaped(FILE *f, const char *str)
{
    const unsigned char *s = (const unsigned char *)str;

    fputc('"', f);
    while (*s) {
        size_t n;

        switch (*s) {
        case '"':
            fputs("\\\"", f);
            s++;
            continue;
        case '\\':
            fputs("\\\\", f);
            s++;
            continue;
        case '\n':
            fputs("\\n", f);
            s++;
            continue;
        case '\r':
            fputs("\\r", f);
            s++;
            continue;
        case '\t':
            fputs("\\t", f);
            s++;
            continue;
        case '\b':
            fputs("\\b", f);
            s++;
            continue;
        case '\f':
            fputs("\\f", f);
            s++;
            continue;
        default:
            break;
        }
        if (*s < 0x20 || *s == 0x7F) {
            fprintf(f, "\\u%04x", *s);
            s++;
            continue;
        }
        n = json_utf8_len(s);
        if (n == 0) {
            fputs("\\ufffd", f);
            s++;
            continue;
        }
        fwrite(s, 1, n, f);
        s += n;
    }
    fputc('"', f);
}

/* Separator before a value or key at the current level. */
static void
json_sep(struct ctl_json *j)
{
    if (j->after_key) {
        j->after_key = false;
        return;
    }
    if (!j->first[j->depth])
        fputc(',', j->f);
    j->first[j->depth] = false;
}

static void
json_open(struct ctl_json *j, int c)
{
    json_sep(j);
    fputc(c, j->f);
    if (j->depth + 1 < CTL_JSON_MAX_DEPTH)
        j->depth++;
    j->first[j->depth] = true;
}

static void
json_close(struct ctl_json *j, int c)
{
    fputc(c, j->f);
    if (j->depth > 0)
        j->depth--;
}

void
ctl_json_begin_object(struct ctl_json *j)
{
    json_open(j, '{');
}

void
ctl_json_end_object(struct ctl_json *j)
{
    json_close(j, '}');
}

void
ctl_json_begin_array(struct ctl_json *j)
{
    json_open(j, '[');
}

void
ctl_json_end_array(struct ctl_json *j)
{
    json_close(j, ']');
}

void
ctl_json_key(struct ctl_json *j, const char *key)
{
    json_sep(j);
    ctl_json_write_escaped(j->f, key);
    fputc(':', j->f);
    j->after_key = true;
}

void
ctl_json_string(struct ctl_json *j, const char *s)
{
    json_sep(j);
    if (s)
        ctl_json_write_escaped(j->f, s);
    else
        fputs("null", j->f);
}

void
ctl_json_u64(struct ctl_json *j, uint64_t v)
{
    json_sep(j);
    fprintf(j->f, "%llu", (unsigned long long)v);
}

void
ctl_json_double(struct ctl_json *j, double v)
{
    json_sep(j);
    if (isfinite(v))
        fprintf(j->f, "%.3f", v);
    else
        fputs("null", j->f);
}

void
ctl_json_bool(struct ctl_json *j, bool v)
{
    json_sep(j);
    fputs(v ? "true" : "false", j->f);
}

void
ctl_json_null(struct ctl_json *j)
{
    json_sep(j);
    fputs("null", j->f);
}

void
ctl_json_end(struct ctl_json *j)
{
    fputc('\n', j->f);
    fflush(j->f);
}

static void
json_prop_value(struct ctl_json *j, const struct ctl_prop *p)
{
    if (p->nested)
        ctl_json_instance(j, p->nested);
    else
        ctl_json_string(j, p->value);
}

void
ctl_json_instance(struct ctl_json *j, const struct ctl_instance *inst)
{
    ctl_json_begin_object(j);
    for (size_t i = 0; i < inst->nprops; i++) {
        const struct ctl_prop *p = &inst->props[i];
        size_t count = 0;
        bool seen = false;

        for (size_t k = 0; k < i; k++)
            if (strcmp(inst->props[k].name, p->name) == 0)
                seen = true;
        if (seen)
            continue; /* written with its first occurrence */
        for (size_t k = i; k < inst->nprops; k++)
            if (strcmp(inst->props[k].name, p->name) == 0)
                count++;
        ctl_json_key(j, p->name);
        if (count == 1) {
            json_prop_value(j, p);
            continue;
        }
        ctl_json_begin_array(j);
        for (size_t k = i; k < inst->nprops; k++)
            if (strcmp(inst->props[k].name, p->name) == 0)
                json_prop_value(j, &inst->props[k]);
        ctl_json_end_array(j);
    }
    ctl_json_end_object(j);
}
