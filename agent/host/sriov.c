/* Changing VF counts: see sriov.h. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "basic/fileio.h"
#include "basic/macro.h"
#include "basic/parse-util.h"
#include "basic/strv.h"
#include "sriov-state.h"
#include "sriov.h"
#include "sysfs-write.h"
#include "vfio-holders.h"

void sriov_report_done(SriovReport *r) {
        reason_list_done(&r->reasons);
        free(r->error);
        free(r->rollback);
        strv_free(r->writes);
        *r = (SriovReport) {};
}

const char *sriov_outcome_to_string(SriovOutcome o) {
        static const char *const names[_SRIOV_OUTCOME_MAX] = {
                [SRIOV_DONE] = "done", [SRIOV_UNCHANGED] = "unchanged",
                [SRIOV_REFUSED] = "refused", [SRIOV_FAILED] = "failed",
        };
        return o >= 0 && o < _SRIOV_OUTCOME_MAX ? names[o] : NULL;
}

static int open_device(const HostRoot *root, const char *addr) {
        _cleanup_free_ char *p = hostroot_path(root, AREA_SYS, "bus/pci/devices/%s", addr);

        return p ? sysfs_open_dir(AT_FDCWD, p) : -ENOMEM;
}

static int read_numvfs(int dir_fd, int *ret) {
        _cleanup_free_ char *s = NULL;
        int r = read_one_line_at(dir_fd, "sriov_numvfs", &s);

        return r < 0 ? r : safe_atoi(s, ret);
}

/* The VFs that would go away, and who holds or uses them. */
static int check_vfs(const HostRoot *root, const Inventory *inv, const PciDevice *pf, ReasonList *l) {
        VfioHolder *h = NULL;
        size_t n = 0;
        int r;

        r = vfio_holders_scan(root, &h, &n);
        if (r < 0)
                return r;
        for (char **vf = pf->vfs; r >= 0 && vf && *vf; vf++) {
                const PciDevice *d = inventory_find(inv, *vf);

                if (!d)
                        continue;
                for (size_t i = 0; r >= 0 && i < d->n_usage; i++)
                        r = reason_list_add(l, "host-uses-device", REASON_BLOCKER, d->name,
                                            "the host uses the VF %s (%s: %s): changing the VF count would "
                                            "remove it", d->name, host_usage_kind_to_string(d->usage[i].kind),
                                            strempty(d->usage[i].detail));
                for (const VfioHolder *x = d->iommu_group >= 0 ? vfio_holders_find(h, n, d->iommu_group) : NULL;
                     r >= 0 && x && x < h + n && x->group == d->iommu_group; x++) {
                        _cleanup_free_ char *who = vfio_holder_describe(x);

                        r = who ? reason_list_add(l, "group-in-use", REASON_BLOCKER, d->name,
                                                  "the VF %s (IOMMU group %d) is open by %s: changing the VF count "
                                                  "would remove it from under its user", d->name, x->group, who)
                                : -ENOMEM;
                }
        }
        vfio_holders_free(h, n);
        return r;
}

int sriov_check(const HostRoot *root, const Inventory *inv, const char *pf, const SriovRequest *req,
                SriovReport *ret) {
        const PciDevice *d = inventory_find(inv, pf);
        _cleanup_free_ char *driver = NULL;
        _cleanup_close_ int fd = -EBADF;
        SriovReport rep = { .before = -1, .after = -1 };
        int r;

        if (!d)
                return -ENOENT;
        if (!d->is_pf)
                return -ENOTSUP;
        if (req->numvfs > (unsigned) d->total_vfs)
                return -ERANGE;
        fd = open_device(root, pf);
        if (fd < 0)
                return fd;
        r = read_numvfs(fd, &rep.before);
        if (r < 0)
                return r;
        rep.after = rep.before;
        r = readlink_basename_at(fd, "driver", &driver);
        if (r < 0 && r != -ENOENT)
                return r;
        if ((unsigned) rep.before != req->numvfs && !driver)
                r = reason_list_add(&rep.reasons, "pf-no-driver", REASON_BLOCKER, pf,
                                    "%s has no driver: the kernel enables and disables VFs through the physical "
                                    "function's driver; bind it to its driver first", pf);
        else
                r = 0;
        if (r >= 0 && rep.before > 0 && (unsigned) rep.before != req->numvfs)
                r = check_vfs(root, inv, d, &rep.reasons);
        if (r < 0) {
                sriov_report_done(&rep);
                return r;
        }
        rep.outcome = reason_list_has_blocker(&rep.reasons) ? SRIOV_REFUSED : SRIOV_DONE;
        *ret = rep;
        return rep.outcome == SRIOV_REFUSED;
}

/* One write, recorded; on failure *rep's error names it. */
static int write_attr(int fd, const char *attr, unsigned value, SriovReport *rep) {
        char v[16];
        int r;

        snprintf(v, sizeof v, "%u", value);
        r = sysfs_write_attr(fd, attr, v);
        if (strv_extendf(&rep->writes, "%s=%s%s%s", attr, v, r < 0 ? " failed: " : "",
                         r < 0 ? strerror(-r) : "") < 0)
                return -ENOMEM;
        if (r < 0 && !rep->error && asprintf(&rep->error, "writing %s to %s failed: %s", v, attr, strerror(-r)) < 0)
                rep->error = NULL;
        return r;
}

static int read_autoprobe(int fd) {
        _cleanup_free_ char *s = NULL;
        int v;

        return read_one_line_at(fd, "sriov_drivers_autoprobe", &s) < 0 || safe_atoi(s, &v) < 0 ? -1 : v;
}

int sriov_read_autoprobe(const HostRoot *root, const char *pf) {
        _cleanup_close_ int fd = open_device(root, pf);

        return fd < 0 ? -1 : read_autoprobe(fd);
}

/* The writes; FAILED with what was put back when one fails. */
static int change_count(int fd, const SriovRequest *req, SriovReport *rep) {
        bool autoprobe = req->drivers_autoprobe >= 0 && read_autoprobe(fd) != req->drivers_autoprobe;
        int r = 0;

        if (!autoprobe && (unsigned) rep->before == req->numvfs) {
                rep->outcome = SRIOV_UNCHANGED;
                return 0;
        }
        if (autoprobe && (r = write_attr(fd, "sriov_drivers_autoprobe", (unsigned) req->drivers_autoprobe, rep)) < 0)
                goto failed;
        if ((unsigned) rep->before != req->numvfs) {
                if (rep->before > 0 && req->numvfs > 0 && (r = write_attr(fd, "sriov_numvfs", 0, rep)) < 0)
                        goto failed;
                if ((r = write_attr(fd, "sriov_numvfs", req->numvfs, rep)) < 0)
                        goto failed;
        }
        rep->outcome = SRIOV_DONE;
        return 0;
failed:
        rep->outcome = SRIOV_FAILED;
        if (r == -ENOMEM)
                return r;
        /* the first write of the count may have disabled the VFs: the old count back */
        if (read_numvfs(fd, &r) >= 0 && r != rep->before && rep->before > 0) {
                int k = write_attr(fd, "sriov_numvfs", (unsigned) rep->before, rep);
                if (asprintf(&rep->rollback, k < 0 ? "the VFs were disabled and %d could not be enabled again: %s"
                                                   : "%d VFs enabled again%s", rep->before,
                             k < 0 ? strerror(-k) : "") < 0)
                        rep->rollback = NULL;
        }
        return 0;
}

static int record(const Inventory *inv, const char *state_dir, const char *pf, const SriovRequest *req,
                  SriovReport *rep) {
        _cleanup_(sriov_table_done) SriovTable t = {};
        const PciDevice *d = inventory_find(inv, pf);
        SriovRecord x = { .numvfs = req->numvfs, .drivers_autoprobe = req->drivers_autoprobe };
        int r;

        r = sriov_table_load(state_dir, &t);
        if (r < 0)
                return r;
        if (req->persistent < 0) {
                rep->recorded = sriov_table_find(&t, pf) != NULL;
                return 0;
        }
        rep->recorded = req->persistent > 0;
        if (req->persistent > 0) {
                memcpy(x.address, d->name, sizeof x.address);
                x.vendor_id = d->vendor_id;
                x.device_id = d->device_id;
                r = sriov_table_put(&t, &x);
        } else
                r = sriov_table_remove(&t, pf);
        return r < 0 ? r : r == 0 && req->persistent == 0 ? 0 : sriov_table_save(state_dir, &t);
}

int sriov_set(const HostRoot *root, const Inventory *inv, const char *state_dir, const char *pf,
              const SriovRequest *req, SriovReport *ret) {
        _cleanup_(sriov_report_done) SriovReport rep = {};
        _cleanup_close_ int fd = -EBADF;
        int r;

        r = sriov_check(root, inv, pf, req, &rep);
        if (r < 0)
                return r;
        if (r == 0) {
                fd = open_device(root, pf);
                if (fd < 0)
                        return fd;
                r = change_count(fd, req, &rep);
                if (r < 0)
                        return r;
                if (read_numvfs(fd, &rep.after) < 0)
                        rep.after = -1;
                if (rep.outcome != SRIOV_FAILED && (r = record(inv, state_dir, pf, req, &rep)) < 0)
                        return r;
        }
        *ret = rep;
        rep = (SriovReport) {};
        return 0;
}

void sriov_reapply_results_free(SriovReapplyResult *r, size_t n) {
        for (size_t i = 0; r && i < n; i++)
                free(r[i].detail);
        free(r);
}

static int reapply_one(const HostRoot *root, const Inventory *inv, const char *state_dir, const SriovRecord *x,
                       SriovReapplyResult *res) {
        const PciDevice *d = inventory_find(inv, x->address);
        SriovRequest req = { .numvfs = x->numvfs, .drivers_autoprobe = x->drivers_autoprobe, .persistent = -1 };
        _cleanup_(sriov_report_done) SriovReport rep = {};
        int r;

        *res = (SriovReapplyResult) { .numvfs = x->numvfs };
        memcpy(res->address, x->address, sizeof res->address);
        if (!d || d->vendor_id != x->vendor_id || d->device_id != x->device_id || !d->is_pf) {
                res->outcome = "drifted";
                return d ? asprintf(&res->detail, "the device is now %04x:%04x%s, recorded %04x:%04x: not applied "
                                    "(PUT the count again, or with persistent false to forget it)", d->vendor_id,
                                    d->device_id, d->is_pf ? "" : " without SR-IOV", x->vendor_id, x->device_id)
                         : asprintf(&res->detail, "no device at this address: not applied");
        }
        r = sriov_set(root, inv, state_dir, x->address, &req, &rep);
        if (r == -ERANGE) {
                res->outcome = "refused";
                return asprintf(&res->detail, "the device offers %d VFs only", d->total_vfs);
        }
        if (r < 0)
                return r;
        switch (rep.outcome) {
        case SRIOV_UNCHANGED:
                res->outcome = "already";
                return 0;
        case SRIOV_DONE:
                res->outcome = "applied";
                return asprintf(&res->detail, "%d VFs before, %d now", rep.before, rep.after);
        case SRIOV_REFUSED:
                res->outcome = "refused";
                return asprintf(&res->detail, "%s", reason_list_first_blocker(&rep.reasons) ?: "refused");
        default:
                res->outcome = "failed";
                return asprintf(&res->detail, "%s%s%s", strempty(rep.error), rep.rollback ? "; " : "",
                                strempty(rep.rollback));
        }
}

int sriov_reapply(const HostRoot *root, const Inventory *inv, const char *state_dir, SriovReapplyResult **ret,
                  size_t *ret_n) {
        _cleanup_(sriov_table_done) SriovTable t = {};
        SriovReapplyResult *res;
        int r;

        r = sriov_table_load(state_dir, &t);
        if (r < 0)
                return r;
        res = calloc(t.n + 1, sizeof(SriovReapplyResult));
        if (!res)
                return -ENOMEM;
        for (size_t i = 0; i < t.n; i++) {
                r = reapply_one(root, inv, state_dir, &t.items[i], &res[i]);
                if (r < 0) {
                        sriov_reapply_results_free(res, t.n);
                        return r == -1 ? -ENOMEM : r;
                }
        }
        *ret = res;
        *ret_n = t.n;
        return 0;
}
