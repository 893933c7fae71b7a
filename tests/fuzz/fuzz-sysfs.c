/* libFuzzer target for what hostdevd reads from a PCI device's sysfs
 * directory beyond libpci (pci_device_read_sysfs() in host/pci-device.c)
 * and the number parsers under it (basic/parse-util.h). Each attribute's
 * bytes come from the input (huge, without a newline, binary, with NULs),
 * each link's target too; they are written into a directory of their own
 * (made once) and read as the kernel's. What is read must be what the
 * attributes say, as the first line of a page (4096 bytes) up to a NUL, the
 * numbers only when they are numbers, bounded (VF counts by the 16-bit
 * TotalVFs field). The number parsers accept exactly a number ("the whole
 * string must be a number in range": an optional sign, digits, trailing
 * newlines) and give back what printf() writes.
 *
 * Input: a byte (its low bit: a VGA device, whose boot_vga is read), then
 * parts separated by "\n====\n", in order: driver_override, sriov_totalvfs,
 * sriov_numvfs, current_link_speed, max_link_speed, current_link_width,
 * max_link_width, reset_method, boot_vga, local_cpulist, and the targets of
 * the links driver, iommu_group, physfn, the device's own link in
 * bus/pci/devices, and virtfn0... (one a line). A missing part, or "-", is
 * an absent file. */

#include <ctype.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "basic/macro.h"
#include "basic/parse-util.h"
#include "basic/strv.h"
#include "fuzz.h"
#include "host/pci-device.h"

#define SEP "\n====\n"
#define NAME "0000:01:00.0"

static const char *const attrs[] = {
        "driver_override", "sriov_totalvfs", "sriov_numvfs", "current_link_speed", "max_link_speed",
        "current_link_width", "max_link_width", "reset_method", "boot_vga", "local_cpulist",
};
enum { LINK_DRIVER = ELEMENTSOF(attrs), LINK_GROUP, LINK_PHYSFN, LINK_SELF, LINK_VFS, N_PARTS };
#define MAX_VFS 4

static char *top;
static int bus_fd = -EBADF, dev_fd = -EBADF;

static void remove_dirs(void) {
        _cleanup_free_ char *bus = NULL, *dev = NULL;

        for (size_t i = 0; i < ELEMENTSOF(attrs); i++)
                (void) unlinkat(dev_fd, attrs[i], 0);
        (void) unlinkat(dev_fd, "driver", 0);
        (void) unlinkat(dev_fd, "iommu_group", 0);
        (void) unlinkat(dev_fd, "physfn", 0);
        for (int i = 0; i < MAX_VFS; i++) {
                char l[16];

                snprintf(l, sizeof l, "virtfn%d", i);
                (void) unlinkat(dev_fd, l, 0);
        }
        (void) unlinkat(bus_fd, NAME, 0);
        if (asprintf(&bus, "%s/bus", top) >= 0)
                (void) rmdir(bus);
        if (asprintf(&dev, "%s/dev", top) >= 0)
                (void) rmdir(dev);
        (void) rmdir(top);
        close(bus_fd);
        close(dev_fd);
        free(top);
}

/* <tmp>/bus (as sys/bus/pci/devices) and <tmp>/dev (the device's own directory). */
static void make_dirs(void) {
        const char *tmp = getenv("TMPDIR");
        _cleanup_free_ char *bus = NULL, *dev = NULL;

        if (top)
                return;
        FUZZ_OOM(asprintf(&top, "%s/hostdevd-fuzz-sysfs.XXXXXX", tmp && *tmp ? tmp : "/tmp") >= 0);
        FUZZ_ASSERT(mkdtemp(top));
        FUZZ_OOM(asprintf(&bus, "%s/bus", top) >= 0 && asprintf(&dev, "%s/dev", top) >= 0);
        FUZZ_ASSERT(mkdir(bus, 0755) == 0 && mkdir(dev, 0755) == 0);
        bus_fd = open(bus, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        dev_fd = open(dev, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        FUZZ_ASSERT(bus_fd >= 0 && dev_fd >= 0);
        atexit(remove_dirs);
}

static bool absent(const FuzzPart *p) {
        return !p->p || (p->size == 1 && p->p[0] == '-');
}

static void put_file(const char *name, const FuzzPart *p) {
        _cleanup_close_ int fd = -EBADF;

        (void) unlinkat(dev_fd, name, 0);
        if (absent(p))
                return;
        fd = openat(dev_fd, name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        FUZZ_ASSERT(fd >= 0);
        FUZZ_ASSERT(write(fd, p->p, p->size) == (ssize_t) p->size);
}

/* A link to target (a C string: the part up to a NUL); false when there is none. */
static bool put_link(int dir_fd, const char *name, const char *target, size_t size) {
        _cleanup_free_ char *t = fuzz_memdup(target, size);

        (void) unlinkat(dir_fd, name, 0);
        return target && *t && strlen(t) < PATH_MAX && symlinkat(t, dir_fd, name) == 0;
}

/* What read_one_line_at() promises: the first line of the first page, up to a NUL. */
static char *first_line(const FuzzPart *p) {
        size_t n = p->size < 4096 ? p->size : 4096;
        _cleanup_free_ char *s = fuzz_memdup(p->p, n);

        s[strcspn(s, "\n")] = 0;
        return fuzz_memdup(s, strlen(s));
}

/* ---- The number parsers ---- */

/* An optional sign (only '+' when !sign), then digits of base, then only newlines. */
static bool number_shape(const char *s, int base, bool sign) {
        const char *d = s;
        size_t n;

        if (*d == '+' || (sign && *d == '-'))
                d++;
        if (base == 16 && d[0] == '0' && (d[1] == 'x' || d[1] == 'X') && isxdigit((unsigned char) d[2]))
                d += 2;
        n = base == 16 ? strspn(d, "0123456789abcdefABCDEF") : strspn(d, "0123456789");
        return n > 0 && strspn(d + n, "\n") == strlen(d + n);
}

static void check_numbers(const char *s) {
        int i, r;
        uint64_t u;
        uint32_t x;
        char buf[32];

        r = safe_atoi(s, &i);
        FUZZ_ASSERT(r == 0 || r == -EINVAL || r == -ERANGE);
        FUZZ_ASSERT((r == -EINVAL) == !number_shape(s, 10, true));
        if (r == 0) {
                FUZZ_ASSERT(i == strtol(s, NULL, 10));
                snprintf(buf, sizeof buf, "%d", i);
                FUZZ_ASSERT(safe_atoi(buf, &r) == 0 && r == i);
        }

        r = safe_atou64(s, 10, &u);
        FUZZ_ASSERT(r == 0 || r == -EINVAL || r == -ERANGE);
        FUZZ_ASSERT((r == -EINVAL) == !number_shape(s, 10, false));
        if (r == 0) {
                uint64_t v;

                snprintf(buf, sizeof buf, "%" PRIu64, u);
                FUZZ_ASSERT(safe_atou64(buf, 10, &v) == 0 && v == u);
        }

        r = safe_atou64(s, 16, &u);
        FUZZ_ASSERT(r == 0 || r == -EINVAL || r == -ERANGE);
        FUZZ_ASSERT((r == -EINVAL) == !number_shape(s, 16, false));

        r = parse_hex_u32(s, &x);
        FUZZ_ASSERT(r == 0 || r == -EINVAL || r == -ERANGE);
        FUZZ_ASSERT((r == -EINVAL) == !number_shape(s, 16, false));
        if (r == 0) {
                uint32_t y;

                snprintf(buf, sizeof buf, "0x%" PRIx32 "\n", x);
                FUZZ_ASSERT(parse_hex_u32(buf, &y) == 0 && y == x);
        }
}

/* ---- The device ---- */

static const char *basename_of(const char *t) {
        const char *slash = strrchr(t, '/');

        return slash ? slash + 1 : t;
}

static void check_device(const PciDevice *d, const FuzzPart *parts, bool links[N_PARTS], size_t n_vfs, bool vga) {
        _cleanup_free_ char *override = NULL, *total = NULL, *numvfs = NULL, *speed = NULL, *resets = NULL,
                            *cpus = NULL;
        int n;

        if (links[LINK_DRIVER]) {
                _cleanup_free_ char *t = fuzz_memdup(parts[LINK_DRIVER].p, parts[LINK_DRIVER].size);
                FUZZ_ASSERT(d->driver && streq(d->driver, basename_of(t)));
        } else
                FUZZ_ASSERT(!d->driver);

        override = absent(parts + 0) ? NULL : first_line(parts + 0);
        if (!override || !*override || streq(override, "(null)"))
                FUZZ_ASSERT(!d->driver_override);
        else
                FUZZ_ASSERT(d->driver_override && streq(d->driver_override, override));

        if (links[LINK_GROUP]) {
                _cleanup_free_ char *t = fuzz_memdup(parts[LINK_GROUP].p, parts[LINK_GROUP].size);
                int g;

                if (safe_atoi(basename_of(t), &g) == 0 && g >= 0)
                        FUZZ_ASSERT(d->iommu_group == g);
                else
                        FUZZ_ASSERT(d->iommu_group == -ENOENT);
        } else
                FUZZ_ASSERT(d->iommu_group == -ENOENT);

        FUZZ_ASSERT(!d->parent || pci_addr_is_valid(d->parent));
        total = absent(parts + 1) ? NULL : first_line(parts + 1);
        FUZZ_ASSERT(d->is_pf == (total && safe_atoi(total, &n) == 0));
        if (d->is_pf) {
                int want_total = n < 0 || n > 65535 ? 65535 : n, nv; /* TotalVFs is 16 bits */

                numvfs = absent(parts + 2) ? NULL : first_line(parts + 2);
                FUZZ_ASSERT(d->total_vfs == want_total);
                if (numvfs && safe_atoi(numvfs, &nv) == 0 && nv >= 0)
                        FUZZ_ASSERT(d->enabled_vfs == (nv < want_total ? nv : want_total));
                else
                        FUZZ_ASSERT(d->enabled_vfs == 0);
                FUZZ_ASSERT(strv_length(d->vfs) <= (size_t) d->enabled_vfs && strv_length(d->vfs) <= n_vfs);
        } else
                FUZZ_ASSERT(!d->vfs);

        speed = absent(parts + 3) ? NULL : first_line(parts + 3);
        FUZZ_ASSERT(d->has_link == !!speed);
        if (speed)
                FUZZ_ASSERT(streq(d->link.current_speed, speed));
        FUZZ_ASSERT(!d->has_link || (d->link.current_width >= -1 && d->link.max_width >= -1));

        resets = absent(parts + 7) ? NULL : first_line(parts + 7);
        FUZZ_ASSERT(d->has_reset_method == !!resets);
        STRV_FOREACH(m, d->reset_methods)
                FUZZ_ASSERT(**m && !strchr(*m, ' '));
        cpus = absent(parts + 9) ? NULL : first_line(parts + 9);
        FUZZ_ASSERT(streq_ptr(d->local_cpulist, cpus));
        if (!vga)
                FUZZ_ASSERT(d->boot_vga == -1);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        FuzzPart parts[N_PARTS] = {}, vfs[MAX_VFS];
        bool links[N_PARTS] = {}, vga;
        PciDevice d = {}, copy;
        size_t n_vfs = 0;
        int r;

        if (size > 64 * 1024)
                return 0;
        make_dirs();
        vga = fuzz_take_byte(&data, &size) & 1;
        fuzz_split((const char *) data, size, SEP, parts, N_PARTS);

        for (size_t i = 0; i < ELEMENTSOF(attrs); i++) {
                put_file(attrs[i], parts + i);
                if (!absent(parts + i)) {
                        _cleanup_free_ char *s = fuzz_memdup(parts[i].p, parts[i].size);
                        check_numbers(s);
                }
        }
        links[LINK_DRIVER] = put_link(dev_fd, "driver", parts[LINK_DRIVER].p, parts[LINK_DRIVER].size);
        links[LINK_GROUP] = put_link(dev_fd, "iommu_group", parts[LINK_GROUP].p, parts[LINK_GROUP].size);
        links[LINK_PHYSFN] = put_link(dev_fd, "physfn", parts[LINK_PHYSFN].p, parts[LINK_PHYSFN].size);
        links[LINK_SELF] = put_link(bus_fd, NAME, parts[LINK_SELF].p, parts[LINK_SELF].size);
        if (parts[LINK_VFS].p)
                n_vfs = fuzz_split(parts[LINK_VFS].p, parts[LINK_VFS].size, "\n", vfs, MAX_VFS);
        for (size_t i = 0; i < MAX_VFS; i++) {
                char name[16];

                snprintf(name, sizeof name, "virtfn%zu", i);
                if (!put_link(dev_fd, name, i < n_vfs ? vfs[i].p : NULL, i < n_vfs ? vfs[i].size : 0) && i < n_vfs)
                        n_vfs = i;
        }

        FUZZ_ASSERT(pci_addr_parse(NAME, &d.addr) == 0);
        snprintf(d.name, sizeof d.name, NAME);
        d.class_code = vga ? 0x030000 : 0x020000;
        r = pci_device_read_sysfs(&d, bus_fd, dev_fd);
        FUZZ_ASSERT(r != -ENOMEM);
        if (r >= 0) {
                check_device(&d, parts, links, n_vfs, vga);
                FUZZ_ASSERT(pci_device_copy(&d, &copy) == 0);
                pci_device_done(&copy);
        }
        pci_device_done(&d);
        return 0;
}
