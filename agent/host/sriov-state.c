/* The persistent VF counts: see sriov-state.h. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "basic/fileio.h"
#include "basic/macro.h"
#include "basic/parse-util.h"
#include "basic/strv.h"
#include "sriov-state.h"

/* Four hex digits, exactly. */
static int parse_hex4(const char *s, uint16_t *ret) {
        uint32_t v;

        if (strlen(s) != 4 || strspn(s, "0123456789abcdefABCDEF") != 4 || parse_hex_u32(s, &v) < 0)
                return -EBADMSG;
        *ret = (uint16_t) v;
        return 0;
}

/* "ADDRESS NUMVFS AUTOPROBE VENDOR:DEVICE", blanks between, as the header
 * says and nothing looser (the file is hostdevd's own). */
static int parse_line(char *line, unsigned n, void *userdata) {
        SriovTable *t = userdata;
        _cleanup_strv_free_ char **w = NULL;
        SriovRecord rec = {};
        uint64_t numvfs;
        PciAddr a;
        size_t l;
        int r;

        line += strspn(line, " \t");
        if (!*line || *line == '#')
                return 0;
        l = strlen(line);
        while (l > 0 && line[l - 1] == '\r') /* a CRLF line */
                line[--l] = 0;
        r = strv_split(line, " \t", &w);
        if (r < 0)
                return r;
        if (strv_length(w) != 4 || pci_addr_parse(w[0], &a) < 0)
                return -EBADMSG;
        if (strspn(w[1], "0123456789") != strlen(w[1]) || safe_atou64(w[1], 10, &numvfs) < 0 || numvfs > 65535)
                return -EBADMSG;
        if (!streq(w[2], "0") && !streq(w[2], "1") && !streq(w[2], "-"))
                return -EBADMSG;
        if (strlen(w[3]) != 9 || w[3][4] != ':')
                return -EBADMSG;
        w[3][4] = 0;
        if (parse_hex4(w[3], &rec.vendor_id) < 0 || parse_hex4(w[3] + 5, &rec.device_id) < 0)
                return -EBADMSG;
        pci_addr_format(&a, rec.address);
        rec.numvfs = (unsigned) numvfs;
        rec.drivers_autoprobe = streq(w[2], "-") ? -1 : w[2][0] - '0';
        return sriov_table_put(t, &rec);
}

int sriov_table_load(const char *state_dir, SriovTable *ret) {
        _cleanup_free_ char *path = NULL;
        _cleanup_fclose_ FILE *f = NULL;

        if (asprintf(&path, "%s/%s", state_dir, SRIOV_FILE) < 0)
                return -ENOMEM;
        f = fopen(path, "re");
        if (!f && errno != ENOENT)
                return -errno;
        if (!f) {
                *ret = (SriovTable) {};
                return 0;
        }
        return sriov_table_load_file(f, ret);
}

int sriov_table_load_file(FILE *f, SriovTable *ret) {
        SriovTable t = {};
        int r;

        r = read_lines_file(f, parse_line, &t);
        if (r < 0) {
                sriov_table_done(&t);
                return r;
        }
        *ret = t;
        return 0;
}

int sriov_table_format(const SriovTable *t, char **ret, size_t *ret_size) {
        _cleanup_free_ char *text = NULL;
        size_t size = 0;
        FILE *f;

        f = open_memstream(&text, &size);
        if (!f)
                return -ENOMEM;
        fputs("# hostdevd: VF counts re-applied at start (ADDRESS NUMVFS AUTOPROBE VENDOR:DEVICE)\n", f);
        for (size_t i = 0; i < t->n; i++) {
                const SriovRecord *x = &t->items[i];
                char ap[2] = { x->drivers_autoprobe < 0 ? '-' : (char) ('0' + x->drivers_autoprobe), 0 };

                fprintf(f, "%s %u %s %04x:%04x\n", x->address, x->numvfs, ap, x->vendor_id, x->device_id);
        }
        if (ferror(f) | fclose(f))
                return -ENOMEM;
        *ret = TAKE_PTR(text);
        *ret_size = size;
        return 0;
}

int sriov_table_save(const char *state_dir, const SriovTable *t) {
        _cleanup_free_ char *path = NULL, *text = NULL;
        size_t size = 0;
        int r;

        if (asprintf(&path, "%s/%s", state_dir, SRIOV_FILE) < 0)
                return -ENOMEM;
        r = sriov_table_format(t, &text, &size);
        if (r < 0)
                return r;
        r = mkdir_parents(path);
        if (r < 0)
                return r;
        return write_file_atomic(path, text, size, 0600);
}

void sriov_table_done(SriovTable *t) {
        free(t->items);
        *t = (SriovTable) {};
}

SriovRecord *sriov_table_find(const SriovTable *t, const char *address) {
        for (size_t i = 0; i < t->n; i++)
                if (streq(t->items[i].address, address))
                        return &t->items[i];
        return NULL;
}

int sriov_table_put(SriovTable *t, const SriovRecord *r) {
        SriovRecord *x = sriov_table_find(t, r->address), *n;

        if (x) {
                *x = *r;
                return 0;
        }
        n = realloc(t->items, (t->n + 1) * sizeof(SriovRecord));
        if (!n)
                return -ENOMEM;
        t->items = n;
        t->items[t->n++] = *r;
        return 0;
}

int sriov_table_remove(SriovTable *t, const char *address) {
        SriovRecord *x = sriov_table_find(t, address);

        if (!x)
                return 0;
        memmove(x, x + 1, (size_t) (t->items + t->n - (x + 1)) * sizeof(SriovRecord));
        t->n--;
        return 1;
}
