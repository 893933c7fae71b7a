/* libpci glue, see pci-access.h. libpci's error handler is declared not to
 * return (its default calls exit()), and libpci's callers rely on that: a
 * daemon must not exit because a device file vanished mid-scan, so the
 * handler jumps back to the scan's entry point instead. Single-threaded. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <pci/pci.h>

#include "basic/log.h"
#include "basic/macro.h"
#include "pci-access.h"

/* Names are interned: one copy of each for the process's life, however
 * many functions carry it, and every lookup made is remembered. libpci's
 * database (pci.ids parsed: about 2 MiB) is loaded for an id not seen
 * before and dropped again once the scan is done (pci_names_trim()): on a
 * host of 4,096 functions of a few dozen kinds the names cost kilobytes,
 * and a hot-plugged device of a new kind costs one reload of pci.ids. */
typedef struct NameKey {
        int flags;
        int ids[4];
} NameKey;

typedef struct Lookup {
        struct Lookup *next;
        NameKey key;
        const char *name; /* interned, NULL: pci.ids does not know it */
} Lookup;

typedef struct Interned {
        struct Interned *next;
        char s[];
} Interned;

#define NAME_BUCKETS 1024

struct PciNames {
        struct pci_access *acc; /* NULL while the database is not loaded */
        char *ids_file;         /* NULL: libpci's default */
        Lookup *lookups[NAME_BUCKETS];
        Interned *strings[NAME_BUCKETS];
};

static unsigned hash_bytes(const void *p, size_t n) {
        const unsigned char *b = p;
        unsigned h = 2166136261u;

        for (size_t i = 0; i < n; i++)
                h = (h ^ b[i]) * 16777619u;
        return h % NAME_BUCKETS;
}

static const char *intern(PciNames *n, const char *s) {
        size_t l = strlen(s);
        unsigned h = hash_bytes(s, l);
        Interned *i;

        for (i = n->strings[h]; i; i = i->next)
                if (streq(i->s, s))
                        return i->s;
        i = malloc(sizeof(Interned) + l + 1);
        if (!i)
                return NULL;
        memcpy(i->s, s, l + 1);
        i->next = n->strings[h];
        n->strings[h] = i;
        return i->s;
}

static jmp_buf *scan_jump;
static char scan_error[512]; /* libpci's last message, not a path */

static void _printf_(1, 2) __attribute__((noreturn)) on_error(char *msg, ...) {
        va_list ap;

        va_start(ap, msg);
        vsnprintf(scan_error, sizeof scan_error, msg, ap);
        va_end(ap);
        if (scan_jump)
                longjmp(*scan_jump, 1);
        /* Not inside a guarded call: libpci has no way to recover. */
        log_error("libpci: %s", scan_error);
        abort();
}

static void _printf_(1, 2) on_warning(char *msg, ...) {
        char buf[512];
        va_list ap;

        va_start(ap, msg);
        vsnprintf(buf, sizeof buf, msg, ap);
        va_end(ap);
        log_debug("libpci: %s", buf);
}

static void _printf_(1, 2) on_debug(char *msg, ...) {
}

static struct pci_access *access_new(void) {
        struct pci_access *acc = pci_alloc();

        if (!acc)
                return NULL;
        acc->error = on_error;
        acc->warning = on_warning;
        acc->debug = on_debug;
        acc->id_lookup_mode = 0; /* no network, no ~/.pciids-cache */
        return acc;
}

int pci_names_new(const char *ids_file, PciNames **ret) {
        _cleanup_free_ PciNames *n = calloc(1, sizeof(PciNames));

        if (!n)
                return -ENOMEM;
        if (ids_file && !(n->ids_file = strdup(ids_file)))
                return -ENOMEM;
        *ret = TAKE_PTR(n);
        return 0;
}

void pci_names_trim(PciNames *n) {
        if (n && n->acc) {
                pci_cleanup(n->acc);
                n->acc = NULL;
        }
}

PciNames *pci_names_free(PciNames *n) {
        if (!n)
                return NULL;
        pci_names_trim(n);
        for (size_t b = 0; b < NAME_BUCKETS; b++) {
                for (Lookup *l = n->lookups[b], *next; l; l = next) {
                        next = l->next;
                        free(l);
                }
                for (Interned *i = n->strings[b], *next; i; i = next) {
                        next = i->next;
                        free(i);
                }
        }
        free(n->ids_file);
        free(n);
        return NULL;
}

static int load_database(PciNames *n) {
        n->acc = access_new();
        if (!n->acc)
                return -ENOMEM;
        if (n->ids_file) {
                char *copy = strdup(n->ids_file);
                if (!copy) {
                        pci_names_trim(n);
                        return -ENOMEM;
                }
                pci_set_name_list_path(n->acc, copy, 1);
        }
        return 0;
}

/* libpci's answer for key, into buf; NULL when unknown, -ENOENT as *error
 * when the database cannot be read. */
static const char *lookup_libpci(PciNames *n, const NameKey *k, char *buf, size_t size, int *error) {
        const int *id = k->ids;
        jmp_buf jb;
        const char *s;

        /* A missing pci.ids is reported through the error handler. */
        scan_jump = &jb;
        if (setjmp(jb)) {
                scan_jump = NULL;
                *error = -ENOENT;
                return NULL;
        }
        switch (k->flags & (PCI_LOOKUP_VENDOR | PCI_LOOKUP_DEVICE | PCI_LOOKUP_CLASS | PCI_LOOKUP_SUBSYSTEM)) {
        case PCI_LOOKUP_VENDOR:
        case PCI_LOOKUP_CLASS:
                s = pci_lookup_name(n->acc, buf, (int) size, k->flags, id[0]);
                break;
        case PCI_LOOKUP_DEVICE:
                s = pci_lookup_name(n->acc, buf, (int) size, k->flags, id[0], id[1]);
                break;
        default:
                s = pci_lookup_name(n->acc, buf, (int) size, k->flags, id[0], id[1], id[2], id[3]);
                break;
        }
        scan_jump = NULL;
        return s;
}

/* The interned name for key (NULL: unknown); -ENOMEM, or -ENOENT when
 * pci.ids cannot be read (not remembered: it may appear later). */
static int lookup(PciNames *n, const char **ret, int flags, int a, int b, int c, int d) {
        NameKey key = { flags, { a, b, c, d } };
        unsigned h = hash_bytes(&key, sizeof key);
        char buf[1024]; /* a name from pci.ids */
        const char *s;
        int error = 0;
        Lookup *l;

        for (l = n->lookups[h]; l; l = l->next)
                if (memcmp(&l->key, &key, sizeof key) == 0) {
                        *ret = l->name;
                        return 0;
                }
        if (!n->acc && load_database(n) < 0)
                return -ENOMEM;
        s = lookup_libpci(n, &key, buf, sizeof buf, &error);
        if (error < 0) {
                *ret = NULL;
                return error;
        }
        l = malloc(sizeof(Lookup));
        if (!l || (s && !(s = intern(n, s)))) {
                free(l);
                return -ENOMEM;
        }
        *l = (Lookup) { .next = n->lookups[h], .key = key, .name = s };
        n->lookups[h] = l;
        *ret = s;
        return 0;
}

int pci_names_fill(PciNames *n, PciDevice *d) {
        const int base = PCI_LOOKUP_NO_NUMBERS | PCI_LOOKUP_NO_HWDB;
        int r;

        r = lookup(n, &d->vendor_name, base | PCI_LOOKUP_VENDOR, d->vendor_id, 0, 0, 0);
        if (r == -ENOMEM)
                return r;
        r = lookup(n, &d->device_name, base | PCI_LOOKUP_DEVICE, d->vendor_id, d->device_id, 0, 0);
        if (r == -ENOMEM)
                return r;
        r = lookup(n, &d->class_name, base | PCI_LOOKUP_CLASS, (int) (d->class_code >> 8), 0, 0, 0);
        if (r == -ENOMEM)
                return r;
        if (d->has_subsys) {
                r = lookup(n, &d->subsys_name, base | PCI_LOOKUP_SUBSYSTEM | PCI_LOOKUP_DEVICE, d->vendor_id,
                           d->device_id, d->subsys_vendor_id, d->subsys_device_id);
                if (r == -ENOMEM)
                        return r;
        }
        return 0;
}

static int cmp_device(const void *a, const void *b) {
        return pci_addr_compare(&((const PciDevice *) a)->addr, &((const PciDevice *) b)->addr);
}

static int copy_device(struct pci_dev *p, PciDevice *d) {
        /* Not PCI_FILL_PARENT: libpci 3.9 leaks the realpath() buffer it
         * resolves the parent with (LeakSanitizer). Not PCI_FILL_IOMMU_GROUP
         * nor PCI_FILL_DRIVER: libpci resolves each of those links with
         * realpath(), a readlink() per path component (about 30 system
         * calls a function, a third of a cold scan), where one readlinkat()
         * of the link says the same. pci_device_read_sysfs() reads all three
         * from the device's sysfs directory. */
        const int want = PCI_FILL_IDENT | PCI_FILL_CLASS | PCI_FILL_CLASS_EXT | PCI_FILL_SUBSYS | PCI_FILL_NUMA_NODE;
        int known = pci_fill_info(p, want);

        *d = (PciDevice) { .iommu_group = -ENOENT, .numa_node = -1, .boot_vga = -1 };
        d->addr = (PciAddr) { .domain = (uint32_t) p->domain, .bus = p->bus, .slot = p->dev, .func = p->func };
        pci_addr_format(&d->addr, d->name);

        if (!(known & PCI_FILL_IDENT) || !(known & PCI_FILL_CLASS))
                return -ENODATA; /* a function we cannot identify is not reported */
        d->vendor_id = p->vendor_id;
        d->device_id = p->device_id;
        d->class_code = (uint32_t) p->device_class << 8;
        if (known & PCI_FILL_CLASS_EXT) {
                d->class_code |= p->prog_if;
                d->revision = p->rev_id;
        }
        if (known & PCI_FILL_SUBSYS) {
                d->has_subsys = p->subsys_vendor_id != 0xffff && p->subsys_vendor_id != 0;
                d->subsys_vendor_id = p->subsys_vendor_id;
                d->subsys_device_id = p->subsys_id;
        }
        if (known & PCI_FILL_NUMA_NODE)
                d->numa_node = p->numa_node;
        d->is_bridge = pci_class_is_bridge(d->class_code);

        return 0;
}

/* Devices collected so far; kept outside the scan loop so that a jump out
 * of libpci can free them. */
typedef struct ScanState {
        PciDevice *devices;
        size_t n, allocated;
        struct pci_dev *pending; /* read alone, not on libpci's list */
} ScanState;

static void scan_state_done(ScanState *st) {
        if (st->pending)
                pci_free_dev(st->pending);
        for (size_t i = 0; i < st->n; i++)
                pci_device_done(&st->devices[i]);
        free(st->devices);
        *st = (ScanState) {};
}

static int scan_devices(struct pci_access *acc, ScanState *st) {
        for (struct pci_dev *p = acc->devices; p; p = p->next) {
                int r;

                if (st->n == st->allocated) {
                        size_t a = st->allocated ? st->allocated * 2 : 64;
                        PciDevice *m = realloc(st->devices, sizeof(PciDevice) * a);
                        if (!m)
                                return -ENOMEM;
                        st->devices = m;
                        st->allocated = a;
                }
                r = copy_device(p, &st->devices[st->n]);
                if (r == -ENODATA) {
                        log_debug("Skipping %s: libpci cannot identify it.", st->devices[st->n].name);
                        pci_device_done(&st->devices[st->n]);
                        continue;
                }
                st->n++;
                if (r < 0)
                        return r;
        }
        qsort_safe(st->devices, st->n, sizeof(PciDevice), cmp_device);
        return 0;
}

/* A pci_access on the sysfs tree under the root, or NULL with *ret_absent
 * set when there is no PCI bus at all (a container, an empty root). */
static struct pci_access *access_for_root(const HostRoot *root, bool *ret_absent) {
        _cleanup_free_ char *path = hostroot_path(root, AREA_SYS, "bus/pci");
        struct pci_access *acc;

        *ret_absent = false;
        if (!path)
                return NULL;
        if (access(path, F_OK) < 0 && errno == ENOENT) {
                *ret_absent = true;
                return NULL;
        }
        acc = access_new();
        if (!acc)
                return NULL;
        acc->method = PCI_ACCESS_SYS_BUS_PCI;
        pci_set_param(acc, "sysfs.path", path);
        return acc;
}

/* The functions named, each read alone (pci_get_dev(), no bus scan); one
 * whose directory is gone is skipped. */
static int read_named(struct pci_access *acc, const HostRoot *root, char *const *addrs, ScanState *st) {
        _cleanup_free_ char *dir = hostroot_path(root, AREA_SYS, "bus/pci/devices");

        if (!dir)
                return -ENOMEM;
        for (char *const *a = addrs; a && *a; a++) {
                _cleanup_free_ char *path = NULL;
                PciAddr addr;
                int r;

                if (pci_addr_parse(*a, &addr) < 0)
                        continue;
                if (asprintf(&path, "%s/%s", dir, *a) < 0)
                        return -ENOMEM;
                if (access(path, F_OK) < 0)
                        continue; /* removed */
                if (st->n == st->allocated) {
                        size_t n = st->allocated ? st->allocated * 2 : 16;
                        PciDevice *m = realloc(st->devices, sizeof(PciDevice) * n);
                        if (!m)
                                return -ENOMEM;
                        st->devices = m;
                        st->allocated = n;
                }
                st->pending = pci_get_dev(acc, (int) addr.domain, addr.bus, addr.slot, addr.func);
                if (!st->pending)
                        return -ENOMEM;
                r = copy_device(st->pending, &st->devices[st->n]);
                pci_free_dev(st->pending);
                st->pending = NULL;
                if (r == -ENODATA) {
                        pci_device_done(&st->devices[st->n]);
                        continue;
                }
                st->n++;
                if (r < 0)
                        return r;
        }
        qsort_safe(st->devices, st->n, sizeof(PciDevice), cmp_device);
        return 0;
}

/* Runs the scan (addrs NULL: the whole bus) with libpci's error handler
 * jumping back here. */
static int guarded_read(const HostRoot *root, char *const *addrs, bool whole_bus, PciDevice **ret, size_t *ret_n,
                        char **ret_error) {
        struct pci_access *volatile acc = NULL;
        _cleanup_free_ ScanState *st = calloc(1, sizeof(ScanState)); /* survives longjmp */
        bool absent;
        jmp_buf jb;
        int r;

        if (!st)
                return -ENOMEM;
        acc = access_for_root(root, &absent);
        if (!acc && absent) {
                *ret = NULL;
                *ret_n = 0;
                return 0;
        }
        if (!acc)
                return -ENOMEM;

        scan_jump = &jb;
        if (setjmp(jb)) {
                scan_jump = NULL;
                if (ret_error)
                        *ret_error = strdup(scan_error);
                scan_state_done(st);
                pci_cleanup(acc);
                return -EIO;
        }
        pci_init(acc);
        if (whole_bus) {
                pci_scan_bus(acc);
                r = scan_devices(acc, st);
        } else
                r = read_named(acc, root, addrs, st);
        scan_jump = NULL;
        pci_cleanup(acc);

        if (r < 0) {
                scan_state_done(st);
                return r;
        }
        *ret = st->devices;
        *ret_n = st->n;
        return 0;
}

int pci_scan(const HostRoot *root, PciDevice **ret, size_t *ret_n, char **ret_error) {
        return guarded_read(root, NULL, true, ret, ret_n, ret_error);
}

int pci_read_devices(const HostRoot *root, char *const *addrs, PciDevice **ret, size_t *ret_n, char **ret_error) {
        return guarded_read(root, addrs, false, ret, ret_n, ret_error);
}
