/* Logging to stderr in a form journald understands: each line starts with
 * "<N>", the syslog priority, when stderr is connected to the journal
 * (JOURNAL_STREAM), so journalctl -p filters work; plain text otherwise. */
#pragma once

#include <syslog.h>
#include "macro.h"

void log_set_max_level(int level);
int log_get_max_level(void);
const char *log_level_to_string(int level); /* NULL when not a level */
int log_level_from_string(const char *s);
void log_open(void);

/* Logs and returns -abs(error), so callers can write
 * "return log_error_errno(r, "...: %m");" ; %m prints the error. */
int log_internal(int level, int error, const char *file, int line, const char *fmt, ...)
        _printf_(5, 6);

#define log_full_errno(level, error, ...)                                       \
        ({                                                                      \
                int _l_ = (level), _e_ = (error);                               \
                (log_get_max_level() >= _l_)                                    \
                        ? log_internal(_l_, _e_, __FILE__, __LINE__, __VA_ARGS__) \
                        : -abs(_e_);                                            \
        })

#define log_debug(...) log_full_errno(LOG_DEBUG, 0, __VA_ARGS__)
#define log_info(...) log_full_errno(LOG_INFO, 0, __VA_ARGS__)
#define log_notice(...) log_full_errno(LOG_NOTICE, 0, __VA_ARGS__)
#define log_warning(...) log_full_errno(LOG_WARNING, 0, __VA_ARGS__)
#define log_error(...) log_full_errno(LOG_ERR, 0, __VA_ARGS__)

#define log_debug_errno(e, ...) log_full_errno(LOG_DEBUG, e, __VA_ARGS__)
#define log_info_errno(e, ...) log_full_errno(LOG_INFO, e, __VA_ARGS__)
#define log_warning_errno(e, ...) log_full_errno(LOG_WARNING, e, __VA_ARGS__)
#define log_error_errno(e, ...) log_full_errno(LOG_ERR, e, __VA_ARGS__)

#define log_oom() log_error_errno(ENOMEM, "Out of memory.")
