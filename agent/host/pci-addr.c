/* PCI address parsing and formatting: see pci-addr.h. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "pci-addr.h"

static int hex_digits(const char **p, size_t min, size_t max, uint32_t *ret) {
        uint32_t v = 0;
        size_t n = 0;

        while (n < max && isxdigit((unsigned char) (*p)[n])) {
                char c = (char) tolower((unsigned char) (*p)[n]);
                v = v * 16 + (uint32_t) (c <= '9' ? c - '0' : c - 'a' + 10);
                n++;
        }
        if (n < min || isxdigit((unsigned char) (*p)[n]))
                return -EINVAL;
        *p += n;
        *ret = v;
        return 0;
}

int pci_addr_parse(const char *s, PciAddr *ret) {
        uint32_t domain, bus, slot, func;
        const char *p = s;

        if (!s)
                return -EINVAL;
        if (hex_digits(&p, 4, 8, &domain) < 0 || *p++ != ':')
                return -EINVAL;
        if (hex_digits(&p, 2, 2, &bus) < 0 || *p++ != ':')
                return -EINVAL;
        if (hex_digits(&p, 2, 2, &slot) < 0 || *p++ != '.')
                return -EINVAL;
        if (*p < '0' || *p > '7' || p[1] != 0)
                return -EINVAL;
        func = (uint32_t) (*p - '0');
        if (slot > 0x1f)
                return -EINVAL;
        /* The kernel prints the domain with %04x: a longer form must not
         * start with a zero, or two spellings would name one device. */
        if (strchr(s, ':') - s > 4 && s[0] == '0')
                return -EINVAL;

        *ret = (PciAddr) { .domain = domain, .bus = (uint8_t) bus, .slot = (uint8_t) slot, .func = (uint8_t) func };
        return 0;
}

void pci_addr_format(const PciAddr *a, char buf[static PCI_ADDR_STRLEN]) {
        snprintf(buf, PCI_ADDR_STRLEN, "%04x:%02x:%02x.%x", a->domain, a->bus, a->slot, a->func);
}

int pci_addr_compare(const PciAddr *a, const PciAddr *b) {
        if (a->domain != b->domain)
                return a->domain < b->domain ? -1 : 1;
        if (a->bus != b->bus)
                return a->bus < b->bus ? -1 : 1;
        if (a->slot != b->slot)
                return a->slot < b->slot ? -1 : 1;
        if (a->func != b->func)
                return a->func < b->func ? -1 : 1;
        return 0;
}
