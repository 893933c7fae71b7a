/* GET/PUT/DELETE /v1/devices/{address}/driver: which driver a device is on
 * and what hostdevd bound; binding the device's whole IOMMU group to
 * vfio-pci, and giving it back to the drivers it had. The work is
 * host/vfio-bind.c's; here requests become calls, reports become replies,
 * and every change is logged with who asked. */
#include <string.h>

#include "basic/log.h"
#include "basic/macro.h"
#include "host/vfio-bind.h"
#include "json-util.h"
#include "problem.h"
#include "reply.h"
#include "resources.h"
#include "views-passthrough.h"
#include "views.h"

/* The device named by the path; on failure queues the 400 or 404. */
static const PciDevice *path_device(Request *r, enum MHD_Result *ret_mhd) {
        const char *addr = request_param(r, "address");
        char canonical[PCI_ADDR_STRLEN];
        const PciDevice *d;
        PciAddr a;

        if (pci_addr_parse(addr, &a) < 0) {
                *ret_mhd = problem_reply(r, PROBLEM_INVALID_PARAMETER, (ProblemField) { .parameter = "address" },
                                         "'%s' is not a PCI address of the form dddd:bb:ss.f (hex, function 0-7)",
                                         addr);
                return NULL;
        }
        pci_addr_format(&a, canonical);
        d = inventory_find(r->state->inventory, canonical);
        if (!d)
                *ret_mhd = problem_reply(r, PROBLEM_NO_SUCH_DEVICE, (ProblemField) { .parameter = "address" },
                                         "this host has no PCI device %s", canonical);
        return d;
}

static enum MHD_Result reply_state(Request *r, const PciDevice *d, json_object *(*view)(const BindReport *,
                                                                                      const Binding *,
                                                                                      const Inventory *),
                                   const BindReport *rep) {
        _cleanup_(binding_table_done) BindingTable t = {};
        const Binding *b;
        json_object *o;
        int k;

        k = binding_table_load(r->ctx->store->dir, &t);
        if (k < 0)
                return problem_reply(r, PROBLEM_INTERNAL, (ProblemField) {}, "cannot read the bindings in %s: %s",
                                     r->ctx->store->dir, strerror(-k));
        b = binding_table_find(&t, d->name);
        o = view ? view(rep, b, r->state->inventory) : view_driver_state(d, b, r->state->inventory);
        if (!o)
                return problem_reply(r, PROBLEM_INTERNAL, (ProblemField) {}, "out of memory");
        return reply_json(r, MHD_HTTP_OK, o);
}

enum MHD_Result get_device_driver(Request *r) {
        enum MHD_Result ret;
        const PciDevice *d = path_device(r, &ret);

        return d ? reply_state(r, d, NULL, NULL) : ret;
}

static bool has_code(const ReasonList *l, const char *code) {
        for (size_t i = 0; i < l->n; i++)
                if (streq(l->items[i].code, code))
                        return true;
        return false;
}

static char *first_blocker(const ReasonList *l) {
        for (size_t i = 0; i < l->n; i++)
                if (l->items[i].severity == REASON_BLOCKER)
                        return l->items[i].message;
        return (char *) "refused";
}

/* The sysfs may have changed (done, or failed half-way): scan again so that
 * every GET shows it; the name of the device stays valid across the scan. */
static const PciDevice *rescan(Request *r, const char *addr) {
        _cleanup_free_ char *error = NULL;
        int k = host_state_rescan(r->state, &error);

        if (k < 0)
                log_warning_errno(k, "Rescan after a driver change failed: %s", error ?: strerror(-k));
        return inventory_find(r->state->inventory, addr);
}

static enum MHD_Result reply_report(Request *r, const PciDevice *d, const char *what, BindReport *rep) {
        char addr[PCI_ADDR_STRLEN];
        json_object *extra;

        memcpy(addr, d->name, sizeof addr);
        switch (rep->outcome) {
        case BIND_REFUSED:
                log_notice("%s of IOMMU group %d (%s) for %s refused: %s.", what, rep->group, addr, strempty(r->who),
                           first_blocker(&rep->reasons));
                extra = json_object_new_object();
                json_add(extra, "reasons", view_reasons(&rep->reasons));
                return problem_reply_extra(r, has_code(&rep->reasons, "group-in-use") ? PROBLEM_DEVICES_IN_USE
                                                                                     : PROBLEM_BINDING_REFUSED,
                                           (ProblemField) {}, extra, "%s of %s refused: %s", what, addr,
                                           first_blocker(&rep->reasons));
        case BIND_FAILED:
                (void) rescan(r, addr);
                log_error("%s of IOMMU group %d (%s) for %s failed: %s; rollback: %s.", what, rep->group, addr,
                          strempty(r->who), strempty(rep->error), rep->rollback ?: "nothing to undo");
                extra = json_object_new_object();
                json_add_str(extra, "rollback", rep->rollback);
                json_add(extra, "reasons", view_reasons(&rep->reasons));
                return problem_reply_extra(r, PROBLEM_BINDING_FAILED, (ProblemField) {}, extra, "%s",
                                           strempty(rep->error));
        case BIND_DONE:
                d = rescan(r, addr);
                log_info("%s of IOMMU group %d (%s) for %s: done.", what, rep->group, addr, strempty(r->who));
                break;
        default:
                log_info("%s of IOMMU group %d (%s) for %s: nothing to change.", what, rep->group, addr,
                         strempty(r->who));
        }
        for (size_t i = 0; i < rep->reasons.n; i++)
                log_warning("%s: %s.", addr, rep->reasons.items[i].message);
        if (!d)
                return problem_reply(r, PROBLEM_NO_SUCH_DEVICE, (ProblemField) { .parameter = "address" },
                                     "%s disappeared in the rescan", addr);
        return reply_state(r, d, view_driver_change, rep);
}

static enum MHD_Result engine_error(Request *r, const char *addr, int k) {
        log_error_errno(k, "Cannot change the driver of %s: state in %s: %m", addr, r->ctx->store->dir);
        return problem_reply(r, PROBLEM_STATE_WRITE_FAILED, (ProblemField) {},
                             "the binding state in %s could not be read or written (%s): nothing was changed",
                             r->ctx->store->dir, strerror(-k));
}

enum MHD_Result put_device_driver(Request *r) {
        static const char *const fields[] = { "driver", "persistent", NULL };
        _cleanup_(json_object_putp) json_object *body = NULL;
        _cleanup_(bind_report_done) BindReport rep = {};
        const PciDevice *d;
        bool persistent = false;
        enum MHD_Result ret;
        json_object *v;
        int k;

        if (!(d = path_device(r, &ret)) || !request_json_body(r, fields, &body, &ret))
                return ret;
        if (!json_object_object_get_ex(body, "driver", &v) || !json_object_is_type(v, json_type_string) ||
            !streq(json_object_get_string(v), "vfio-pci"))
                return problem_reply(r, PROBLEM_INVALID_BODY, (ProblemField) { .pointer = "/driver" },
                                     "'driver' is required and must be \"vfio-pci\": the only driver hostdevd binds");
        if (json_object_object_get_ex(body, "persistent", &v)) {
                if (!json_object_is_type(v, json_type_boolean))
                        return problem_reply(r, PROBLEM_INVALID_BODY, (ProblemField) { .pointer = "/persistent" },
                                             "'persistent' must be true or false");
                persistent = json_object_get_boolean(v);
        }
        k = vfio_bind_group(r->state->root, r->state->inventory, r->ctx->store->dir, d->name, persistent, &rep);
        if (k < 0)
                return engine_error(r, d->name, k);
        return reply_report(r, d, persistent ? "Persistent binding to vfio-pci" : "Binding to vfio-pci", &rep);
}

enum MHD_Result delete_device_driver(Request *r) {
        _cleanup_(json_object_putp) json_object *body = NULL;
        _cleanup_(bind_report_done) BindReport rep = {};
        const PciDevice *d;
        enum MHD_Result ret;
        int k;

        if (!(d = path_device(r, &ret)))
                return ret;
        if (r->body_size > 0 && !request_json_body(r, NULL, &body, &ret)) /* none, or {} */
                return ret;
        k = vfio_unbind_group(r->state->root, r->state->inventory, r->ctx->store->dir, d->name, &rep);
        if (k < 0)
                return engine_error(r, d->name, k);
        return reply_report(r, d, "Release from vfio-pci", &rep);
}
