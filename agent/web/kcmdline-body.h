/* The body of PATCH /v1/kernel-cmdline, checked and turned into a
 * KcEditRequest (host/kcmdline-edits.h), whose edits apply in the order
 * resource-kernel-cmdline.c documents. Every refusal names the body entry
 * (a JSON pointer, "/append/3"). */
#pragma once

#include <stdbool.h>

#include "host/kcmdline-edits.h"
#include "request.h"

/* Parses and checks the body (every entry by the kernel-cmdline library's
 * own rules, on an empty line); on error queues the 400 and returns false
 * with *ret_mhd set. */
bool parse_patch(Request *r, KcEditRequest *p, enum MHD_Result *ret_mhd);
