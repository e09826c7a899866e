// Keeps an executable's resident set close to what it uses (spaak-ecu links it).
//
// The release executables carry the Swift runtime, Foundation and BoringSSL: about 20 MB of
// code and read-only data. On every page fault in a file mapping the kernel also maps up to 15
// neighbouring pages that are in the page cache ("fault-around", 64 KiB), so a module that
// touches a few hundred scattered functions had 8.8 MB of its executable resident against
// 4.9 MB without (scripts/bench memory). MADV_RANDOM on the executable's read-only mappings
// turns fault-around and read-ahead off for them: each page is mapped when it is used. The
// cost is one minor fault per page instead of per 16, mostly at start. It runs as a
// constructor, before the Swift runtime's and BoringSSL's start-up code touches its pages.
#define _GNU_SOURCE
#include "CResidentMemory.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static int advised;

int spaak_resident_memory_advised(void) { return advised; }

__attribute__((constructor)) static void spaak_resident_memory_advise(void) {
    char exe[PATH_MAX];
    ssize_t length = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (length <= 0) return;
    exe[length] = '\0';
    FILE *maps = fopen("/proc/self/maps", "re");
    if (!maps) return;
    char *line = NULL;
    size_t capacity = 0;
    while (getline(&line, &capacity, maps) > 0) {
        unsigned long start, end;
        char perms[5];
        int path_at = 0;
        // start-end perms offset dev inode path
        if (sscanf(line, "%lx-%lx %4s %*s %*s %*s %n", &start, &end, perms, &path_at) != 3 || path_at == 0) continue;
        char *path = line + path_at;
        path[strcspn(path, "\n")] = '\0';
        if (perms[1] == 'w' || strcmp(path, exe) != 0) continue;
        if (madvise((void *)start, end - start, MADV_RANDOM) == 0) advised++;
    }
    free(line);
    fclose(maps);
}
