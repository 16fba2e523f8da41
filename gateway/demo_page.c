/* Which requests get the demo page (demo_page.h); the page itself is generated at build
 * time into demo_page_response. */
#include "gateway/demo_page.h"

#include <assert.h>
#include <string.h>

static bool span_is(struct http_span span, const char *literal)
{
    size_t len = strlen(literal);
    return span.len == len && memcmp(span.ptr, literal, len) == 0;
}

bool demo_page_request(const struct http_request *req)
{
    assert(req != NULL);
    assert(req->headers != NULL || req->header_count == 0);
    if (!span_is(req->method, "GET"))
        return false;
    if (!span_is(req->path, "/") && !span_is(req->path, "/demo"))
        return false;
    struct http_span upgrade;
    return http_header_find(req->headers, req->header_count, "Upgrade", &upgrade) == 0;
}
