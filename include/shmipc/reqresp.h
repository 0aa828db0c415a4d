/* SPDX-License-Identifier: MIT */
/*
 * shmipc/reqresp.h - the request/response service: clients send requests, one server answers each with
 * one response, or with a stream of responses ended by one without SHMIPC_RR_MORE.
 *
 * Every client has its own slot in the service segment with a request ring (client -> server) and a
 * response ring (server -> client), each of `depth` fixed-size messages; so clients never contend with
 * each other and a message moves with plain loads and stores. A request carries a correlation id chosen
 * by the client library; the server's response carries it back. The server sleeps on one notify word for
 * "some client sent a request"; each client sleeps on its own. No system call is made while nobody sleeps.
 *
 * Crashes: a client killed with requests pending is reclaimed (its requests are dropped and counted in the
 * "dropped" statistic, its slot freed for a new client). A server killed while clients wait makes their
 * waits return -EPIPE within about 50 ms; a restarted server (shmipc_reqresp_server_create again) takes the service
 * over and serves new requests. Only one server at a time (-EBUSY).
 */
#ifndef SHMIPC_REQRESP_H
#define SHMIPC_REQRESP_H

#include <shmipc/common.h>
#include <shmipc/service.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct shmipc_reqresp_server shmipc_reqresp_server;
typedef struct shmipc_reqresp_client shmipc_reqresp_client;

/* Largest request or response payload, bytes. */
#define SHMIPC_RR_MAX_MESSAGE (1u << 20)
/* Largest depth (messages per ring). */
#define SHMIPC_RR_MAX_DEPTH 65536u

/*
 * Settings of a request/response service. The server creates the service with them (zero = default);
 * a client (or a server taking over an existing service) passes its own: each non-zero field must equal
 * the service's, else -EPROTOTYPE and shmipc_service_error_detail() names the field.
 */
typedef struct shmipc_reqresp_opts {
    uint32_t size;                /* sizeof the structure: set by the opts_init function (docs/api.md) */
    uint32_t pad0;
    const shmipc_type_info *type; /* request payload type (NULL = untyped); its size is the default
                                     max_request */
    uint32_t max_request;         /* largest request payload in bytes; 0 = type size, or 4096 */
    uint32_t max_response;        /* largest response payload in bytes; 0 = max_request */
    uint32_t depth;               /* messages per ring (requests in flight per client, responses
                                     buffered per client), a power of two; 0 = 8 */
    uint32_t max_clients;         /* clients connected at once; 0 = 16 */
    unsigned mode;                /* segment permission bits at creation; 0 = 0600 */
    shmipc_wait_mode wait_mode;   /* how this endpoint waits; 0 = hybrid (spin briefly, then sleep) */
    uint64_t reserved[4];         /* zero: room for later fields */
} shmipc_reqresp_opts;

/* Flags of a response. */
#define SHMIPC_RR_MORE 1u /* more responses to the same request follow (a stream); the last has no MORE */

/* What the server learns about a request it received; pass it back to shmipc_reqresp_server_respond(). */
typedef struct shmipc_reqresp_request_info {
    uint64_t id;     /* correlation id (unique per client connection) */
    uint32_t client; /* the client's slot number in the service */
    uint32_t gen;    /* the client connection's generation (internal: a later client in that slot
                        never receives this request's responses) */
} shmipc_reqresp_request_info;

/* What a client learns about a response it received. */
typedef struct shmipc_reqresp_response_info {
    uint64_t id;    /* correlation id of the request it answers */
    uint32_t flags; /* SHMIPC_RR_MORE or 0 (the last or only response) */
    uint32_t reserved;
} shmipc_reqresp_response_info;

/* shmipc_reqresp_opts_init - set *opts to the defaults (all zero) and its size word. */
SHMIPC_API void shmipc_reqresp_opts_init(shmipc_reqresp_opts *opts);

/*
 * shmipc_reqresp_server_create - become the server of service name, creating it if it does not exist (or exists
 * but no live process uses it). An existing service whose server died (or closed) is taken over: requests
 * sent to the previous server are dropped, and its clients' waits for them return -EPIPE.
 * opts may be NULL. On success *out is the new handle (close with shmipc_reqresp_server_close).
 * Errors: -EINVAL (bad name or option), -ENAMETOOLONG, -EBUSY (a live server already serves it),
 * -EPROTOTYPE (existing service with other settings; see shmipc_service_error_detail), -EUSERS (participant
 * table full), -EBADMSG (existing service corrupt), -ENOMEM, or an error of shmipc_segment_create/open.
 * Thread safety: a handle is used by one thread at a time; process-safe.
 */
SHMIPC_API int shmipc_reqresp_server_create(const char *name, const shmipc_reqresp_opts *opts,
                                            shmipc_reqresp_server **out);

/*
 * shmipc_reqresp_server_receive - take the next request from any client (clients are served round-robin) and copy
 * its payload into buf (cap bytes). *info receives its id and client, for shmipc_reqresp_server_respond().
 * Waits per timeout_ms (see common.h). While waiting it reclaims clients that died; their pending
 * requests are dropped. Returns the payload length (0 or more).
 * Errors: -EINVAL (NULL argument), -EAGAIN (timeout 0, nothing pending), -ETIMEDOUT, -EMSGSIZE (cap is
 * smaller than the next request; it stays queued), -EBADMSG (a client's ring is corrupt: a request with a
 * bad length is skipped; a ring with bad indices is reported once, then ignored until it is sane again;
 * the next call goes on with the other clients).
 */
SHMIPC_API int shmipc_reqresp_server_receive(shmipc_reqresp_server *srv, shmipc_reqresp_request_info *info, void *buf,
                                             size_t cap, int timeout_ms);

/*
 * shmipc_reqresp_server_respond - send a response of len bytes to the request described by info. flags is 0 for
 * the last (or only) response, SHMIPC_RR_MORE when more follow. Waits per timeout_ms while the client's
 * response ring is full.
 * Errors: -EINVAL (NULL argument, bad client number or flags), -EMSGSIZE (len > max_response),
 * -ENOTCONN (the client disconnected or died; the response is discarded), -EAGAIN, -ETIMEDOUT,
 * -EBADMSG (the client's ring indices are corrupt).
 */
SHMIPC_API int shmipc_reqresp_server_respond(shmipc_reqresp_server *srv, const shmipc_reqresp_request_info *info,
                                             const void *data, size_t len, uint32_t flags, int timeout_ms);

/* shmipc_reqresp_server_close - stop serving (clients waiting get -EPIPE) and free the handle. The service stays
 * for a later server; remove it with shmipc_reqresp_unlink(). NULL is a no-op. Returns 0. */
SHMIPC_API int shmipc_reqresp_server_close(shmipc_reqresp_server *srv);

/*
 * shmipc_reqresp_client_open - connect to the existing service name as a client. opts may be NULL (accept the
 * service's settings). Errors: -EINVAL, -ENAMETOOLONG, -ENOENT (no such service), -EPROTOTYPE,
 * -EUSERS (max_clients already connected), -EBADMSG (corrupt service), -ENOMEM, errors of
 * shmipc_segment_open. Thread safety: one thread at a time per handle.
 */
SHMIPC_API int shmipc_reqresp_client_open(const char *name, const shmipc_reqresp_opts *opts,
                                          shmipc_reqresp_client **out);

/*
 * shmipc_reqresp_client_send - send a request of len bytes; *id (may be NULL) receives its correlation id.
 * Waits per timeout_ms while depth requests are already queued.
 * Errors: -EINVAL, -EMSGSIZE (len > max_request), -EPIPE (no live server), -EAGAIN, -ETIMEDOUT,
 * -EBADMSG (ring indices corrupt).
 */
SHMIPC_API int shmipc_reqresp_client_send(shmipc_reqresp_client *cli, const void *data, size_t len, uint64_t *id,
                                  int timeout_ms);

/*
 * shmipc_reqresp_client_receive - take the next response (to any of this client's requests) and copy its payload
 * into buf (cap bytes); *info (may be NULL) receives its id and flags. Returns the payload length.
 * Errors: -EINVAL, -EAGAIN, -ETIMEDOUT, -EMSGSIZE (cap too small; the response stays queued),
 * -EPIPE (the server closed or died, or was replaced, while requests of this client were pending: they
 * will never be answered), -EBADMSG (the ring or a response header is corrupt; the message is skipped).
 */
SHMIPC_API int shmipc_reqresp_client_receive(shmipc_reqresp_client *cli, shmipc_reqresp_response_info *info, void *buf,
                                             size_t cap, int timeout_ms);

/*
 * shmipc_reqresp_client_call - send a request and wait for its (first) response, copied into resp (cap bytes).
 * Responses to earlier requests that arrive first (e.g. late answers to calls that timed out) are
 * discarded. timeout_ms bounds the whole call. Returns the response length; *info (may be NULL) receives
 * its flags (SHMIPC_RR_MORE: receive the rest of the stream with shmipc_reqresp_client_receive).
 * Errors: those of shmipc_reqresp_client_send and shmipc_reqresp_client_receive.
 */
SHMIPC_API int shmipc_reqresp_client_call(shmipc_reqresp_client *cli, const void *req, size_t len, void *resp,
                                          size_t cap, shmipc_reqresp_response_info *info, int timeout_ms);

/* shmipc_reqresp_server_options / shmipc_reqresp_client_options - the settings this endpoint runs with:
 * the service's max_request, max_response, depth and max_clients (what a field left 0 became), its type
 * (NULL if untyped; else pointing into the handle, valid until it is closed) and this endpoint's
 * wait_mode; mode is 0. out->size must be set (shmipc_reqresp_opts_init). Errors: -EINVAL. */
SHMIPC_API int shmipc_reqresp_server_options(const shmipc_reqresp_server *srv, shmipc_reqresp_opts *out);
SHMIPC_API int shmipc_reqresp_client_options(const shmipc_reqresp_client *cli, shmipc_reqresp_opts *out);

/* shmipc_reqresp_client_close - disconnect (pending requests are dropped) and free the handle. NULL: no-op.
 * Returns 0. */
SHMIPC_API int shmipc_reqresp_client_close(shmipc_reqresp_client *cli);

/*
 * shmipc_reqresp_unlink - remove the service's name; processes that have it open keep working.
 * Errors: -EINVAL, -ENAMETOOLONG, -ENOENT, -EACCES.
 */
SHMIPC_API int shmipc_reqresp_unlink(const char *name);

#ifdef __cplusplus
}
#endif
#endif
