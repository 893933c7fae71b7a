/* Asking systemd-logind to reboot the host, over the system D-Bus (sd-bus;
 * DBUS_SYSTEM_BUS_ADDRESS points it elsewhere, which is how tests use a
 * private bus). org.freedesktop.login1.Manager.RebootWithFlags(t 0), and
 * Reboot(b false) where logind is older than RebootWithFlags (v248). The call
 * is asynchronous on the agent's event loop; the callback gets the outcome. */
#pragma once

#include <systemd/sd-event.h>

typedef struct LogindCall LogindCall;

/* error 0: logind accepted (the host is going down); otherwise a negative
 * errno and a message for people (the D-Bus error, or why no bus). */
typedef void (*LogindCallback)(int error, const char *message, void *userdata);

/* Starts the call. On success *ret holds the call until it is freed: freeing
 * it cancels a call still in flight, without calling back. When the bus cannot
 * be reached at all, returns the error and a message in *ret_message. */
int logind_reboot(sd_event *event, LogindCallback cb, void *userdata, LogindCall **ret, char **ret_message);
LogindCall *logind_call_free(LogindCall *c);
static inline void logind_call_freep(LogindCall **c) {
        logind_call_free(*c);
}
