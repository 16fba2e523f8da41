/* What travels between workers: every mailbox item starts with one byte naming its kind, so
 * the receiving worker knows whether the pointer is a struct chan_msg (a delivery), a
 * struct hub_req (a request to a channel's owner, or the owner's reply) or a struct hub_fan
 * (a server API request to every worker, or one worker's part of the answer). */
#ifndef TIDEGATE_GATEWAY_HUB_OP_H
#define TIDEGATE_GATEWAY_HUB_OP_H

enum hub_op {
    HUB_OP_DELIVER = 1, /* owner -> subscribers' workers: struct chan_msg */
    HUB_OP_JOIN,        /* worker -> owner: a subscription starts (reply: HUB_OP_JOINED) */
    HUB_OP_JOINED,
    HUB_OP_LEAVE,   /* worker -> owner: a subscription ended (no reply) */
    HUB_OP_PUBLISH, /* worker -> owner: a message to number and fan out (reply: HUB_OP_ACK) */
    HUB_OP_ACK,
    HUB_OP_TYPING,   /* worker -> owner: relay a typing event (no reply) */
    HUB_OP_PRESENCE, /* worker -> owner: members snapshot (reply: HUB_OP_PRESENCE_REPLY) */
    HUB_OP_PRESENCE_REPLY,
    HUB_OP_HISTORY, /* worker -> owner: a history page (reply: HUB_OP_HISTORY_REPLY) */
    HUB_OP_HISTORY_REPLY,
    HUB_OP_FAN,       /* server API -> every worker: struct hub_fan (gateway/hub_api.h) */
    HUB_OP_FAN_REPLY, /* each worker's part, back to the requester */
};

#endif
