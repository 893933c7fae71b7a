/* logind: see logind.h. */
#include <stdio.h>
#include <stdlib.h>

#include <systemd/sd-bus.h>

#include "basic/log.h"
#include "basic/macro.h"
#include "logind.h"

#define LOGIND_SERVICE "org.freedesktop.login1"
#define LOGIND_PATH "/org/freedesktop/login1"
#define LOGIND_MANAGER "org.freedesktop.login1.Manager"

struct LogindCall {
        sd_bus *bus;
        sd_bus_slot *slot;
        LogindCallback cb;
        void *userdata;
        bool fell_back;  /* Reboot() after RebootWithFlags() was unknown */
};

static int on_reply(sd_bus_message *m, void *userdata, sd_bus_error *ret_error);

static int call(LogindCall *c) {
        c->slot = sd_bus_slot_unref(c->slot);
        if (c->fell_back)
                return sd_bus_call_method_async(c->bus, &c->slot, LOGIND_SERVICE, LOGIND_PATH, LOGIND_MANAGER,
                                                "Reboot", on_reply, c, "b", 0);
        return sd_bus_call_method_async(c->bus, &c->slot, LOGIND_SERVICE, LOGIND_PATH, LOGIND_MANAGER,
                                        "RebootWithFlags", on_reply, c, "t", (uint64_t) 0);
}

static int on_reply(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        LogindCall *c = userdata;
        const sd_bus_error *e = sd_bus_message_get_error(m);
        _cleanup_free_ char *message = NULL;
        int r;

        if (!e) {
                log_info("logind accepted the reboot (%s).", c->fell_back ? "Reboot" : "RebootWithFlags");
                c->cb(0, NULL, c->userdata);
                return 0;
        }
        if (!c->fell_back && sd_bus_error_has_name(e, SD_BUS_ERROR_UNKNOWN_METHOD)) {
                log_info("logind has no RebootWithFlags(), calling Reboot().");
                c->fell_back = true;
                r = call(c);
                if (r >= 0)
                        return 0;
                if (asprintf(&message, "cannot call logind's Reboot(): %s", strerror(-r)) < 0)
                        message = NULL;
                c->cb(r, message ?: "cannot call logind", c->userdata);
                return 0;
        }
        if (asprintf(&message, "logind refused the reboot: %s: %s", e->name, strempty(e->message)) < 0)
                message = NULL;
        c->cb(-sd_bus_error_get_errno(e) ?: -EIO, message ?: "logind refused the reboot", c->userdata);
        return 0;
}

int logind_reboot(sd_event *event, LogindCallback cb, void *userdata, LogindCall **ret, char **ret_message) {
        _cleanup_(logind_call_freep) LogindCall *c = calloc(1, sizeof(LogindCall));
        int r;

        if (!c)
                return -ENOMEM;
        c->cb = cb;
        c->userdata = userdata;
        r = sd_bus_open_system(&c->bus);
        if (r >= 0)
                r = sd_bus_attach_event(c->bus, event, SD_EVENT_PRIORITY_NORMAL);
        if (r >= 0)
                r = call(c);
        if (r < 0) {
                if (asprintf(ret_message, "cannot reach logind on the system bus: %s", strerror(-r)) < 0)
                        *ret_message = NULL;
                return r;
        }
        *ret = TAKE_PTR(c);
        return 0;
}

LogindCall *logind_call_free(LogindCall *c) {
        if (!c)
                return NULL;
        sd_bus_slot_unref(c->slot);
        sd_bus_flush_close_unref(c->bus);
        free(c);
        return NULL;
}
