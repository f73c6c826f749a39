/*
 * cmdline.c - the notification command line (SetNotifyCmdLine's Parameters) split into an
 * argv, and an argv quoted back into the canonical command line that Get shows.
 *
 * Never a shell: no expansion of any kind ($, `, *, ~), no operators (; | & < >), no
 * variables. The rules (docs/internals/client.md, "Notifications"):
 *   - words are separated by runs of spaces or tabs outside quotes;
 *   - '...' keeps everything up to the next ' literally;
 *   - "..." keeps everything up to the next unescaped ", where \" and \\ stand for " and \
 *     (a backslash before any other character is itself);
 *   - outside quotes a backslash makes the next character literal;
 *   - quoted parts and plain parts next to each other form one word ('a'"b"c is abc);
 *     '' or "" alone is an empty word.
 * Refused (-EINVAL): an unterminated quote, a trailing backslash, a control character
 * (bytes < 0x20 other than tab, and 0x7f) anywhere, more than FERRY_NOTIFY_MAX_ARGS words,
 * a line longer than FERRY_NOTIFY_MAX_CMDLINE bytes.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ferry/jobs.h"

/* Free an argv from ferry_cmdline_split (argc entries). NULL-safe. */
void
ferry_cmdline_free(char **argv, size_t argc)
{
    if (!argv)
        return;
    for (size_t i = 0; i < argc; i++)
        free(argv[i]);
    free(argv);
}

static bool
cmdline_ctl(unsigned char c)
{
    return (c < 0x20 && c != '\t') || c == 0x7f;
}

/*
 * Split `s` by the rules above. On success *ret_argv is a malloc()ed array of *ret_argc
 * malloc()ed words (NULL and 0 for a line with no words), owned by the caller
 * (ferry_cmdline_free). -EINVAL for a refused line, -ENOMEM; nothing is returned then.
 */
int
ferry_cmdline_split(const char *s, char ***ret_argv, size_t *ret_argc)
{
    size_t len, argc = 0;
    char **argv = NULL, *word = NULL;
    size_t wlen = 0;
    bool in_word = false;
    int r = -EINVAL;

    if (!s)
        return -EINVAL;
    len = strlen(s);
    if (len > FERRY_NOTIFY_MAX_CMDLINE)
        return -EINVAL;
    for (size_t i = 0; i < len; i++)
        if (cmdline_ctl((unsigned char)s[i]))
            return -EINVAL;
    /* no word is longer than the line */
    word = malloc(len + 1);
    argv = calloc(FERRY_NOTIFY_MAX_ARGS + 1, sizeof(*argv));
    if (!word || !argv) {
        r = -ENOMEM;
        goto error;
    }
    for (size_t i = 0; i <= len; i++) {
        char c = s[i];

        if (c == '\0' || c == ' ' || c == '\t') {
            if (in_word) {
                if (argc == FERRY_NOTIFY_MAX_ARGS)
                    goto error;
                argv[argc] = strndup(word, wlen);
                if (!argv[argc]) {
                    r = -ENOMEM;
                    goto error;
                }
                argc++;
                wlen = 0;
                in_word = false;
            }
            continue;
        }
        in_word = true;
        if (c == '\'') {
            const char *end = strchr(s + i + 1, '\'');
            size_t n;

            if (!end)
                goto error;
            n = (size_t)(end - (s + i + 1));
            memcpy(word + wlen, s + i + 1, n);
            wlen += n;
            i = (size_t)(end - s);
        } else if (c == '"') {
            for (i++;; i++) {
                if (s[i] == '\0')
                    goto error;
                if (s[i] == '"')
                    break;
                if (s[i] == '\\' && (s[i + 1] == '"' || s[i + 1] == '\\'))
                    i++;
                word[wlen++] = s[i];
            }
        } else if (c == '\\') {
            if (s[i + 1] == '\0')
                goto error;
            word[wlen++] = s[++i];
        } else {
            word[wlen++] = c;
        }
    }
    free(word);
    if (argc == 0) {
        free(argv);
        argv = NULL;
    }
    *ret_argv = argv;
    *ret_argc = argc;
    return 0;
error:
    free(word);
    ferry_cmdline_free(argv, argc);
    return r;
}

static bool
cmdline_plain(const char *w)
{
    static const char safe[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                               "0123456789_@%+=:,./-";

    return *w && strspn(w, safe) == strlen(w);
}

/*
 * The canonical command line of an argv: plain words as they are, every other word in
 * double quotes with " and \ escaped. ferry_cmdline_split of the result gives the same
 * argv back. malloc()ed (caller frees); NULL on OOM. argc 0 gives "".
 */
char *
ferry_cmdline_join(char *const *argv, size_t argc)
{
    size_t len = 1;
    char *out, *p;

    for (size_t i = 0; i < argc; i++)
        len += 2 * strlen(argv[i]) + 3;
    out = malloc(len);
    if (!out)
        return NULL;
    p = out;
    for (size_t i = 0; i < argc; i++) {
        const char *w = argv[i];

        if (i)
            *p++ = ' ';
        if (cmdline_plain(w)) {
            size_t n = strlen(w);
            memcpy(p, w, n);
            p += n;
            continue;
        }
        *p++ = '"';
        for (; *w; w++) {
            if (*w == '"' || *w == '\\')
                *p++ = '\\';
            *p++ = *w;
        }
        *p++ = '"';
    }
    *p = '\0';
    return out;
}
