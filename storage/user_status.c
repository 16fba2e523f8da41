/* User status in Redis: see user_status.h, and docs/storage.md for the keys.
 *
 * The one thing to know before changing it: the worker's per-user count is the truth and
 * Redis only ever receives it as an absolute value, in the order the changes happened (one
 * link, answers in order). Any write whose fate is unknown marks the user `dirty`, and a
 * dirty user is written again with the count of that moment; a new link starts a new
 * incarnation and rewrites everyone. Nothing is ever incremented in Redis, so nothing can
 * be counted twice by a retry. */
#include "storage/user_status.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <xxhash.h>

#include "core/log.h"

enum {
    US_ARGS_MAX = 16,
    US_KEY_BYTES = USER_STATUS_PREFIX_BYTES_MAX + 8 + USER_STATUS_USER_BYTES_MAX,
    US_SWEEP_BATCH_MAX = 100000,
};

/* One user this worker holds connections of, or whose last count is still being written. */
struct us_user {
    struct hmap_node node;
    struct user_status *us;
    struct us_user *dirty_next; /* in us->dirty while `dirty` */
    uint32_t open;              /* connections counted and not yet closed */
    uint32_t checking;          /* limit checks in flight (counted in Redis as if allowed) */
    uint32_t inflight;          /* commands in flight whose callback points here */
    bool dirty;                 /* Redis may not hold open + checking: write it again */
    uint8_t len;
    char id[]; /* `len` bytes */
};

struct user_status_check {
    struct us_user *u;
    user_status_admit_fn fn;
    void *ctx;
    bool cancelled;
};

struct us_get {
    struct user_status *us;
    user_status_get_fn fn;
    void *ctx;
};

const char *user_status_admit_name(enum user_status_admit admit)
{
    switch (admit) {
    case USER_STATUS_ALLOWED:
        return "allowed";
    case USER_STATUS_UNCHECKED:
        return "unchecked";
    case USER_STATUS_REFUSED:
        return "refused";
    case USER_STATUS_PENDING:
        return "pending";
    case USER_STATUS_NOMEM:
        return "nomem";
    }
    return "unknown";
}

void user_status_params_defaults(struct user_status_params *p)
{
    memset(p, 0, sizeof *p);
    redis_conn_params_defaults(&p->redis);
    p->redis.name = "status";
    p->key_prefix = "tidegate:";
    p->ttl_ms = 30000;
    p->heartbeat_ms = 10000;
    p->seen_ttl_ms = 30ull * 24 * 3600 * 1000;
    p->max_connections = 0;
    p->sweep_batch = 1000;
    p->rewrite_inflight_max = 1024;
}

/* ---- commands: EVALSHA with binary-safe arguments ---- */

struct us_args {
    int argc;
    const char *argv[US_ARGS_MAX];
    size_t len[US_ARGS_MAX];
    char numbers[4][24]; /* storage for formatted integers */
    int numbers_used;
};

static void us_arg(struct us_args *a, const char *s, size_t len)
{
    assert(a->argc < US_ARGS_MAX);
    a->argv[a->argc] = s;
    a->len[a->argc++] = len;
}

static void us_arg_str(struct us_args *a, const char *s)
{
    us_arg(a, s, strlen(s));
}

static void us_arg_u64(struct us_args *a, uint64_t v)
{
    assert(a->numbers_used < 4);
    char *buf = a->numbers[a->numbers_used++];
    int n = snprintf(buf, sizeof a->numbers[0], "%llu", (unsigned long long)v);
    us_arg(a, buf, (size_t)n);
}

static void us_args_eval(struct us_args *a, const struct user_status *us,
                         enum user_status_script script, int keys)
{
    a->argc = a->numbers_used = 0;
    us_arg_str(a, "EVALSHA");
    us_arg_str(a, us->sha[script]);
    us_arg_u64(a, (uint64_t)keys);
}

static size_t us_user_key(const struct user_status *us, const char *id, size_t len,
                          char out[US_KEY_BYTES])
{
    int n = snprintf(out, US_KEY_BYTES, "%suser:", us->prefix);
    assert(n > 0 && (size_t)n + len < US_KEY_BYTES);
    memcpy(out + n, id, len);
    return (size_t)n + len;
}

/* An array reply of `n` integers. */
static bool us_reply_ints(const redisReply *r, long long *out, size_t n)
{
    if (r == NULL || r->type != REDIS_REPLY_ARRAY || r->elements != n)
        return false;
    for (size_t i = 0; i < n; i++) {
        if (r->element[i]->type != REDIS_REPLY_INTEGER)
            return false;
        out[i] = r->element[i]->integer;
    }
    return true;
}

static uint32_t us_clamp_u32(long long v)
{
    return v < 0 ? 0 : v > UINT32_MAX ? UINT32_MAX : (uint32_t)v;
}

/* A command that did not get its answer. Error replies are logged (first, then at powers
 * of two); a NOSCRIPT means the scripts were flushed, and a new link reloads them. Lost
 * links and timeouts are logged by the connection. */
static void us_note_failure(struct user_status *us, enum redis_status status,
                            const redisReply *reply, const char *what)
{
    if (status != REDIS_STATUS_ERROR)
        return;
    const char *text = reply != NULL && reply->str != NULL ? reply->str : "(no message)";
    if (strncmp(text, "NOSCRIPT", 8) == 0) {
        redis_conn_fail(&us->conn, "Redis no longer has the status scripts (SCRIPT FLUSH?); "
                                   "reconnecting to load them");
        return;
    }
    us->errors++;
    if ((us->errors & (us->errors - 1)) == 0)
        log_warn("redis", "Redis refused a user status command", "what=%s errors=%llu error=\"%s\"",
                 what, (unsigned long long)us->errors, text);
}

/* ---- the users this worker holds ---- */

static uint64_t us_hash(const char *id, size_t len)
{
    return XXH3_64bits(id, len);
}

static struct us_user *us_user_find(const struct user_status *us, const char *id, size_t len)
{
    uint64_t hash = us_hash(id, len);
    for (struct hmap_node *n = hmap_first(&us->users, hash); n != NULL; n = hmap_next(n)) {
        struct us_user *u = hmap_entry(n, struct us_user, node);
        if (u->len == len && memcmp(u->id, id, len) == 0)
            return u;
    }
    return NULL;
}

static struct us_user *us_user_get(struct user_status *us, const char *id, size_t len)
{
    struct us_user *u = us_user_find(us, id, len);
    if (u != NULL)
        return u;
    u = calloc(1, sizeof *u + len);
    if (u == NULL)
        return NULL;
    u->us = us;
    u->len = (uint8_t)len;
    memcpy(u->id, id, len);
    if (!hmap_insert(&us->users, &u->node, us_hash(id, len))) {
        free(u);
        return NULL;
    }
    pg_metric_set(&us->metrics->users, us->users.count);
    return u;
}

static uint32_t us_value(const struct us_user *u)
{
    return u->open + u->checking;
}

static void us_maybe_free(struct user_status *us, struct us_user *u)
{
    if (u->open > 0 || u->checking > 0 || u->inflight > 0 || u->dirty)
        return;
    hmap_remove(&us->users, &u->node);
    pg_metric_set(&us->metrics->users, us->users.count);
    free(u);
}

static void us_dirty_push(struct user_status *us, struct us_user *u)
{
    assert(!u->dirty);
    u->dirty = true;
    u->dirty_next = us->dirty;
    us->dirty = u;
}

static struct us_user *us_dirty_pop(struct user_status *us)
{
    struct us_user *u = us->dirty;
    if (u == NULL)
        return NULL;
    us->dirty = u->dirty_next;
    u->dirty_next = NULL;
    u->dirty = false;
    return u;
}

/* Redis may not hold u's count. While the link is down there is nothing to remember: the
 * next link rewrites every user anyway. */
static void us_mark_dirty(struct user_status *us, struct us_user *u)
{
    if (!u->dirty && us->link_up)
        us_dirty_push(us, u);
}

/* ---- writing counts ---- */

static void us_flush(struct user_status *us);

static void us_on_set(void *ctx, enum redis_status status, const redisReply *reply)
{
    struct us_user *u = ctx;
    struct user_status *us = u->us;
    assert(u->inflight > 0 && us->writes_inflight > 0);
    u->inflight--;
    us->writes_inflight--;
    if (status != REDIS_STATUS_REPLY && status != REDIS_STATUS_CANCELLED) {
        pg_metric_add(&us->metrics->writes_failed_total, 1);
        us_note_failure(us, status, reply, "write");
        us_mark_dirty(us, u);
        /* A Redis that refuses writes (maxmemory, a read-only replica) would refuse the
         * next one too: wait for the heartbeat instead of retrying at round-trip pace. */
        us->rewriting = false;
    }
    us_maybe_free(us, u);
    if (us->rewriting)
        us_flush(us);
}

static enum redis_refusal us_send_set(struct user_status *us, struct us_user *u)
{
    char key[US_KEY_BYTES];
    size_t key_len = us_user_key(us, u->id, u->len, key);
    struct us_args a;
    us_args_eval(&a, us, US_SCRIPT_SET, 2);
    us_arg(&a, key, key_len);
    us_arg_str(&a, us->users_key);
    us_arg(&a, u->id, u->len);
    us_arg_str(&a, us->field);
    us_arg_u64(&a, us_value(u));
    us_arg_u64(&a, us->seen_ttl_ms);
    enum redis_refusal r = redis_conn_command(&us->conn, a.argc, a.argv, a.len, us_on_set, u);
    if (r == REDIS_ACCEPTED) {
        u->inflight++;
        us->writes_inflight++;
        pg_metric_add(&us->metrics->writes_total, 1);
    }
    return r;
}

/* Writes u's count now, or marks it to be written again. */
static void us_write(struct user_status *us, struct us_user *u)
{
    if (u->dirty)
        return; /* a rewrite is queued: it will carry the count of its moment */
    if (us_send_set(us, u) != REDIS_ACCEPTED) {
        pg_metric_add(&us->metrics->writes_failed_total, 1);
        us_mark_dirty(us, u);
    }
}

/* Rewrites dirty users, at most rewrite_inflight_max writes in flight (so a resync of many
 * users leaves room for limit checks); while `rewriting`, goes on as answers come back. */
static void us_flush(struct user_status *us)
{
    if (us->dirty == NULL)
        us->rewriting = false;
    while (us->dirty != NULL && us->writes_inflight < us->rewrite_inflight_max &&
           redis_conn_ready(&us->conn)) {
        struct us_user *u = us_dirty_pop(us);
        if (us_send_set(us, u) != REDIS_ACCEPTED) {
            us_dirty_push(us, u);
            break;
        }
    }
}

/* ---- incarnations ---- */

static uint64_t us_random(struct user_status *us)
{
    uint64_t v;
    if (getrandom(&v, sizeof v, GRND_NONBLOCK) == (ssize_t)sizeof v)
        return v;
    us->rng ^= us->rng << 13;
    us->rng ^= us->rng >> 7;
    us->rng ^= us->rng << 17;
    return us->rng ^ loop_clock_ms();
}

static void us_on_register(void *ctx, enum redis_status status, const redisReply *reply)
{
    struct user_status *us = ctx;
    if (status == REDIS_STATUS_REPLY) {
        redis_conn_proven(&us->conn); /* scripts loaded, registered: this link works */
        return;
    }
    if (status == REDIS_STATUS_ERROR) {
        char why[REDIS_CONN_ERROR_BYTES];
        snprintf(why, sizeof why, "Redis refused to register this worker's status: %s",
                 reply->str != NULL ? reply->str : "(no message)");
        redis_conn_fail(&us->conn, why);
    }
}

/* A new incarnation: registered (ending the previous one) and every user rewritten. */
static void us_resync(struct user_status *us)
{
    if (us->inc[0] != '\0')
        snprintf(us->inc_prev, sizeof us->inc_prev, "%s", us->inc);
    snprintf(us->inc, sizeof us->inc, "%s#%016llx", us->instance,
             (unsigned long long)us_random(us));
    snprintf(us->field, sizeof us->field, "c:%s", us->inc);
    snprintf(us->users_key, sizeof us->users_key, "%sinst:%s:users", us->prefix, us->inc);
    struct us_args a;
    us_args_eval(&a, us, US_SCRIPT_INST, 1);
    us_arg_str(&a, us->inst_key);
    us_arg_str(&a, "new");
    us_arg_str(&a, us->inc);
    us_arg_u64(&a, us->ttl_ms);
    us_arg_str(&a, us->inc_prev);
    if (redis_conn_command(&us->conn, a.argc, a.argv, a.len, us_on_register, us) !=
        REDIS_ACCEPTED) {
        redis_conn_fail(&us->conn, "could not queue this worker's registration");
        return;
    }
    pg_metric_add(&us->metrics->resyncs_total, 1);
    while (us_dirty_pop(us) != NULL)
        ;
    for (size_t b = 0; b < hmap_bucket_count(&us->users); b++) {
        struct hmap_node *next;
        for (struct hmap_node *n = hmap_bucket(&us->users, b); n != NULL; n = next) {
            next = n->next;
            struct us_user *u = hmap_entry(n, struct us_user, node);
            if (us_value(u) > 0)
                us_dirty_push(us, u);
            else
                us_maybe_free(us, u);
        }
    }
    us->rewriting = true;
    log_info("redis", "user status registered; rewriting this worker's users",
             "incarnation=\"%s\" ended=\"%s\" users=%zu", us->inc, us->inc_prev, us->users.count);
    us_flush(us);
}

static void us_on_script(void *ctx, enum redis_status status, const redisReply *reply)
{
    struct user_status *us = ctx;
    char why[REDIS_CONN_ERROR_BYTES];
    if (status == REDIS_STATUS_ERROR) {
        snprintf(why, sizeof why, "Redis refused to load a status script: %s",
                 reply->str != NULL ? reply->str : "(no message)");
        redis_conn_fail(&us->conn, why);
        return;
    }
    if (status != REDIS_STATUS_REPLY)
        return; /* the link is going; the next one loads them again */
    for (int i = 0; i < US_SCRIPT_COUNT; i++)
        if (reply->type == REDIS_REPLY_STRING && strcmp(reply->str, us->sha[i]) == 0)
            return;
    redis_conn_fail(&us->conn, "Redis named a status script by another SHA-1 than ours");
}

static void us_on_up(void *owner)
{
    struct user_status *us = owner;
    us->link_up = true;
    /* First on the link, so every EVALSHA after them finds its script. */
    for (int i = 0; i < US_SCRIPT_COUNT; i++) {
        const char *text = user_status_lua_text((enum user_status_script)i);
        const char *argv[] = {"SCRIPT", "LOAD", text};
        size_t lens[] = {6, 4, strlen(text)};
        if (redis_conn_command(&us->conn, 3, argv, lens, us_on_script, us) != REDIS_ACCEPTED) {
            redis_conn_fail(&us->conn, "could not queue the status scripts");
            return;
        }
    }
    us_resync(us);
}

static void us_on_down(void *owner, const char *why)
{
    (void)why; /* logged by the connection */
    struct user_status *us = owner;
    us->link_up = false;
    /* The next link rewrites every user: nothing to remember until then. */
    struct us_user *u;
    while ((u = us_dirty_pop(us)) != NULL)
        us_maybe_free(us, u);
}

static const struct redis_conn_ops us_conn_ops = {.up = us_on_up, .down = us_on_down};

/* ---- heartbeat and sweep ---- */

static void us_on_beat(void *ctx, enum redis_status status, const redisReply *reply)
{
    struct user_status *us = ctx;
    long long v[2];
    if (status != REDIS_STATUS_REPLY || !us_reply_ints(reply, v, 2)) {
        us_note_failure(us, status, reply, "heartbeat");
        return;
    }
    pg_metric_add(&us->metrics->heartbeats_total, 1);
    if (v[0] == 1 || us->destroying || !us->link_up)
        return;
    /* Our heartbeats came too late (or the data is gone): readers no longer count us and may
     * have removed our counts. Start over under a new name. */
    pg_metric_add(&us->metrics->expired_total, 1);
    log_warn("redis", "this worker's user status had expired in Redis; rewriting it",
             "incarnation=\"%s\" ttl_ms=%u heartbeat_ms=%u", us->inc, us->ttl_ms, us->heartbeat_ms);
    us_resync(us);
}

static void us_on_sweep(void *ctx, enum redis_status status, const redisReply *reply)
{
    struct user_status *us = ctx;
    if (status != REDIS_STATUS_REPLY || reply->type != REDIS_REPLY_INTEGER) {
        us_note_failure(us, status, reply, "sweep");
        return;
    }
    pg_metric_add(&us->metrics->swept_total, us_clamp_u32(reply->integer));
}

static void us_tick(struct user_status *us)
{
    tw_arm(&us->loop->wheel, &us->timer, us->loop->now_ms + us->heartbeat_ms);
    if (!us->link_up || !redis_conn_ready(&us->conn))
        return;
    struct us_args a;
    us_args_eval(&a, us, US_SCRIPT_INST, 1);
    us_arg_str(&a, us->inst_key);
    us_arg_str(&a, "beat");
    us_arg_str(&a, us->inc);
    us_arg_u64(&a, us->ttl_ms);
    us_arg_str(&a, "");
    if (redis_conn_command(&us->conn, a.argc, a.argv, a.len, us_on_beat, us) != REDIS_ACCEPTED)
        return;
    us_args_eval(&a, us, US_SCRIPT_SWEEP, 1);
    us_arg_str(&a, us->inst_key);
    us_arg_str(&a, us->prefix);
    us_arg_u64(&a, us->sweep_batch);
    us_arg_u64(&a, us->seen_ttl_ms);
    if (redis_conn_command(&us->conn, a.argc, a.argv, a.len, us_on_sweep, us) != REDIS_ACCEPTED)
        return;
    us->rewriting = true; /* until a write fails or nothing is dirty */
    us_flush(us);
}

/* ---- connections ---- */

static void us_admit(struct user_status *us, struct us_user *u)
{
    u->open++;
    pg_metric_add(&us->metrics->connections, 1);
}

static void us_on_check(void *ctx, enum redis_status status, const redisReply *reply)
{
    struct user_status_check *chk = ctx;
    struct us_user *u = chk->u;
    struct user_status *us = u->us;
    assert(u->checking > 0 && u->inflight > 0);
    u->checking--;
    u->inflight--;
    enum user_status_admit verdict = USER_STATUS_UNCHECKED;
    uint32_t connections = 0;
    long long v[2];
    if (status == REDIS_STATUS_REPLY && us_reply_ints(reply, v, 2)) {
        verdict = v[0] == 1 ? USER_STATUS_ALLOWED : USER_STATUS_REFUSED;
        connections = us_clamp_u32(v[1]);
    } else {
        us_note_failure(us, status, reply, "limit check");
    }
    if (us->destroying) {
        free(chk);
        return;
    }
    if (verdict == USER_STATUS_REFUSED)
        pg_metric_add(&us->metrics->limit_refused_total, 1);
    if (chk->cancelled || verdict == USER_STATUS_REFUSED) {
        /* Not counted here; Redis may still count it (the check wrote it, or a write sent
         * while it was in flight did): write the count without it. */
        us_write(us, u);
    } else {
        if (verdict == USER_STATUS_UNCHECKED) {
            pg_metric_add(&us->metrics->unchecked_total, 1);
            us_write(us, u); /* whether the check wrote anything is unknown */
        }
        us_admit(us, u);
    }
    if (!chk->cancelled)
        chk->fn(chk->ctx, verdict, connections);
    free(chk);
    us_maybe_free(us, u);
}

static enum redis_refusal us_send_check(struct user_status *us, struct user_status_check *chk)
{
    struct us_user *u = chk->u;
    char key[US_KEY_BYTES];
    size_t key_len = us_user_key(us, u->id, u->len, key);
    struct us_args a;
    us_args_eval(&a, us, US_SCRIPT_CHECK, 3);
    us_arg(&a, key, key_len);
    us_arg_str(&a, us->inst_key);
    us_arg_str(&a, us->users_key);
    us_arg_str(&a, us->prefix);
    us_arg(&a, u->id, u->len);
    us_arg_str(&a, us->field);
    us_arg_u64(&a, us_value(u));
    us_arg_u64(&a, us->max_connections);
    us_arg_u64(&a, us->seen_ttl_ms);
    return redis_conn_command(&us->conn, a.argc, a.argv, a.len, us_on_check, chk);
}

enum user_status_admit user_status_connect(struct user_status *us, const char *user,
                                           size_t user_len, user_status_admit_fn fn, void *ctx,
                                           struct user_status_check **check)
{
    assert(!us->destroying && check != NULL);
    assert(user_len >= 1 && user_len <= USER_STATUS_USER_BYTES_MAX);
    *check = NULL;
    struct us_user *u = us_user_get(us, user, user_len);
    if (u == NULL)
        return USER_STATUS_NOMEM;
    pg_metric_add(&us->metrics->connects_total, 1);
    if (us->max_connections == 0) {
        us_admit(us, u);
        us_write(us, u);
        return USER_STATUS_ALLOWED;
    }
    struct user_status_check *chk = redis_conn_ready(&us->conn) ? malloc(sizeof *chk) : NULL;
    if (chk != NULL) {
        assert(fn != NULL);
        *chk = (struct user_status_check){.u = u, .fn = fn, .ctx = ctx};
        u->checking++;
        if (us_send_check(us, chk) == REDIS_ACCEPTED) {
            u->inflight++;
            pg_metric_add(&us->metrics->limit_checks_total, 1);
            *check = chk;
            return USER_STATUS_PENDING;
        }
        u->checking--;
        free(chk);
    }
    /* Redis cannot be asked now: let the connection in and say so. */
    pg_metric_add(&us->metrics->unchecked_total, 1);
    us_admit(us, u);
    us_write(us, u);
    return USER_STATUS_UNCHECKED;
}

void user_status_cancel(struct user_status *us, struct user_status_check *check)
{
    (void)us;
    assert(check != NULL && !check->cancelled);
    check->cancelled = true;
}

void user_status_disconnect(struct user_status *us, const char *user, size_t user_len)
{
    assert(!us->destroying);
    struct us_user *u = us_user_find(us, user, user_len);
    assert(u != NULL && u->open > 0); /* one call per counted connection */
    if (u == NULL || u->open == 0)
        return;
    u->open--;
    pg_metric_set(&us->metrics->connections, pg_metric_get(&us->metrics->connections) - 1);
    pg_metric_add(&us->metrics->disconnects_total, 1);
    us_write(us, u);
    us_maybe_free(us, u);
}

/* ---- reads ---- */

static void us_on_get(void *ctx, enum redis_status status, const redisReply *reply)
{
    struct us_get *g = ctx;
    struct user_status *us = g->us;
    long long v[3];
    bool ok = status == REDIS_STATUS_REPLY && us_reply_ints(reply, v, 3);
    if (!ok)
        us_note_failure(us, status, reply, "status read");
    if (!us->destroying) {
        if (ok) {
            pg_metric_add(&us->metrics->gets_total, 1);
            struct user_status_info info = {
                .online = v[0] > 0,
                .connections = us_clamp_u32(v[0]),
                .last_seen_ms = (uint64_t)(v[0] > 0   ? v[2]
                                           : v[1] > 0 ? v[1]
                                                      : 0),
            };
            g->fn(g->ctx, &info);
        } else {
            pg_metric_add(&us->metrics->gets_failed_total, 1);
            g->fn(g->ctx, NULL);
        }
    }
    free(g);
}

int user_status_get(struct user_status *us, const char *user, size_t user_len,
                    user_status_get_fn fn, void *ctx)
{
    assert(!us->destroying && fn != NULL);
    assert(user_len >= 1 && user_len <= USER_STATUS_USER_BYTES_MAX);
    struct us_get *g = redis_conn_ready(&us->conn) ? malloc(sizeof *g) : NULL;
    if (g == NULL) {
        pg_metric_add(&us->metrics->gets_refused_total, 1);
        return -1;
    }
    *g = (struct us_get){.us = us, .fn = fn, .ctx = ctx};
    char key[US_KEY_BYTES];
    size_t key_len = us_user_key(us, user, user_len, key);
    struct us_args a;
    us_args_eval(&a, us, US_SCRIPT_GET, 2);
    us_arg(&a, key, key_len);
    us_arg_str(&a, us->inst_key);
    us_arg_str(&a, us->prefix);
    us_arg(&a, user, user_len);
    us_arg_u64(&a, us->seen_ttl_ms);
    if (redis_conn_command(&us->conn, a.argc, a.argv, a.len, us_on_get, g) != REDIS_ACCEPTED) {
        free(g);
        pg_metric_add(&us->metrics->gets_refused_total, 1);
        return -1;
    }
    return 0;
}

/* ---- life ---- */

static void us_on_leave(void *ctx, enum redis_status status, const redisReply *reply)
{
    us_note_failure(ctx, status, reply, "leave");
}

void user_status_leave(struct user_status *us)
{
    if (!us->link_up || us->inc[0] == '\0')
        return;
    struct us_args a;
    us_args_eval(&a, us, US_SCRIPT_INST, 1);
    us_arg_str(&a, us->inst_key);
    us_arg_str(&a, "leave");
    us_arg_str(&a, us->inc);
    us_arg_u64(&a, us->ttl_ms);
    us_arg_str(&a, "");
    if (redis_conn_command(&us->conn, a.argc, a.argv, a.len, us_on_leave, us) != REDIS_ACCEPTED)
        log_info("redis", "could not end this worker's user status in Redis; it expires by itself",
                 "incarnation=\"%s\" ttl_ms=%u", us->inc, us->ttl_ms);
}

static int us_check_params(const struct user_status_params *p, char err[REDIS_CONN_ERROR_BYTES])
{
    size_t instance_len = p->instance != NULL ? strlen(p->instance) : 0;
    size_t prefix_len = p->key_prefix != NULL ? strlen(p->key_prefix) : 0;
    const char *what = NULL;
    if (instance_len == 0 || instance_len > USER_STATUS_INSTANCE_BYTES_MAX)
        what = "instance must be 1..64 bytes (the node and worker, e.g. gw-a:8080/0)";
    else if (p->key_prefix == NULL || prefix_len > USER_STATUS_PREFIX_BYTES_MAX)
        what = "key_prefix must be at most 64 bytes";
    else if (p->ttl_ms == 0 || p->heartbeat_ms == 0 || p->heartbeat_ms > p->ttl_ms / 2)
        what = "heartbeat_ms must be > 0 and at most half of ttl_ms (a late heartbeat must "
               "not expire the node)";
    else if (p->seen_ttl_ms == 0)
        what = "seen_ttl_ms must be > 0";
    else if (p->sweep_batch == 0 || p->sweep_batch > US_SWEEP_BATCH_MAX)
        what = "sweep_batch must be 1..100000";
    else if (p->rewrite_inflight_max == 0 || p->rewrite_inflight_max > p->redis.pending_max)
        what = "rewrite_inflight_max must be 1..redis pending_max";
    if (what == NULL)
        return 0;
    snprintf(err, REDIS_CONN_ERROR_BYTES, "bad user status settings: %s", what);
    return -1;
}

int user_status_init(struct user_status *us, struct loop *loop, unsigned tag,
                     const struct user_status_params *params, struct user_status_metrics *metrics,
                     char err[REDIS_CONN_ERROR_BYTES])
{
    memset(us, 0, sizeof *us);
    if (us_check_params(params, err) != 0)
        return -1;
    for (int i = 0; i < US_SCRIPT_COUNT; i++) {
        if (user_status_lua_sha((enum user_status_script)i, us->sha[i]) != 0) {
            snprintf(err, REDIS_CONN_ERROR_BYTES, "could not compute SHA-1 of the status scripts");
            return -1;
        }
    }
    us->loop = loop;
    us->metrics = metrics;
    snprintf(us->prefix, sizeof us->prefix, "%s", params->key_prefix);
    snprintf(us->instance, sizeof us->instance, "%s", params->instance);
    snprintf(us->inst_key, sizeof us->inst_key, "%sinst", us->prefix);
    us->ttl_ms = params->ttl_ms;
    us->heartbeat_ms = params->heartbeat_ms;
    us->seen_ttl_ms = params->seen_ttl_ms;
    us->max_connections = params->max_connections;
    us->sweep_batch = params->sweep_batch;
    us->rewrite_inflight_max = params->rewrite_inflight_max;
    us->rng = (uint64_t)(uintptr_t)us ^ ((uint64_t)time(NULL) << 24) ^ 0x2545f4914f6cdd1du;
    hmap_init(&us->users);
    tw_timer_init(&us->timer);
    if (redis_conn_init(&us->conn, loop, tag, &params->redis, &us_conn_ops, us, &metrics->redis,
                        err) != 0) {
        hmap_destroy(&us->users);
        return -1;
    }
    tw_arm(&loop->wheel, &us->timer, loop->now_ms + us->heartbeat_ms);
    return 0;
}

void user_status_dispatch(void *owner, const struct io_uring_cqe *cqe)
{
    redis_conn_dispatch(owner, cqe);
}

bool user_status_on_timer(struct user_status *us, struct tw_timer *t)
{
    if (t == &us->timer) {
        us_tick(us);
        return true;
    }
    return redis_conn_on_timer(&us->conn, t);
}

void user_status_destroy(struct user_status *us)
{
    us->destroying = true;
    us->link_up = false;
    tw_cancel(&us->loop->wheel, &us->timer);
    redis_conn_close(&us->conn); /* answers everything in flight CANCELLED */
    while (us_dirty_pop(us) != NULL)
        ;
    for (size_t b = 0; b < hmap_bucket_count(&us->users); b++) {
        struct hmap_node *next;
        for (struct hmap_node *n = hmap_bucket(&us->users, b); n != NULL; n = next) {
            next = n->next;
            free(hmap_entry(n, struct us_user, node));
        }
    }
    hmap_destroy(&us->users);
    pg_metric_set(&us->metrics->users, 0);
    pg_metric_set(&us->metrics->connections, 0);
    redis_conn_free(&us->conn);
}
