/* Shared between proxy_proto.c (dispatch, v2) and proxy_v1.c (the text form); not a public
 * interface: use core/proxy_proto.h. */
#ifndef TIDEGATE_CORE_PROXY_INTERNAL_H
#define TIDEGATE_CORE_PROXY_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "core/proxy_proto.h"

#define PROXY_V1_SIGNATURE "PROXY "
enum { PROXY_V1_SIGNATURE_BYTES = sizeof(PROXY_V1_SIGNATURE) - 1 };

/* Parses a v1 line; `buf` starts with PROXY_V1_SIGNATURE (len >= its length). Same answers
 * and contract as proxy_parse. */
enum proxy_result proxy_v1_parse(const uint8_t *buf, size_t len, struct proxy_header *out);

#endif
