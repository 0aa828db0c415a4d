/* SPDX-License-Identifier: MIT */
/*
 * bridge/local/nats_local.h - a private nats-server on a free loopback port, for the bridge's tests and
 * `shmipc bridge bench` (never part of libshmipc-nats: linked statically by those two only).
 */
#ifndef SHMIPC_NATS_LOCAL_H
#define SHMIPC_NATS_LOCAL_H

#include <sys/types.h>

/* A TCP port on 127.0.0.1 free right now (the kernel's pick), or -1. */
int shmipc__nats_free_port(void);

/*
 * Start nats-server (from PATH) on 127.0.0.1:port, with JetStream storing in jsdir if not NULL, its
 * output discarded. Returns its pid (the caller waits for it to answer, then kills and reaps it), or -1.
 * An exec failure shows as the child's exit status 127.
 */
pid_t shmipc__nats_local_start(int port, const char *jsdir);

#endif
