/* Loading the JWT keys and policy from the options (docs/configuration.md, "Client
 * authentication"): each `kid:alg:SOURCE` item of jwt_keys becomes one key of a key set, read
 * once at start from its source: a file path, `env:VARIABLE` (the same bytes from the
 * environment, used as they are) or `base64:KEY` (inline: the secret's bytes or the public
 * key's DER, standard or URL-safe base64, padding optional).
 *
 * Key files: an hs256 file holds the HMAC secret's bytes, used as they are. When the file is
 * one line of printable ASCII (bytes 0x20-0x7e, and tab) ending in "\n" or "\r\n", that
 * line break is dropped, because editors and `echo` add one that the backend signing the
 * tokens does not have; any other file (`head -c 32 /dev/urandom > key`, or text of more
 * than one line) is used byte for byte, since a random secret may well end in 0x0a. rs256
 * and es256 files hold a PEM public key.
 *
 * Runs on the main thread before the workers exist; the key set it fills is read-only
 * afterwards and may be shared by every worker (gateway/jwt.h).
 */
#ifndef TIDEGATE_GATEWAY_AUTH_KEYS_H
#define TIDEGATE_GATEWAY_AUTH_KEYS_H

#include "core/config.h"
#include "gateway/jwt.h"
#include "gateway/options.h"

/* What the workers verify client tokens with. The policy's audience and issuer point into
 * the options (o->jwt_audience, o->jwt_issuer), so the options must outlive it. */
struct gw_auth {
    struct jwt_keyset keys;
    struct jwt_policy policy;
};

/* Fills `ks` (initialized here: pass an uninitialized one) from o->jwt_keys and `policy` from
 * jwt_audience, jwt_issuer, jwt_leeway (whole seconds, rounded down), max_token_bytes, with
 * require_exp set. An empty jwt_keys gives an empty key set and succeeds. Returns 0, or -1
 * with a sentence in err naming the option, the item and the reason (the key set is then
 * empty and its secrets wiped). The caller releases a loaded set with jwt_keyset_free. */
int gw_auth_load(const struct gw_options *o, struct jwt_keyset *ks, struct jwt_policy *policy,
                 char err[CONFIG_ERROR_BYTES]);

#endif
