/* Audit records: see audit.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <systemd/sd-journal.h>

#include "audit.h"
#include "basic/log.h"

/* The body as one line, cut short: a record, not a copy of the request. */
static void one_line(const char *body, char *buf, size_t size) {
        size_t n = 0;

        for (const char *p = body; p && *p && n + 1 < size; p++)
                buf[n++] = (*p == '\n' || *p == '\r' || *p == '\t') ? ' ' : *p;
        buf[n] = 0;
        if (body && strlen(body) >= size && size > 4)
                memcpy(buf + size - 4, "...", 4);
}

void log_audit(const char *who, const char *role, const char *method, const char *path, unsigned status,
               const char *body) {
        char b[256], request[512];
        const char *outcome = status >= 200 && status < 300 ? "done" : status >= 500 ? "failed" : "refused";

        one_line(body, b, sizeof b);
        snprintf(request, sizeof request, "%s %s%s%s", method, path, *b ? " " : "", b);
        if (getenv("JOURNAL_STREAM") &&
            sd_journal_send("MESSAGE=audit: %s (%s) %s: %u %s", who, role, request, status, outcome,
                            "PRIORITY=%d", LOG_NOTICE, "SYSLOG_IDENTIFIER=hostdevd", "HOSTDEVD_AUDIT=1",
                            "HOSTDEVD_USER=%s", who, "HOSTDEVD_ROLE=%s", role, "HOSTDEVD_REQUEST=%s", request,
                            "HOSTDEVD_STATUS=%u", status, "HOSTDEVD_OUTCOME=%s", outcome, NULL) >= 0)
                return;
        log_notice("audit: %s (%s) %s: %u %s", who, role, request, status, outcome);
}
