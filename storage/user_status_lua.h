/* The Lua scripts behind user status (user_status.h; the key layout is in docs/storage.md,
 * Redis). Each runs atomically in Redis, reads Redis's own clock (TIME) so the nodes' clocks
 * never have to agree, and is called by EVALSHA with the SHA-1 computed here; the owner
 * loads them (SCRIPT LOAD) first on every new link.
 *
 *   SET    KEYS user, my_users   ARGV user, my_field, value, seen_ttl_ms     -> now_ms
 *          this incarnation's count for the user (0 removes it), `seen` = now
 *   CHECK  KEYS user, inst, my_users
 *          ARGV prefix, user, my_field, value, max, seen_ttl_ms             -> {allowed, count}
 *          the live count of the other incarnations + value <= max: write value, allowed 1
 *   GET    KEYS user, inst   ARGV prefix, user, seen_ttl_ms                -> {count, seen, now}
 *   INST   KEYS inst         ARGV mode (new|beat|leave), inc, ttl_ms, old_inc -> {ok, now}
 *          new: register inc alive until now + ttl and end old_inc now; beat: extend inc,
 *          or answer 0 when it has already expired (the caller starts a new incarnation);
 *          leave: end inc now
 *   SWEEP  KEYS inst         ARGV prefix, budget, seen_ttl_ms               -> users swept
 *          removes expired incarnations' counts from their users (at most `budget`), then
 *          the incarnations themselves
 *
 * CHECK and GET drop the counts of expired incarnations they meet (and move `seen` to when
 * the incarnation ended), so an answer never counts a dead node even before a sweep. */
#ifndef TIDEGATE_STORAGE_USER_STATUS_LUA_H
#define TIDEGATE_STORAGE_USER_STATUS_LUA_H

enum user_status_script {
    US_SCRIPT_SET,
    US_SCRIPT_CHECK,
    US_SCRIPT_GET,
    US_SCRIPT_INST,
    US_SCRIPT_SWEEP,
    US_SCRIPT_COUNT,
};

enum { US_SCRIPT_SHA_BYTES = 41 }; /* 40 hex digits and the NUL */

/* The script's text (static). */
const char *user_status_lua_text(enum user_status_script script);

/* The script's name for EVALSHA: lowercase hex SHA-1 of its text. Returns 0, or -1 when the
 * hash could not be computed. */
int user_status_lua_sha(enum user_status_script script, char out[US_SCRIPT_SHA_BYTES]);

#endif
