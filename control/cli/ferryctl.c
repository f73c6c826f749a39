/*
 * ferryctl.c - the controller CLI's main().
 */
#include <stdio.h>
#include <string.h>

int
main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--version") == 0) {
            printf("ferryctl %s\n", FERRY_VERSION);
            return 0;
        }
    }
    printf("usage: ferryctl [--endpoint URL] COMMAND ...\n");
    return argc > 1 ? 2 : 0;
}
