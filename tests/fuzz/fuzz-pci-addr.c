/* libFuzzer target for PCI addresses (host/pci-addr.h): the strict parser
 * accepts exactly the kernel's spelling "dddd:bb:ss.f" (checked against a
 * grammar written out here), formats back to the same text in lower case,
 * and compares consistently; the sysfs path helper built on it finds the
 * last component that is an address. */

#include <ctype.h>

#include "basic/macro.h"
#include "fuzz.h"
#include "host/pci-addr.h"
#include "host/pci-device.h"

static bool hex_run(const char *s, size_t n) {
        for (size_t i = 0; i < n; i++)
                if (!isxdigit((unsigned char) s[i]))
                        return false;
        return true;
}

/* The grammar of pci-addr.h, independently: 4 to 8 hex digits (more than
 * 4 not starting with 0), ':', 2, ':', 2 (at most 1f), '.', 0-7, end. */
static bool grammar_ok(const char *s) {
        size_t l = strlen(s), d = strcspn(s, ":");

        if (d < 4 || d > 8 || l != d + 8 || !hex_run(s, d) || (d > 4 && s[0] == '0'))
                return false;
        s += d;
        if (s[0] != ':' || !hex_run(s + 1, 2) || s[3] != ':' || !hex_run(s + 4, 2) || s[6] != '.' ||
            s[7] < '0' || s[7] > '7')
                return false;
        return s[4] == '0' || s[4] == '1';
}

static void check_one(const char *s) {
        PciAddr a, b;
        char buf[PCI_ADDR_STRLEN];
        int r = pci_addr_parse(s, &a);

        FUZZ_ASSERT((r == 0) == grammar_ok(s));
        FUZZ_ASSERT(pci_addr_is_valid(s) == (r == 0));
        if (r < 0) {
                FUZZ_ASSERT(r == -EINVAL);
                return;
        }
        pci_addr_format(&a, buf);
        FUZZ_ASSERT(strlen(buf) == strlen(s));
        for (size_t i = 0; s[i]; i++)
                FUZZ_ASSERT(buf[i] == tolower((unsigned char) s[i]));
        FUZZ_ASSERT(pci_addr_parse(buf, &b) == 0 && pci_addr_compare(&a, &b) == 0);
        FUZZ_ASSERT(a.slot <= 0x1f && a.func <= 7);
}

/* The last component of path that is an address, or -ENOENT. */
static void check_ancestor(const char *path) {
        char found[PCI_ADDR_STRLEN];
        _cleanup_free_ char *last = NULL;
        int r = sysfs_path_pci_ancestor(path, found);

        for (const char *p = path; *p;) {
                size_t l;

                p += strspn(p, "/");
                l = strcspn(p, "/");
                if (l > 0) {
                        _cleanup_free_ char *c = fuzz_memdup(p, l);

                        if (pci_addr_is_valid(c)) {
                                free(last);
                                last = TAKE_PTR(c);
                        }
                }
                p += l;
        }
        FUZZ_ASSERT((r == 0) == (last != NULL));
        if (r == 0)
                FUZZ_ASSERT(streq(found, last));
        else
                FUZZ_ASSERT(r == -ENOENT);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        _cleanup_free_ char *s = fuzz_memdup(data, size);
        const char *nl = strchr(s, '\n');
        PciAddr a, b;

        check_one(s);
        check_ancestor(s);
        if (nl) { /* two addresses: compare them both ways */
                _cleanup_free_ char *first = fuzz_memdup(s, (size_t) (nl - s));

                check_one(first);
                check_one(nl + 1);
                if (pci_addr_parse(first, &a) == 0 && pci_addr_parse(nl + 1, &b) == 0) {
                        char fa[PCI_ADDR_STRLEN], fb[PCI_ADDR_STRLEN];
                        int c = pci_addr_compare(&a, &b);

                        FUZZ_ASSERT(c == -pci_addr_compare(&b, &a));
                        pci_addr_format(&a, fa);
                        pci_addr_format(&b, fb);
                        FUZZ_ASSERT((c == 0) == streq(fa, fb));
                }
        }
        return 0;
}
