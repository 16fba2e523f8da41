/* The user status scripts: see user_status_lua.h. Changing a script changes its SHA-1, and
 * every link loads the scripts it uses, so nodes of two versions can share a Redis; but the
 * key layout is shared by every node of a cluster: change it only with a new key prefix. */
#include "storage/user_status_lua.h"

#include <assert.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <wolfssl/options.h>
#include <wolfssl/wolfcrypt/sha.h>

/* The scripts read as Lua: one line of Lua per line of C. */
// clang-format off

/* Redis's clock in milliseconds, the same for every node. */
#define LUA_NOW \
    "local t = redis.call('TIME')\n" \
    "local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)\n"

/* The live count of a user across incarnations (skipping `skip`, the caller's own field),
 * dropping the fields of expired incarnations on the way. Returns count, seen. */
#define LUA_LIVE \
    "local function live(ukey, ikey, prefix, user, skip, seen_ttl)\n" \
    "  local h = redis.call('HGETALL', ukey)\n" \
    "  local sum, seen, gone, pruned = 0, 0, 0, false\n" \
    "  for i = 1, #h, 2 do\n" \
    "    local f = h[i]\n" \
    "    if f == 'seen' then\n" \
    "      seen = tonumber(h[i + 1]) or 0\n" \
    "    elseif f ~= skip and string.sub(f, 1, 2) == 'c:' then\n" \
    "      local inc = string.sub(f, 3)\n" \
    "      local exp = tonumber(redis.call('ZSCORE', ikey, inc) or '0')\n" \
    "      if exp > now then\n" \
    "        sum = sum + (tonumber(h[i + 1]) or 0)\n" \
    "      else\n" \
    "        redis.call('HDEL', ukey, f)\n" \
    "        redis.call('SREM', prefix .. 'inst:' .. inc .. ':users', user)\n" \
    "        pruned = true\n" \
    "        if exp > gone then gone = exp end\n" \
    "      end\n" \
    "    end\n" \
    "  end\n" \
    "  if gone > seen then\n" \
    "    seen = gone\n" \
    "    redis.call('HSET', ukey, 'seen', seen)\n" \
    "  end\n" \
    "  if pruned and redis.call('HLEN', ukey) <= 1 then\n" \
    "    redis.call('PEXPIRE', ukey, seen_ttl)\n" \
    "  end\n" \
    "  return sum, seen\n" \
    "end\n"

static const char lua_set[] =
    LUA_NOW
    "local v = tonumber(ARGV[3])\n"
    "if v > 0 then\n"
    "  redis.call('HSET', KEYS[1], ARGV[2], v, 'seen', now)\n"
    "  redis.call('SADD', KEYS[2], ARGV[1])\n"
    "  redis.call('PERSIST', KEYS[1])\n"
    "else\n"
    "  redis.call('HDEL', KEYS[1], ARGV[2])\n"
    "  redis.call('SREM', KEYS[2], ARGV[1])\n"
    "  redis.call('HSET', KEYS[1], 'seen', now)\n"
    "  if redis.call('HLEN', KEYS[1]) <= 1 then\n"
    "    redis.call('PEXPIRE', KEYS[1], ARGV[4])\n"
    "  end\n"
    "end\n"
    "return now\n";

static const char lua_check[] =
    LUA_NOW LUA_LIVE
    "local others = live(KEYS[1], KEYS[2], ARGV[1], ARGV[2], ARGV[3], ARGV[6])\n"
    "local v = tonumber(ARGV[4])\n"
    "if others + v > tonumber(ARGV[5]) then\n"
    "  return {0, others + (tonumber(redis.call('HGET', KEYS[1], ARGV[3]) or '0') or 0)}\n"
    "end\n"
    "redis.call('HSET', KEYS[1], ARGV[3], v, 'seen', now)\n"
    "redis.call('SADD', KEYS[3], ARGV[2])\n"
    "redis.call('PERSIST', KEYS[1])\n"
    "return {1, others + v}\n";

static const char lua_get[] =
    LUA_NOW LUA_LIVE
    "local count, seen = live(KEYS[1], KEYS[2], ARGV[1], ARGV[2], '', ARGV[3])\n"
    "return {count, seen, now}\n";

static const char lua_inst[] =
    LUA_NOW
    "if ARGV[1] == 'leave' then\n"
    "  redis.call('ZADD', KEYS[1], 'XX', 'LT', now, ARGV[2])\n"
    "  return {1, now}\n"
    "end\n"
    "if ARGV[1] == 'beat' then\n"
    "  local exp = tonumber(redis.call('ZSCORE', KEYS[1], ARGV[2]) or '0')\n"
    "  if exp <= now then\n"
    "    return {0, now}\n"
    "  end\n"
    "end\n"
    "redis.call('ZADD', KEYS[1], now + tonumber(ARGV[3]), ARGV[2])\n"
    "if ARGV[4] ~= '' then\n"
    "  redis.call('ZADD', KEYS[1], 'XX', 'LT', now, ARGV[4])\n"
    "end\n"
    "return {1, now}\n";

static const char lua_sweep[] =
    LUA_NOW
    "local budget = tonumber(ARGV[2])\n"
    "local done = 0\n"
    "local dead = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now,\n"
    "                        'WITHSCORES', 'LIMIT', 0, 32)\n"
    "for i = 1, #dead, 2 do\n"
    "  if done >= budget then break end\n"
    "  local inc, exp = dead[i], tonumber(dead[i + 1])\n"
    "  local set = ARGV[1] .. 'inst:' .. inc .. ':users'\n"
    "  local users = redis.call('SPOP', set, budget - done)\n"
    "  for _, u in ipairs(users) do\n"
    "    local ukey = ARGV[1] .. 'user:' .. u\n"
    "    if redis.call('HDEL', ukey, 'c:' .. inc) == 1 then\n"
    "      if exp > (tonumber(redis.call('HGET', ukey, 'seen') or '0') or 0) then\n"
    "        redis.call('HSET', ukey, 'seen', exp)\n"
    "      end\n"
    "      if redis.call('HLEN', ukey) <= 1 then\n"
    "        redis.call('PEXPIRE', ukey, ARGV[3])\n"
    "      end\n"
    "    end\n"
    "    done = done + 1\n"
    "  end\n"
    "  if redis.call('SCARD', set) == 0 then\n"
    "    redis.call('ZREM', KEYS[1], inc)\n"
    "  end\n"
    "end\n"
    "return done\n";

// clang-format on

const char *user_status_lua_text(enum user_status_script script)
{
    switch (script) {
    case US_SCRIPT_SET:
        return lua_set;
    case US_SCRIPT_CHECK:
        return lua_check;
    case US_SCRIPT_GET:
        return lua_get;
    case US_SCRIPT_INST:
        return lua_inst;
    case US_SCRIPT_SWEEP:
        return lua_sweep;
    case US_SCRIPT_COUNT:
        break;
    }
    assert(0 && "no such script");
    return "";
}

int user_status_lua_sha(enum user_status_script script, char out[US_SCRIPT_SHA_BYTES])
{
    const char *text = user_status_lua_text(script);
    byte digest[WC_SHA_DIGEST_SIZE];
    wc_Sha sha;
    if (wc_InitSha(&sha) != 0)
        return -1;
    bool ok = wc_ShaUpdate(&sha, (const byte *)text, (word32)strlen(text)) == 0 &&
              wc_ShaFinal(&sha, digest) == 0;
    wc_ShaFree(&sha);
    if (!ok)
        return -1;
    for (size_t i = 0; i < sizeof digest; i++)
        snprintf(out + 2 * i, 3, "%02x", digest[i]);
    return 0;
}
