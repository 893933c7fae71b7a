/* PCI addresses in the kernel's form "dddd:bb:ss.f". Request text is checked
 * against the strict form before it is ever used to find a device. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#define PCI_ADDR_STRLEN 17 /* "dddddddd:bb:ss.f" at most (16), plus NUL */

typedef struct PciAddr {
        uint32_t domain; /* 16 bits on most hosts; VMD domains go beyond */
        uint8_t bus;
        uint8_t slot;    /* 0..0x1f */
        uint8_t func;    /* 0..7 */
} PciAddr;

/* Strict parse: 4 to 8 hex digits of domain, 2 of bus, 2 of slot (<= 1f),
 * one function digit 0-7; upper or lower case; nothing else. -EINVAL otherwise. */
int pci_addr_parse(const char *s, PciAddr *ret);

/* Formats as the kernel names devices in sysfs ("%04x:%02x:%02x.%x"). */
void pci_addr_format(const PciAddr *a, char buf[static PCI_ADDR_STRLEN]);

int pci_addr_compare(const PciAddr *a, const PciAddr *b);

/* Whether s looks like a PCI address as a sysfs path component (lenient
 * about nothing: it is the same strict form). */
static inline bool pci_addr_is_valid(const char *s) {
        PciAddr a;
        return pci_addr_parse(s, &a) >= 0;
}
