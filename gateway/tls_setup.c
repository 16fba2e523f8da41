/* The process's TLS server: from the options to a tls_current, and its reload. See
 * tls_setup.h. */
#include "gateway/tls_setup.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"

/* tls_certs split into the pairs core/tls wants. The items were checked by
 * gw_options_validate (one ':' between two non-empty paths); copies are cut at the ':'. */
struct tls_files {
    char *copies[TLS_CERTS_MAX];
    struct tls_cert_files pairs[TLS_CERTS_MAX];
    struct tls_options options;
};

static void tls_files_free(struct tls_files *f)
{
    for (size_t i = 0; i < f->options.cert_count; i++)
        free(f->copies[i]);
    memset(f, 0, sizeof *f);
}

/* Returns 0, or -1 with err (out of memory, or items validate would have refused). */
static int tls_files_from(struct tls_files *f, const struct gw_options *o,
                          char err[CONFIG_ERROR_BYTES])
{
    memset(f, 0, sizeof *f);
    const struct config_list *certs = &o->tls_certs;
    if (certs->count == 0 || certs->count > TLS_CERTS_MAX) {
        snprintf(err, CONFIG_ERROR_BYTES, "tls_certs: %zu pairs; 1 to %d are needed for wss",
                 certs->count, TLS_CERTS_MAX);
        return -1;
    }
    for (size_t i = 0; i < certs->count; i++) {
        char *copy = strdup(certs->items[i]);
        char *colon = copy != NULL ? strchr(copy, ':') : NULL;
        if (colon == NULL) {
            free(copy);
            tls_files_free(f);
            snprintf(err, CONFIG_ERROR_BYTES, "tls_certs: out of memory, or an item without ':'");
            return -1;
        }
        *colon = '\0';
        f->copies[i] = copy;
        f->pairs[i] = (struct tls_cert_files){.cert_path = copy, .key_path = colon + 1};
        f->options.cert_count = i + 1;
    }
    f->options.certs = f->pairs;
    f->options.min_version = o->tls_min_version == 1 ? 13 : 12;
    f->options.tickets = o->tls_tickets;
    return 0;
}

void gw_tls_log_certificates(struct gw_tls *t)
{
    if (!t->on)
        return;
    struct tls_server *s = tls_current_acquire(&t->current);
    for (size_t i = 0; i < tls_server_cert_count(s); i++) {
        char text[1024];
        tls_server_cert_describe(s, i, text, sizeof text);
        log_info("tls", "certificate for new connections", "index=%zu%s cert=\"%s\"", i,
                 i == 0 ? " default=true" : "", text);
    }
    tls_server_unref(s);
}

int gw_tls_init(struct gw_tls *t, const struct gw_options *o, char err[CONFIG_ERROR_BYTES])
{
    memset(t, 0, sizeof *t);
    if (o->tls_certs.count == 0)
        return 0;
    if (!tls_global_init()) {
        snprintf(err, CONFIG_ERROR_BYTES, "tls_certs: wolfSSL failed to initialise");
        return -1;
    }
    struct tls_files f;
    if (tls_files_from(&f, o, err) != 0)
        return -1;
    char why[CONFIG_ERROR_BYTES - 16];
    uint32_t lifetime_s = (uint32_t)(o->tls_ticket_lifetime_ms / 1000);
    bool built = tls_current_init(&t->current, &f.options, lifetime_s, why, sizeof why);
    tls_files_free(&f);
    if (!built) {
        snprintf(err, CONFIG_ERROR_BYTES, "tls_certs: %s", why);
        return -1;
    }
    t->on = true;
    t->tickets = o->tls_tickets;
    return 0;
}

void gw_tls_reload(struct gw_tls *t, const struct gw_options *fresh)
{
    if (!t->on)
        return;
    char err[CONFIG_ERROR_BYTES];
    struct tls_files f;
    bool reloaded = false;
    if (tls_files_from(&f, fresh, err) == 0) {
        reloaded = tls_current_reload(&t->current, &f.options, err, sizeof err);
        tls_files_free(&f);
    }
    if (!reloaded) {
        t->reloads_failed++;
        log_error("tls", "certificate reload failed; new connections keep the old certificates",
                  "error=\"%s\"", err);
        return;
    }
    t->reloads_ok++;
    log_info("tls", "certificates reloaded", "generation=%llu tls_min_version=%s tickets=%s",
             (unsigned long long)t->current.generation, gw_tls_versions[fresh->tls_min_version],
             fresh->tls_tickets ? "on" : "off");
    gw_tls_log_certificates(t);
}

void gw_tls_render_metrics(FILE *out, struct gw_tls *t)
{
    size_t certs = 0;
    if (t->on) {
        struct tls_server *s = tls_current_acquire(&t->current);
        certs = tls_server_cert_count(s);
        tls_server_unref(s);
    }
    fprintf(out,
            "# HELP tidegate_tls_reloads_total Certificate reloads on SIGHUP, by result.\n"
            "# TYPE tidegate_tls_reloads_total counter\n"
            "tidegate_tls_reloads_total{result=\"ok\"} %llu\n"
            "tidegate_tls_reloads_total{result=\"error\"} %llu\n"
            "# HELP tidegate_tls_certificates Certificate pairs new wss connections choose from.\n"
            "# TYPE tidegate_tls_certificates gauge\n"
            "tidegate_tls_certificates %zu\n",
            (unsigned long long)t->reloads_ok, (unsigned long long)t->reloads_failed, certs);
}

void gw_tls_destroy(struct gw_tls *t)
{
    if (t->on)
        tls_current_destroy(&t->current);
    t->on = false;
}
