/* Binding records: see vfio-state.h.
 *
 * The file is lines of space-separated words, one record per "binding" line
 * followed by its "member" lines; "-" stands for "none":
 *
 *   # hostdevd vfio-pci bindings, format 1
 *   binding group=1 requested=0000:01:00.0 persistent=yes boot_id=6f1c... created=1732400000000000
 *   member 0000:01:00.0 endpoint ids=10de:1eb8 driver=nouveau override=-
 *   member 0000:01:00.1 endpoint ids=10de:10f8 driver=snd_hda_intel override=-
 *
 * A binding line of a group whose change is under way ends with
 * "pending=bind" or "pending=release" (see BindingPending). Unknown keys are
 * skipped (a newer agent may add some); a line that is not a comment, a
 * binding or a member makes the file malformed. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "basic/fileio.h"
#include "basic/macro.h"
#include "basic/parse-util.h"
#include "basic/strv.h"
#include "vfio-state.h"

#define MAX_STATE_FILE (1024 * 1024)

static char *state_file(const char *state_dir) {
        char *p;
        return asprintf(&p, "%s/%s", state_dir, BINDINGS_FILE) < 0 ? NULL : p;
}

static int parse_ids(const char *s, uint16_t *vendor, uint16_t *device) {
        char v[5], d[5];
        uint32_t x, y;

        if (strlen(s) != 9 || s[4] != ':')
                return -EBADMSG;
        memcpy(v, s, 4);
        v[4] = 0;
        memcpy(d, s + 5, 4);
        d[4] = 0;
        if (parse_hex_u32(v, &x) < 0 || parse_hex_u32(d, &y) < 0)
                return -EBADMSG;
        *vendor = (uint16_t) x;
        *device = (uint16_t) y;
        return 0;
}

static int dup_or_none(const char *v, char **ret) {
        if (streq(v, "-")) {
                *ret = NULL;
                return 0;
        }
        *ret = strdup(v);
        return *ret ? 0 : -ENOMEM;
}

static int copy_address(const char *v, char dst[static PCI_ADDR_STRLEN]) {
        PciAddr a;

        if (pci_addr_parse(v, &a) < 0)
                return -EBADMSG;
        pci_addr_format(&a, dst);
        return 0;
}

static int parse_binding(char **w, Binding *b) {
        bool have_group = false, have_requested = false;
        int r;

        *b = (Binding) {};
        for (; *w; w++) {
                char *eq = strchr(*w, '=');
                const char *v;
                uint64_t u;

                if (!eq)
                        return -EBADMSG;
                v = eq + 1;
                if (startswith(*w, "group=")) {
                        if (safe_atoi(v, &b->group) < 0 || b->group < 0)
                                return -EBADMSG;
                        have_group = true;
                } else if (startswith(*w, "requested=")) {
                        if (copy_address(v, b->requested) < 0)
                                return -EBADMSG;
                        have_requested = true;
                } else if (startswith(*w, "persistent="))
                        b->persistent = streq(v, "yes");
                else if (startswith(*w, "boot_id=")) {
                        free(b->boot_id);
                        if ((r = dup_or_none(v, &b->boot_id)) < 0)
                                return r;
                } else if (startswith(*w, "pending=")) {
                        b->pending = streq(v, "bind")      ? BINDING_PENDING_BIND
                                     : streq(v, "release") ? BINDING_PENDING_RELEASE
                                                           : BINDING_PENDING_NONE;
                } else if (startswith(*w, "created=")) {
                        if (safe_atou64(v, 10, &u) < 0)
                                return -EBADMSG;
                        b->created_usec = u;
                }
        }
        return have_group && have_requested ? 0 : -EBADMSG;
}

static int parse_member(char **w, Binding *b) {
        BindingMember *ms, *m;
        int r;

        if (strv_length(w) < 2)
                return -EBADMSG;
        ms = realloc(b->members, sizeof(BindingMember) * (b->n_members + 1));
        if (!ms)
                return -ENOMEM;
        b->members = ms;
        m = &ms[b->n_members++];
        *m = (BindingMember) {};
        if (copy_address(w[0], m->address) < 0)
                return -EBADMSG;
        if (!streq(w[1], "bridge") && !streq(w[1], "endpoint"))
                return -EBADMSG;
        m->bridge = streq(w[1], "bridge");
        for (w += 2; *w; w++) {
                const char *v;
                if ((v = startswith(*w, "ids="))) {
                        if (parse_ids(v, &m->vendor_id, &m->device_id) < 0)
                                return -EBADMSG;
                } else if ((v = startswith(*w, "driver="))) {
                        free(m->driver);
                        if ((r = dup_or_none(v, &m->driver)) < 0)
                                return r;
                } else if ((v = startswith(*w, "override="))) {
                        free(m->override);
                        if ((r = dup_or_none(v, &m->override)) < 0)
                                return r;
                }
        }
        return 0;
}

static int parse_line(char *line, unsigned number, void *userdata) {
        BindingTable *t = userdata;
        _cleanup_strv_free_ char **w = NULL;
        int r;

        r = strv_split(line, " \t", &w);
        if (r < 0)
                return r;
        if (!w || !w[0] || w[0][0] == '#')
                return 0;
        if (streq(w[0], "binding")) {
                Binding b;
                r = parse_binding(w + 1, &b);
                if (r < 0) {
                        binding_done(&b);
                        return r;
                }
                return binding_table_add(t, &b);
        }
        if (streq(w[0], "member") && t->n > 0)
                return parse_member(w + 1, &t->items[t->n - 1]);
        return -EBADMSG;
}

int binding_table_load(const char *state_dir, BindingTable *ret) {
        _cleanup_free_ char *path = state_file(state_dir);
        _cleanup_fclose_ FILE *f = NULL;

        if (!path)
                return -ENOMEM;
        f = fopen(path, "re");
        if (!f && errno != ENOENT)
                return -errno;
        if (!f) {
                *ret = (BindingTable) {};
                return 0;
        }
        return binding_table_load_file(f, ret);
}

int binding_table_load_file(FILE *f, BindingTable *ret) {
        BindingTable t = {};
        int r;

        r = read_lines_file(f, parse_line, &t);
        if (r < 0) {
                binding_table_done(&t);
                return r;
        }
        *ret = t;
        return 0;
}

static void write_binding(FILE *f, const Binding *b) {
        fprintf(f, "binding group=%d requested=%s persistent=%s boot_id=%s created=%llu%s\n", b->group,
                b->requested, b->persistent ? "yes" : "no", b->boot_id ?: "-",
                (unsigned long long) b->created_usec,
                b->pending == BINDING_PENDING_BIND      ? " pending=bind"
                : b->pending == BINDING_PENDING_RELEASE ? " pending=release"
                                                        : "");
        for (size_t k = 0; k < b->n_members; k++) {
                const BindingMember *m = &b->members[k];
                fprintf(f, "member %s %s ids=%04x:%04x driver=%s override=%s\n", m->address,
                        m->bridge ? "bridge" : "endpoint", m->vendor_id, m->device_id, m->driver ?: "-",
                        m->override ?: "-");
        }
}

int binding_table_format(const BindingTable *t, char **ret, size_t *ret_size) {
        _cleanup_free_ char *text = NULL;
        size_t size = 0;
        FILE *f;

        f = open_memstream(&text, &size);
        if (!f)
                return -ENOMEM;
        fputs("# hostdevd vfio-pci bindings, format 1. Written by hostdevd: do not edit.\n", f);
        for (size_t i = 0; i < t->n; i++)
                write_binding(f, &t->items[i]);
        if (fclose(f) != 0)
                return -ENOMEM;
        *ret = TAKE_PTR(text);
        *ret_size = size;
        return 0;
}

int binding_table_save(const char *state_dir, const BindingTable *t) {
        _cleanup_free_ char *path = state_file(state_dir), *text = NULL;
        size_t size = 0;
        int r;

        if (!path)
                return -ENOMEM;
        r = mkdir_parents(state_dir);
        if (r >= 0 && mkdir(state_dir, 0700) < 0 && errno != EEXIST)
                r = -errno;
        if (r < 0)
                return r;
        r = binding_table_format(t, &text, &size);
        if (r < 0)
                return r;
        if (size > MAX_STATE_FILE)
                return -EFBIG;
        return write_file_atomic(path, text, size, 0644);
}

void binding_done(Binding *b) {
        for (size_t i = 0; i < b->n_members; i++) {
                free(b->members[i].driver);
                free(b->members[i].override);
        }
        free(b->members);
        free(b->boot_id);
        *b = (Binding) {};
}

void binding_table_done(BindingTable *t) {
        for (size_t i = 0; i < t->n; i++)
                binding_done(&t->items[i]);
        free(t->items);
        *t = (BindingTable) {};
}

const BindingMember *binding_member(const Binding *b, const char *address) {
        for (size_t i = 0; i < b->n_members; i++)
                if (streq(b->members[i].address, address))
                        return &b->members[i];
        return NULL;
}

Binding *binding_table_find(const BindingTable *t, const char *address) {
        for (size_t i = 0; i < t->n; i++)
                if (binding_member(&t->items[i], address))
                        return &t->items[i];
        return NULL;
}

int binding_table_add(BindingTable *t, Binding *b) {
        Binding *items = realloc(t->items, sizeof(Binding) * (t->n + 1));

        if (!items)
                return -ENOMEM;
        t->items = items;
        t->items[t->n++] = *b;
        *b = (Binding) {};
        return 0;
}

void binding_table_remove(BindingTable *t, Binding *b) {
        size_t i = (size_t) (b - t->items);

        if (i >= t->n)
                return;
        binding_done(b);
        memmove(&t->items[i], &t->items[i + 1], sizeof(Binding) * (t->n - i - 1));
        t->n--;
}

static int check_group(const Binding *b, const Inventory *inv, ReasonList *l) {
        const PciDevice *d = inventory_find(inv, b->requested);
        const IommuGroup *g = d ? inventory_group(inv, d->iommu_group) : NULL;
        bool same = g && g->n_members == b->n_members;

        for (size_t i = 0; same && i < g->n_members; i++)
                same = binding_member(b, inv->devices[g->members[i]].name) != NULL;
        if (same)
                return 0;
        if (!g)
                return reason_list_add(l, "group-changed", REASON_BLOCKER, b->requested,
                                       "%s is in no IOMMU group now (it was in group %d)", b->requested, b->group);
        return reason_list_add(l, "group-changed", REASON_BLOCKER, b->requested,
                               "the IOMMU group of %s (now %d, was %d) has other members than when it was bound",
                               b->requested, g->id, b->group);
}

int binding_check_drift(const Binding *b, const Inventory *inv, ReasonList *ret) {
        ReasonList l = {};
        int r = 0;

        for (size_t i = 0; r >= 0 && i < b->n_members; i++) {
                const BindingMember *m = &b->members[i];
                const PciDevice *d = inventory_find(inv, m->address);

                if (!d)
                        r = reason_list_add(&l, "device-missing", REASON_BLOCKER, m->address,
                                            "%s (%04x:%04x) is no longer on this host", m->address, m->vendor_id,
                                            m->device_id);
                else if (d->vendor_id != m->vendor_id || d->device_id != m->device_id)
                        r = reason_list_add(&l, "device-changed", REASON_BLOCKER, m->address,
                                            "the device at %s is now %04x:%04x, it was %04x:%04x when bound",
                                            m->address, d->vendor_id, d->device_id, m->vendor_id, m->device_id);
        }
        if (r >= 0)
                r = check_group(b, inv, &l);
        if (r < 0) {
                reason_list_done(&l);
                return r;
        }
        *ret = l;
        return 0;
}
