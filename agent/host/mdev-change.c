/* Creating and removing mediated devices: see mdev-change.h. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "basic/macro.h"
#include "basic/strv.h"
#include "mdev-change.h"
#include "mdev-config.h"
#include "sysfs-write.h"
#include "vfio-holders.h"

void mdev_report_done(MdevReport *r) {
        reason_list_done(&r->reasons);
        free(r->error);
        strv_free(r->writes);
        *r = (MdevReport) {};
}

const char *mdev_outcome_to_string(MdevOutcome o) {
        static const char *const names[_MDEV_OUTCOME_MAX] = {
                [MDEV_DONE] = "done", [MDEV_REFUSED] = "refused", [MDEV_FAILED] = "failed",
        };
        return o >= 0 && o < _MDEV_OUTCOME_MAX ? names[o] : NULL;
}

const PciDevice *mdev_find_parent(const Inventory *inv, const char *uuid, const MdevInstance **ret_instance) {
        for (size_t i = 0; i < inv->n_devices; i++) {
                const MdevInstance *x = mdev_parent_find_instance(inv->devices[i].mdev, uuid);

                if (x) {
                        if (ret_instance)
                                *ret_instance = x;
                        return &inv->devices[i];
                }
        }
        if (ret_instance)
                *ret_instance = NULL;
        return NULL;
}

static bool uuid_taken(const HostRoot *root, const Inventory *inv, const char *uuid) {
        _cleanup_free_ char *p = hostroot_path(root, AREA_SYS, "bus/mdev/devices/%s", uuid);

        return mdev_find_parent(inv, uuid, NULL) || (p && access(p, F_OK) == 0);
}

int mdev_create_check(const HostRoot *root, const Inventory *inv, const char *parent, MdevCreateRequest *req,
                      MdevReport *rep) {
        const PciDevice *d = inventory_find(inv, parent);
        const MdevType *t;
        int r;

        *rep = (MdevReport) { .outcome = MDEV_REFUSED };
        if (!d)
                return -ENOENT;
        if (!d->mdev)
                return -ENOTSUP;
        t = mdev_parent_find_type(d->mdev, req->type);
        if (!t)
                return -ESRCH;
        memcpy(rep->parent, d->name, sizeof rep->parent);
        if (!req->uuid[0]) {
                do
                        r = mdev_uuid_random(req->uuid);
                while (r >= 0 && uuid_taken(root, inv, req->uuid));
                if (r < 0)
                        return r;
        }
        memcpy(rep->uuid, req->uuid, sizeof rep->uuid);

        if (uuid_taken(root, inv, req->uuid)) {
                const MdevInstance *x;
                const PciDevice *owner = mdev_find_parent(inv, req->uuid, &x);

                r = owner ? reason_list_add(&rep->reasons, "uuid-in-use", REASON_BLOCKER, owner->name,
                                            "the UUID %s is already a mediated device's (%s on %s)", req->uuid,
                                            strempty(x->type), owner->name)
                          : reason_list_add(&rep->reasons, "uuid-in-use", REASON_BLOCKER, NULL,
                                            "the UUID %s is already a mediated device's", req->uuid);
                if (r < 0)
                        return r;
        }
        if (t->available == 0 &&
            (r = reason_list_add(&rep->reasons, "no-instances-available", REASON_BLOCKER, d->name,
                                 "%s has no %s instance left (available_instances is 0)", d->name, t->id)) < 0)
                return r;
        if (rep->reasons.n > 0)
                return 1;
        rep->outcome = MDEV_DONE;
        return 0;
}

static int open_parent(const HostRoot *root, const char *addr) {
        _cleanup_free_ char *p = hostroot_path(root, AREA_SYS, "bus/pci/devices/%s", addr);

        return p ? sysfs_open_dir(AT_FDCWD, p) : -ENOMEM;
}

static int write_noted(int dir_fd, const char *attr, const char *value, MdevReport *rep) {
        _cleanup_free_ char *note = NULL;
        int r;

        if (asprintf(&note, "%s=%s", attr, value) < 0 || strv_extend(&rep->writes, note) < 0)
                return -ENOMEM;
        r = sysfs_write_attr(dir_fd, attr, value);
        if (r < 0) {
                rep->outcome = MDEV_FAILED;
                free(rep->error);
                if (asprintf(&rep->error, "writing %s to %s failed: %s", value, attr, strerror(-r)) < 0)
                        rep->error = NULL;
        }
        return r;
}

static int remove_instance(int parent_fd, const char *uuid, MdevReport *rep) {
        _cleanup_free_ char *attr = NULL;

        if (asprintf(&attr, "%s/remove", uuid) < 0)
                return -ENOMEM;
        return write_noted(parent_fd, attr, "1", rep);
}

int mdev_create(const HostRoot *root, const Inventory *inv, const char *parent, MdevCreateRequest *req,
                MdevReport *rep) {
        _cleanup_free_ char *attr = NULL;
        _cleanup_close_ int fd = -EBADF;
        int r;

        r = mdev_create_check(root, inv, parent, req, rep);
        if (r != 0)
                return r < 0 ? r : 0;
        fd = open_parent(root, rep->parent);
        if (fd < 0)
                return fd;
        if (asprintf(&attr, "mdev_supported_types/%s/create", req->type) < 0)
                return -ENOMEM;
        if (write_noted(fd, attr, req->uuid, rep) < 0)
                return 0; /* the report says it */
        if (!req->persistent)
                return 0;
        r = mdev_definition_write(root, rep->parent, req->uuid, req->type, true);
        if (r >= 0) {
                rep->defined = true;
                return 0;
        }
        (void) remove_instance(fd, req->uuid, rep); /* not persistent, then not at all */
        rep->outcome = MDEV_FAILED;
        free(rep->error);
        if (asprintf(&rep->error, "the definition of %s could not be written (%s): the instance was removed again",
                     req->uuid, strerror(-r)) < 0)
                rep->error = NULL;
        return 0;
}

int mdev_remove_check(const HostRoot *root, const Inventory *inv, const char *uuid, MdevReport *rep) {
        MdevDefinition *defs = NULL;
        const MdevInstance *x;
        const PciDevice *d = mdev_find_parent(inv, uuid, &x);
        VfioHolder *h = NULL;
        size_t n = 0, n_defs = 0;
        int r;

        *rep = (MdevReport) { .outcome = MDEV_REFUSED };
        memcpy(rep->uuid, uuid, sizeof rep->uuid);
        r = mdev_definitions_load(root, &defs, &n_defs);
        if (r < 0)
                return r;
        if (!d) {
                const MdevDefinition *def = mdev_definitions_find(defs, n_defs, uuid);

                if (def)
                        snprintf(rep->parent, sizeof rep->parent, "%s", def->parent);
                mdev_definitions_free(defs, n_defs);
                if (!def)
                        return -ENOENT;
                rep->outcome = MDEV_DONE;
                return 0;
        }
        mdev_definitions_free(defs, n_defs);
        memcpy(rep->parent, d->name, sizeof rep->parent);

        if (x->iommu_group >= 0) {
                r = vfio_holders_scan(root, &h, &n);
                if (r < 0)
                        return r;
                for (const VfioHolder *y = vfio_holders_find(h, n, x->iommu_group);
                     r >= 0 && y && y < h + n && y->group == x->iommu_group; y++) {
                        _cleanup_free_ char *who = vfio_holder_describe(y);

                        r = who ? reason_list_add(&rep->reasons, "group-in-use", REASON_BLOCKER, d->name,
                                                  "the mediated device %s (IOMMU group %d) is open by %s: it "
                                                  "cannot be removed from under its user", uuid, y->group, who)
                                : -ENOMEM;
                }
                vfio_holders_free(h, n);
                if (r < 0)
                        return r;
        }
        if (rep->reasons.n > 0)
                return 1;
        rep->outcome = MDEV_DONE;
        return 0;
}

int mdev_remove(const HostRoot *root, const Inventory *inv, const char *uuid, MdevReport *rep) {
        _cleanup_close_ int fd = -EBADF;
        int r;

        r = mdev_remove_check(root, inv, uuid, rep);
        if (r != 0)
                return r < 0 ? r : 0;
        if (mdev_find_parent(inv, uuid, NULL)) {
                fd = open_parent(root, rep->parent);
                if (fd < 0)
                        return fd;
                if (remove_instance(fd, uuid, rep) < 0)
                        return 0; /* the report says it; the definition stays */
        }
        r = mdev_definition_remove(root, rep->parent, uuid);
        if (r < 0) {
                rep->outcome = MDEV_FAILED;
                rep->defined = true;
                if (asprintf(&rep->error, "the instance is removed, but its definition could not be: %s",
                             strerror(-r)) < 0)
                        rep->error = NULL;
        }
        return 0;
}

/* ---- at start ---- */

void mdev_reapply_results_free(MdevReapplyResult *r, size_t n) {
        for (size_t i = 0; i < n; i++) {
                free(r[i].parent);
                free(r[i].detail);
        }
        free(r);
}

static int reapply_one(const HostRoot *root, const Inventory *inv, const MdevDefinition *def,
                       MdevReapplyResult *res) {
        const PciDevice *d = inventory_find(inv, def->parent);
        _cleanup_(mdev_report_done) MdevReport rep = {};
        MdevCreateRequest req = { .type = def->type };
        int r;

        memcpy(res->uuid, def->uuid, sizeof res->uuid);
        if (!(res->parent = strdup(def->parent)))
                return -ENOMEM;
        if (mdev_find_parent(inv, def->uuid, NULL)) {
                res->outcome = "active";
                return 0;
        }
        if (def->n_attrs > 0) {
                res->outcome = "left-to-mdevctl";
                return asprintf(&res->detail, "it has %zu device attributes, which mdevctl sets", def->n_attrs) < 0
                               ? -ENOMEM
                               : 0;
        }
        if (!d || !mdev_parent_find_type(d->mdev, def->type)) {
                res->outcome = "drifted";
                return asprintf(&res->detail, "%s %s", def->parent,
                                !d ? "is not here" : !d->mdev ? "offers no mediated devices"
                                                              : "does not offer this type") < 0
                               ? -ENOMEM
                               : 0;
        }
        memcpy(req.uuid, def->uuid, sizeof req.uuid);
        r = mdev_create(root, inv, def->parent, &req, &rep);
        if (r < 0)
                return r;
        res->outcome = rep.outcome == MDEV_DONE ? "started" : "failed";
        if (rep.outcome == MDEV_REFUSED)
                res->detail = strdup(strempty(reason_list_first_blocker(&rep.reasons)));
        else if (rep.outcome == MDEV_FAILED)
                res->detail = strdup(strempty(rep.error));
        return 0;
}

int mdev_reapply(const HostRoot *root, const Inventory *inv, MdevReapplyResult **ret, size_t *ret_n) {
        MdevDefinition *defs = NULL;
        MdevReapplyResult *res = NULL;
        size_t n_defs = 0, n = 0;
        int r;

        *ret = NULL;
        *ret_n = 0;
        r = mdev_definitions_load(root, &defs, &n_defs);
        if (r < 0)
                return r;
        for (size_t i = 0; r >= 0 && i < n_defs; i++) {
                MdevReapplyResult *m;

                if (!defs[i].auto_start || !defs[i].type)
                        continue;
                m = realloc(res, (n + 1) * sizeof *m);
                if (!m) {
                        r = -ENOMEM;
                        break;
                }
                res = m;
                res[n] = (MdevReapplyResult) {};
                r = reapply_one(root, inv, &defs[i], &res[n++]);
        }
        mdev_definitions_free(defs, n_defs);
        if (r < 0) {
                mdev_reapply_results_free(res, n);
                return r;
        }
        *ret = res;
        *ret_n = n;
        return 0;
}
