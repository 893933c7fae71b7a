/* A stand-in for libFuzzer's main(): feeds every file named on the command
 * line (for a directory, every regular file in it but dotfiles) to the fuzz
 * target, so a target built with gcc runs as a regression test over its
 * corpus. Without arguments it reads the target's seed corpus and its
 * regression inputs (FUZZ_CORPUS_DIR/FUZZ_NAME, FUZZ_REGRESS_DIR/FUZZ_NAME).
 * Prints TAP. */

#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "basic/fileio.h"
#include "basic/macro.h"

#define FUZZ_INPUT_MAX (1024 * 1024)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

const bool fuzz_replaying_corpus = true; /* fuzz.h: every case of each input */

static unsigned n_inputs;

static int run_file(const char *path) {
        _cleanup_free_ char *buf = NULL;
        size_t n;
        int r;

        r = read_full_file(path, FUZZ_INPUT_MAX, &buf, &n);
        if (r < 0)
                return r;

        printf("# %s\n", path); /* named before it runs: a failed assertion aborts */
        fflush(stdout);
        LLVMFuzzerTestOneInput((const uint8_t *) buf, n);
        printf("ok %u - %s (%zu bytes)\n", ++n_inputs, path, n);
        return 0;
}

static int run_dir(const char *dir) {
        struct dirent **list = NULL;
        int n, r = 0;

        n = scandir(dir, &list, NULL, alphasort);
        if (n < 0)
                return -errno;

        for (int i = 0; i < n; i++) {
                _cleanup_free_ char *path = NULL;
                struct stat st;

                if (list[i]->d_name[0] == '.') { /* ".", "..", and the .gitkeep of an empty directory */
                        free(list[i]);
                        continue;
                }
                if (r >= 0 && asprintf(&path, "%s/%s", dir, list[i]->d_name) < 0)
                        r = -ENOMEM;
                if (r >= 0 && stat(path, &st) == 0 && S_ISREG(st.st_mode))
                        r = run_file(path);
                free(list[i]);
        }
        free(list);
        return r;
}

static int run_path(const char *path) {
        struct stat st;

        if (stat(path, &st) < 0)
                return -errno;
        return S_ISDIR(st.st_mode) ? run_dir(path) : run_file(path);
}

int main(int argc, char **argv) {
#ifdef FUZZ_NAME
        static const char *const fallback[] = { FUZZ_CORPUS_DIR "/" FUZZ_NAME, FUZZ_REGRESS_DIR "/" FUZZ_NAME };
#else
        static const char *const fallback[] = {};
#endif
        const char *const *paths = argc > 1 ? (const char *const *) argv + 1 : fallback;
        size_t n = argc > 1 ? (size_t) argc - 1 : ELEMENTSOF(fallback);

        for (size_t i = 0; i < n; i++) {
                int r = run_path(paths[i]);

                if (r < 0) {
                        printf("not ok %u - %s: %s\n", ++n_inputs, paths[i], strerror(-r));
                        printf("1..%u\n", n_inputs);
                        return EXIT_FAILURE;
                }
        }

        printf("1..%u\n", n_inputs);
        if (n_inputs == 0) {
                printf("# no inputs\n");
                return EXIT_FAILURE;
        }
        return EXIT_SUCCESS;
}
