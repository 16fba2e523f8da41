/* Bench payloads and sequence tracking: see payload.h. Hex is written and read by hand
 * (no printf/strtoul): this runs once per message sent and once per delivery. */
#include "bench/payload.h"

#include <assert.h>
#include <string.h>

static const char hex_digits[16] = "0123456789abcdef";

static void hex_write(uint8_t *out, uint64_t value, unsigned digits)
{
    for (unsigned i = digits; i > 0; i--) {
        out[i - 1] = (uint8_t)hex_digits[value & 0xf];
        value >>= 4;
    }
}

static bool hex_read(const uint8_t *in, unsigned digits, uint64_t *value)
{
    uint64_t v = 0;
    for (unsigned i = 0; i < digits; i++) {
        uint8_t ch = in[i];
        unsigned d;
        if (ch >= '0' && ch <= '9')
            d = ch - '0';
        else if (ch >= 'a' && ch <= 'f')
            d = ch - 'a' + 10u;
        else
            return false;
        v = (v << 4) | d;
    }
    *value = v;
    return true;
}

void payload_write(uint8_t *out, size_t len, const struct payload *p)
{
    assert(len >= PAYLOAD_HEAD_BYTES);
    out[0] = 'T';
    hex_write(out + 1, p->sender, 8);
    hex_write(out + 9, p->seq, 8);
    hex_write(out + 17, p->sent_ns, 16);
    memset(out + PAYLOAD_HEAD_BYTES, '.', len - PAYLOAD_HEAD_BYTES);
}

bool payload_read(const uint8_t *data, size_t len, struct payload *p)
{
    if (len < PAYLOAD_HEAD_BYTES || data[0] != 'T')
        return false;
    uint64_t sender, seq, sent_ns;
    if (!hex_read(data + 1, 8, &sender) || !hex_read(data + 9, 8, &seq) ||
        !hex_read(data + 17, 16, &sent_ns))
        return false;
    p->sender = (uint32_t)sender;
    p->seq = (uint32_t)seq;
    p->sent_ns = sent_ns;
    return true;
}

enum seq_verdict seq_track_see(struct seq_track *t, uint32_t seq)
{
    assert(seq < PAYLOAD_SEQ_MAX);
    if (seq >= t->next) {
        uint64_t advance = (uint64_t)seq + 1u - t->next;
        /* Shift the window so bit 0 is seq; the old top (next - 1) moves to bit `advance`. */
        t->window = advance >= 64 ? 0 : t->window << advance;
        t->window |= 1u;
        t->next = seq + 1u;
        t->received++;
        return SEQ_NEW;
    }
    uint32_t below = t->next - 1u - seq; /* 0 is the highest seen */
    if (below >= 64)
        return SEQ_DUPLICATE;
    uint64_t bit = (uint64_t)1 << below;
    if (t->window & bit)
        return SEQ_DUPLICATE;
    t->window |= bit;
    t->received++;
    return SEQ_REORDERED;
}
