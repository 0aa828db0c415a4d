/* SPDX-License-Identifier: MIT */
/* shmipc/shmipc.h - the whole public API in one include. */
#ifndef SHMIPC_H
#define SHMIPC_H
#include <shmipc/common.h>
#include <shmipc/segment.h>
#include <shmipc/phys.h>
#include <shmipc/event.h>
#include <shmipc/lock.h>
#include <shmipc/channel.h>
#include <shmipc/queue.h>
#include <shmipc/service.h>
#include <shmipc/pubsub.h>
#include <shmipc/reqresp.h>
#include <shmipc/blackboard.h>
#include <shmipc/evsvc.h>
#include <shmipc/waitset.h>
#endif
