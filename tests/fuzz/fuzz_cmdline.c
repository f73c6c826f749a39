/*
 * tests/fuzz/fuzz_cmdline.c - the notification command line parser (ferry_cmdline_split,
 * engine/client/cmdline.c) on arbitrary bytes. Traps when an accepted line breaks what the
 * notifier and the store rely on: at most FERRY_NOTIFY_MAX_ARGS words, none holding a
 * control character (a newline would split the stored argv), and the canonical form
 * (ferry_cmdline_join, shown as NotifyCmdLine) splitting back into the same words.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ferry/jobs.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1), *line;
    char **argv = NULL, **again = NULL;
    size_t argc = 0, n2 = 0;

    if (!s)
        return 0;
    memcpy(s, data, size);
    s[size] = '\0';
    if (ferry_cmdline_split(s, &argv, &argc) < 0) {
        free(s);
        return 0;
    }
    if (argc > FERRY_NOTIFY_MAX_ARGS || (argc == 0) != (argv == NULL))
        __builtin_trap();
    for (size_t i = 0; i < argc; i++)
        for (const unsigned char *p = (const unsigned char *)argv[i]; *p; p++)
            if ((*p < 0x20 && *p != '\t') || *p == 0x7f)
                __builtin_trap();
    line = ferry_cmdline_join(argv, argc);
    if (!line)
        __builtin_trap();
    /* quoting can push the canonical form over the length limit: compare when it fits */
    if (strlen(line) <= FERRY_NOTIFY_MAX_CMDLINE) {
        if (ferry_cmdline_split(line, &again, &n2) < 0 || n2 != argc)
            __builtin_trap();
        for (size_t i = 0; i < argc; i++)
            if (strcmp(argv[i], again[i]) != 0)
                __builtin_trap();
        ferry_cmdline_free(again, n2);
    }
    free(line);
    ferry_cmdline_free(argv, argc);
    free(s);
    return 0;
}
