/* The demo page (docs/demo.md): a chat room in one HTML file that a browser loads from the
 * gateway itself, served on the public listeners when the option demo_page is on.
 *
 * The page and its whole HTTP response (200, text/html, Content-Length, Cache-Control:
 * no-store, the Content-Security-Policy with the hashes of its inline style and script,
 * Connection: close) are generated at build time from gateway/demo/index.html by
 * gateway/demo/embed.cmake: nothing is read or built at run time, and every request gets
 * the same bytes.
 */
#ifndef TIDEGATE_GATEWAY_DEMO_PAGE_H
#define TIDEGATE_GATEWAY_DEMO_PAGE_H

#include <stdbool.h>
#include <stddef.h>

#include "core/http.h"

/* The complete response: head then page, demo_page_response_bytes long (plus a NUL that is
 * not part of it). The head is the first demo_page_head_bytes, ending with CRLFCRLF. */
extern const char demo_page_response[];
extern const size_t demo_page_response_bytes;
extern const size_t demo_page_head_bytes;

/* True when `req` asks for the page: method GET, path exactly "/" or "/demo" (any query),
 * and no Upgrade header at all. Everything else, a WebSocket upgrade included, is not a
 * request for the page. Pure: looks only at `req`. */
bool demo_page_request(const struct http_request *req);

#endif
