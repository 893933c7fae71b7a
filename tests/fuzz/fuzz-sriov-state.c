/* libFuzzer target for the persistent VF counts (host/sriov-state.h): the
 * file parses exactly when every line is blank, a comment, or
 * "ADDRESS NUMVFS AUTOPROBE VENDOR:DEVICE" as the header documents it (a
 * strict PCI address, decimal digits up to 65535, 0, 1 or -, four hex
 * digits each side; blanks between, a CRLF ending allowed); the table it gives formats to text that parses to the same table,
 * and formatting is then stable. */

#include <ctype.h>

#include "basic/macro.h"
#include "basic/strv.h"
#include "fuzz.h"
#include "host/sriov-state.h"

static bool hex4(const char *s) {
        for (size_t i = 0; i < 4; i++)
                if (!isxdigit((unsigned char) s[i]))
                        return false;
        return true;
}

static bool line_ok(const char *line) {
        _cleanup_strv_free_ char **w = NULL;
        const char *s = line + strspn(line, " \t");
        size_t d;

        if (!*s || *s == '#')
                return true;
        _cleanup_free_ char *copy = fuzz_memdup(s, strlen(s));
        size_t l = strlen(copy);

        while (l > 0 && copy[l - 1] == '\r') /* CRLF */
                copy[--l] = 0;
        FUZZ_OOM(strv_split(copy, " \t", &w) >= 0);
        if (strv_length(w) != 4 || !pci_addr_is_valid(w[0]))
                return false;
        d = strspn(w[1], "0123456789");
        if (d == 0 || d != strlen(w[1]) || strtoul(w[1], NULL, 10) > 65535)
                return false;
        if (!streq(w[2], "0") && !streq(w[2], "1") && !streq(w[2], "-"))
                return false;
        return strlen(w[3]) == 9 && hex4(w[3]) && w[3][4] == ':' && hex4(w[3] + 5);
}

static void format_parse(const SriovTable *t, char **ret_text, SriovTable *ret) {
        _cleanup_fclose_ FILE *f = NULL;
        size_t size;

        FUZZ_ASSERT(sriov_table_format(t, ret_text, &size) == 0);
        f = fuzz_fmemopen(*ret_text, size);
        FUZZ_ASSERT(sriov_table_load_file(f, ret) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        _cleanup_fclose_ FILE *f = NULL;
        _cleanup_free_ char *text = NULL, *t1 = NULL, *t2 = NULL;
        SriovTable t = {}, u = {}, v = {};
        bool all_ok = true;
        int r;

        if (size > 64 * 1024)
                return 0;
        f = fuzz_fmemopen(data, size);
        r = sriov_table_load_file(f, &t);
        text = fuzz_memdup(data, size);
        for (char *line = text, *end = text + size; line < end;) {
                char *nl = memchr(line, '\n', (size_t) (end - line));

                if (nl)
                        *nl = 0;
                all_ok = all_ok && line_ok(line);
                line = nl ? nl + 1 : end;
        }
        FUZZ_ASSERT((r == 0) == all_ok);
        if (r < 0) {
                FUZZ_ASSERT(r == -EBADMSG);
                return 0;
        }
        for (size_t i = 0; i < t.n; i++) {
                FUZZ_ASSERT(pci_addr_is_valid(t.items[i].address) && t.items[i].numvfs <= 65535);
                FUZZ_ASSERT(t.items[i].drivers_autoprobe >= -1 && t.items[i].drivers_autoprobe <= 1);
                for (size_t j = 0; j < i; j++)
                        FUZZ_ASSERT(!streq(t.items[i].address, t.items[j].address));
        }
        format_parse(&t, &t1, &u);
        FUZZ_ASSERT(u.n == t.n);
        for (size_t i = 0; i < t.n; i++) {
                const SriovRecord *a = t.items + i, *b = u.items + i;

                FUZZ_ASSERT(streq(a->address, b->address) && a->numvfs == b->numvfs &&
                            a->drivers_autoprobe == b->drivers_autoprobe && a->vendor_id == b->vendor_id &&
                            a->device_id == b->device_id);
        }
        format_parse(&u, &t2, &v);
        FUZZ_ASSERT(streq(t1, t2));
        sriov_table_done(&t);
        sriov_table_done(&u);
        sriov_table_done(&v);
        return 0;
}
