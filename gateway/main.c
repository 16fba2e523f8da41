/* tidegate: command line entry point. Builds the options (defaults, then the config file,
 * then command-line flags, each overriding the one before), loads the JWT keys they name,
 * and hands both to server_run. The key set lives in main's frame for the whole run.
 *
 * SIGHUP reads the options again the same way and applies the ones that may change while
 * running (reload_options).
 *
 * Exit codes: 0 clean stop (or --help, --version, a good --check-config), 1 could not start,
 * 2 bad command line or configuration.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "gateway/auth_keys.h"
#include "gateway/options.h"
#include "gateway/server.h"
#include "gateway/tls_setup.h"
#include "storage/migrate.h"

enum { EXIT_USAGE = 2 };

static void print_usage(FILE *out)
{
    fprintf(out,
            "tidegate %s: real-time WebSocket gateway\n\n"
            "Usage:\n"
            "  tidegate [--config FILE] [--OPTION VALUE ...]   run the gateway\n"
            "  tidegate --check-config FILE [--OPTION VALUE ...]\n"
            "                                  validate a configuration, print it, exit\n"
            "  tidegate migrate [--database CONNINFO]\n"
            "                                  apply the PostgreSQL schema (docs/storage.md)\n"
            "  tidegate --help | --version\n\n"
            "Options come from built-in defaults, then FILE (lines of `name = value`), then\n"
            "the command line. Every option below is valid in both; the file uses\n"
            "snake_case names (max_message_bytes), the command line --kebab-case.\n\n",
            TIDEGATE_VERSION);
    config_print_help(out, gw_option_table, gw_option_count);
    fprintf(out, "\nDocumentation: docs/configuration.md, docs/operations.md\n");
}

struct cli {
    const char *config_path;
    bool check_only;
};

/* First pass: find --config / --check-config, --help, --version. Returns -1 to continue,
 * or an exit code. */
static int cli_scan(int argc, char **argv, struct cli *cli)
{
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
            print_usage(stdout);
            return 0;
        }
        if (strcmp(arg, "--version") == 0) {
            printf("tidegate %s\n", TIDEGATE_VERSION);
            return 0;
        }
        bool check = strcmp(arg, "--check-config") == 0;
        if (check || strcmp(arg, "--config") == 0) {
            if (i + 1 >= argc) {
                fprintf(stderr, "tidegate: %s needs a file name\n", arg);
                return EXIT_USAGE;
            }
            cli->config_path = argv[++i];
            cli->check_only = cli->check_only || check;
        }
    }
    return -1;
}

/* Second pass: apply every --option after the config file. Returns 0 or an exit code. */
static int cli_apply(int argc, char **argv, struct gw_options *o)
{
    char err[CONFIG_ERROR_BYTES];
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (strcmp(arg, "--config") == 0 || strcmp(arg, "--check-config") == 0) {
            i++;
            continue;
        }
        const struct config_option *opt = config_find_flag(gw_option_table, gw_option_count, arg);
        if (opt == NULL) {
            fprintf(stderr, "tidegate: unknown option '%s'; see tidegate --help\n", arg);
            return EXIT_USAGE;
        }
        const char *eq = strchr(arg, '=');
        const char *value;
        bool alone = i + 1 >= argc || strncmp(argv[i + 1], "--", 2) == 0;
        if (eq != NULL)
            value = eq + 1;
        else if (alone && config_flag_takes_bool(opt, arg))
            value = "true";
        else if (i + 1 < argc)
            value = argv[++i];
        else {
            fprintf(stderr, "tidegate: option '%s' needs a value; see tidegate --help\n", arg);
            return EXIT_USAGE;
        }
        if (config_set_flag(gw_option_table, gw_option_count, o, arg, value, err) != 0) {
            fprintf(stderr, "tidegate: %s\n", err);
            return EXIT_USAGE;
        }
    }
    return 0;
}

static int load_options(int argc, char **argv, const struct cli *cli, struct gw_options *o)
{
    char err[CONFIG_ERROR_BYTES];
    if (gw_options_defaults(o, err) != 0) {
        fprintf(stderr, "tidegate: bad built-in default: %s\n", err);
        return 1;
    }
    if (cli->config_path != NULL &&
        config_load_file(gw_option_table, gw_option_count, o, cli->config_path, err) != 0) {
        fprintf(stderr, "tidegate: %s\n", err);
        return EXIT_USAGE;
    }
    int ret = cli_apply(argc, argv, o);
    if (ret != 0)
        return ret;
    if (gw_options_validate(o, err) != 0) {
        fprintf(stderr, "tidegate: %s\n", err);
        return EXIT_USAGE;
    }
    return 0;
}

/* What a reload needs to read the options again exactly as at start. */
struct reload_ctx {
    int argc;
    char **argv;
    const struct cli *cli;
    const struct gw_options *running; /* as read at start; never changed */
    struct gw_tls *tls;               /* the wss certificates, reloaded from the fresh options */
};

/* True when `name` (`len` bytes) is one of the comma-separated names in `list`. */
static bool name_listed(const char *list, const char *name, size_t len)
{
    for (const char *p = list; *p != '\0';) {
        size_t n = strcspn(p, ",");
        if (n == len && strncmp(p, name, len) == 0)
            return true;
        p += n + (p[n] == ',');
    }
    return false;
}

/* True when `text` holds `line` as a whole line. */
static bool has_line(const char *text, const char *line)
{
    size_t len = strlen(line);
    for (const char *p = strstr(text, line); p != NULL; p = strstr(p + 1, line))
        if ((p == text || p[-1] == '\n') && (p[len] == '\n' || p[len] == '\0'))
            return true;
    return false;
}

/* Writes, into `out` of `cap` bytes, the names of the options whose values differ between
 * `a` and `b` (comma-separated; "" when none), leaving out those in `skip` (comma-separated).
 * Secrets print as *** and so never show as changed. */
static void options_changed(const struct gw_options *a, const struct gw_options *b,
                            const char *skip, char *out, size_t cap)
{
    char *text_a = NULL, *text_b = NULL;
    size_t len_a = 0, len_b = 0;
    FILE *fa = open_memstream(&text_a, &len_a), *fb = open_memstream(&text_b, &len_b);
    out[0] = '\0';
    if (fa != NULL)
        config_print_values(fa, gw_option_table, gw_option_count, a);
    if (fb != NULL)
        config_print_values(fb, gw_option_table, gw_option_count, b);
    bool ok = fa != NULL && fb != NULL;
    ok = (fa == NULL || fclose(fa) == 0) && ok;
    ok = (fb == NULL || fclose(fb) == 0) && ok;
    size_t used = 0;
    for (char *line = ok ? strtok(text_b, "\n") : NULL; line != NULL; line = strtok(NULL, "\n")) {
        if (line[0] == '#' || has_line(text_a, line))
            continue; /* the same line is in the running options */
        size_t name_len = strcspn(line, " =");
        if (name_listed(skip, line, name_len) || used + name_len + 3 >= cap)
            continue;
        used += (size_t)snprintf(out + used, cap - used, "%s%.*s", used ? "," : "", (int)name_len,
                                 line);
    }
    free(text_a);
    free(text_b);
}

/* SIGHUP: the options are read again as at start (defaults, file, flags) and the ones that may
 * change while running are applied: log_level, and with wss on the certificate files are read
 * again (tls_certs, tls_min_version, tls_tickets off). Others that changed are named in the
 * log; they take a restart. A file that no longer parses changes nothing. */
static void reload_options(void *arg)
{
    const struct reload_ctx *r = arg;
    struct gw_options fresh;
    char err[CONFIG_ERROR_BYTES];
    int ret = gw_options_defaults(&fresh, err);
    if (ret == 0 && r->cli->config_path != NULL)
        ret = config_load_file(gw_option_table, gw_option_count, &fresh, r->cli->config_path, err);
    if (ret == 0 && cli_apply(r->argc, r->argv, &fresh) != 0) {
        snprintf(err, sizeof err, "the command line no longer applies");
        ret = -1;
    }
    if (ret == 0)
        ret = gw_options_validate(&fresh, err);
    if (ret != 0) {
        log_error("main", "reload failed; the running options stay", "error=\"%s\"", err);
        gw_options_free(&fresh);
        return;
    }
    char changed[512];
    const char *live = r->tls->on ? "log_level,tls_certs,tls_min_version,tls_tickets" : "log_level";
    options_changed(r->running, &fresh, live, changed, sizeof changed);
    log_level_set((enum log_level)fresh.log_level);
    const struct config_option *level =
        config_find_flag(gw_option_table, gw_option_count, "--log-level");
    log_info("main", "options reloaded", "log_level=%s restart_needed_for=\"%s\"",
             level->enum_values[fresh.log_level], changed);
    gw_tls_reload(r->tls, &fresh);
    gw_options_free(&fresh);
}

/* Reads and checks the certificate files named by tls_certs (also for --check-config).
 * Returns 0 or EXIT_USAGE after saying why. */
static int load_tls(const struct gw_options *o, struct gw_tls *tls)
{
    char err[CONFIG_ERROR_BYTES];
    if (gw_tls_init(tls, o, err) != 0) {
        fprintf(stderr, "tidegate: %s\n", err);
        return EXIT_USAGE;
    }
    return 0;
}

/* Reads the key files named by jwt_keys (also for --check-config, so a bad key file is
 * found before a deploy). Returns 0 or EXIT_USAGE after saying why. */
static int load_auth(const struct gw_options *o, struct gw_auth *auth)
{
    char err[CONFIG_ERROR_BYTES];
    if (gw_auth_load(o, &auth->keys, &auth->policy, err) != 0) {
        fprintf(stderr, "tidegate: %s\n", err);
        return EXIT_USAGE;
    }
    return 0;
}

/* With postgres_url and postgres_migrate: applies the migrations the database lacks before
 * any worker starts. Returns 0 or EXIT_USAGE (2) after saying why on stderr. */
static int migrate_at_start(const struct gw_options *o)
{
    if (o->postgres_url[0] == '\0' || !o->postgres_migrate)
        return 0;
    struct migrate_report report;
    char err[MIGRATE_ERROR_BYTES];
    if (storage_migrate(o->postgres_url, &report, err) != 0) {
        fprintf(stderr,
                "tidegate: postgres_migrate: %s (fix the database or postgres_url, or set "
                "postgres_migrate = false and run tidegate migrate)\n",
                err);
        return EXIT_USAGE;
    }
    log_info("main", "database schema ready", "version=%u applied=%u",
             (unsigned)report.version_after, (unsigned)report.applied);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "migrate") == 0)
        return storage_migrate_main(argc - 1, argv + 1);
    struct cli cli = {0};
    int ret = cli_scan(argc, argv, &cli);
    if (ret >= 0)
        return ret;
    struct gw_options opts;
    struct gw_auth auth; /* read by every worker while server_run runs */
    struct gw_tls tls;   /* the wss certificates, likewise */
    ret = load_options(argc, argv, &cli, &opts);
    if (ret == 0)
        ret = load_auth(&opts, &auth);
    if (ret == 0) {
        ret = load_tls(&opts, &tls);
        if (ret != 0)
            jwt_keyset_free(&auth.keys);
    }
    if (ret != 0) {
        gw_options_free(&opts);
        return ret;
    }
    if (cli.check_only) {
        printf("# %s: configuration is valid\n", cli.config_path);
        config_print_values(stdout, gw_option_table, gw_option_count, &opts);
    } else {
        log_level_set((enum log_level)opts.log_level);
        ret = migrate_at_start(&opts);
    }
    if (ret == 0 && !cli.check_only) {
        if (auth.keys.count == 0 && !opts.allow_anonymous)
            log_warn("main", "no jwt_keys and allow_anonymous = false: no client can connect",
                     NULL);
        struct reload_ctx reload_ctx = {argc, argv, &cli, &opts, &tls};
        struct server_reload reload = {reload_options, &reload_ctx};
        ret = server_run(&opts, &auth, &tls, &reload);
    }
    gw_tls_destroy(&tls);
    jwt_keyset_free(&auth.keys);
    gw_options_free(&opts);
    return ret;
}
