/* The audit trail: every mutating request, who made it, what it asked and
 * what came of it. Under systemd the record goes to the journal with fields
 * of its own (HOSTDEVD_AUDIT=1, HOSTDEVD_USER=, HOSTDEVD_ROLE=,
 * HOSTDEVD_REQUEST=, HOSTDEVD_STATUS=), so `journalctl HOSTDEVD_AUDIT=1`
 * lists them; otherwise it is a log line on stderr. */
#pragma once

void log_audit(const char *who, const char *role, const char *method, const char *path, unsigned status,
               const char *body);
