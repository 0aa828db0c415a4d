/* SPDX-License-Identifier: MIT */
/*
 * tests/fuzz/make_corpus.c - writes the seed corpus: valid segments of each kind, so the fuzzer starts
 * from the shapes a real peer produces. Usage: make_corpus OUTDIR. Each layer adds its generator here.
 */
#include "segment/segment_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int dump(const char *dir, const char *harness, const char *file, const shmipc_segment *s)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, harness);
    mkdir(path, 0755);
    snprintf(path, sizeof path, "%s/%s/%s", dir, harness, file);
    FILE *f = fopen(path, "wb");
    if (!f)
        return -1;
    size_t total = SHMIPC_SEGMENT_HEADER_SIZE + shmipc_segment_data_size(s);
    size_t n = fwrite((const char *)shmipc_segment_data(s) - SHMIPC_SEGMENT_HEADER_SIZE, 1, total, f);
    fclose(f);
    return n == total ? 0 : -1;
}

static int seg_corpus(const char *dir)
{
    static const size_t sizes[] = {64, 200, 4096};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        shmipc_segment *s;
        shmipc_segment_opts o = {.type = (uint32_t)i};
        if (shmipc_segment_memfd_create("corpus", sizes[i], &o, &s))
            return -1;
        memset(shmipc_segment_data(s), (int)i, sizes[i]);
        char file[64];
        snprintf(file, sizeof file, "valid-%zu", sizes[i]);
        int err = dump(dir, "fuzz_segment", file, s);
        shmipc_segment_close(s);
        if (err)
            return -1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: make_corpus OUTDIR\n");
        return 2;
    }
    if (seg_corpus(argv[1])) {
        perror("make_corpus");
        return 1;
    }
    return 0;
}
