/*
 * ferryd.c - the agent's main(): configuration, engine, WS-Man endpoint, signals.
 */
#include <stdio.h>
#include <string.h>

#include "ferry/log.h"

int
main(int argc, char **argv)
{
    ferry_log_set_ident("ferryd");
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            printf("usage: ferryd --state-dir DIR [options]\n");
            return 0;
        }
        if (strcmp(argv[i], "--version") == 0) {
            printf("ferryd %s\n", FERRY_VERSION);
            return 0;
        }
    }
    ferry_log_error("ferryd is not assembled yet in this build");
    return 1;
}
