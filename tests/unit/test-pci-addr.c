/* PCI address parsing: the strict form is the only door from request text
 * to a device, so every malformed variant must be refused. */
#include <errno.h>

#include "host/pci-addr.h"
#include "tap.h"

static void accepts(const char *s, const char *canonical) {
        PciAddr a;
        char buf[PCI_ADDR_STRLEN];
        int r = pci_addr_parse(s, &a);

        ok(r == 0, "accepts '%s'", s);
        if (r == 0) {
                pci_addr_format(&a, buf);
                is_str(buf, canonical, "'%s' formats as '%s'", s, canonical);
        }
}

static void refuses(const char *s) {
        PciAddr a = { .domain = 0x1234 };

        is_int(pci_addr_parse(s, &a), -EINVAL, "refuses '%s'", s);
        is_int(a.domain, 0x1234, "leaves the output alone for '%s'", s);
}

int main(void) {
        PciAddr x, y;

        accepts("0000:00:00.0", "0000:00:00.0");
        accepts("0000:01:00.1", "0000:01:00.1");
        accepts("0000:ff:1f.7", "0000:ff:1f.7");
        accepts("ABCD:0A:1F.7", "abcd:0a:1f.7");
        accepts("10000:00:00.0", "10000:00:00.0"); /* VMD domain */
        accepts("1000000a:e1:1f.7", "1000000a:e1:1f.7"); /* the longest: formats whole */

        refuses("");
        refuses("0000:00:00");
        refuses("0000:00:00.8");
        refuses("0000:00:20.0");
        refuses("000:00:00.0");
        refuses("00000:00:00.0");   /* two spellings of domain 0 */
        refuses("0000:0:00.0");
        refuses("0000:000:00.0");
        refuses("0000:00:00.00");
        refuses("0000:00:00.0 ");
        refuses(" 0000:00:00.0");
        refuses("0000-00-00.0");
        refuses("../../etc");
        refuses("0000:00:00.0/../..");
        refuses("g000:00:00.0");
        refuses("123456789:00:00.0");
        is_int(pci_addr_parse(NULL, &x), -EINVAL, "refuses NULL");

        pci_addr_parse("0000:01:00.0", &x);
        pci_addr_parse("0000:01:00.1", &y);
        ok(pci_addr_compare(&x, &y) < 0 && pci_addr_compare(&y, &x) > 0 && pci_addr_compare(&x, &x) == 0,
           "compares by function");
        pci_addr_parse("0001:00:00.0", &y);
        ok(pci_addr_compare(&x, &y) < 0, "compares by domain first");
        return tap_done();
}
