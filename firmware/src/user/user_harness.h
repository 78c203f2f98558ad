/* The harness around a user's own BN function (`toolkit verify --kernel`,
 * docs/verify-your-code.md): the USER command of the protocol.  Built only
 * into harness images (-DBNRT_USER_HARNESS); default images do not contain it.
 *
 * The user's function reaches the harness through one pointer, defined in a
 * file the toolkit generates next to the user's source:
 *   const bnrt_user_bn_f32_fn bnrt_user_entry_f32 = NAME;   (or _s8, the other NULL)
 * or, in a probe build (-DBNRT_USER_PROBE, bnrt_probe.h), through the
 * functions an application registered per layer.
 */
#ifndef BNRT_USER_HARNESS_H
#define BNRT_USER_HARNESS_H

#include <stddef.h>
#include <stdint.h>

#include "bnrt_spec.h"
#include "bnrt_user.h"

/* Capacity; the build sets them per board (toolkit/verify/kernel.py). */
#ifndef BNRT_USER_CHANNELS
#define BNRT_USER_CHANNELS 1024u
#endif
#ifndef BNRT_USER_ELEMENTS
#define BNRT_USER_ELEMENTS 65536u /* floats in each of the input and output buffers */
#endif

#ifdef BNRT_USER_PROBE
/* Probe builds (bnrt_probe.h): the function the application registered for
 * BN layer `layer`, or NULL. */
bnrt_user_bn_f32_fn bnrt_probe_lookup(uint32_t layer);
#else
extern const bnrt_user_bn_f32_fn bnrt_user_entry_f32; /* NULL in an s8 harness */
extern const bnrt_user_bn_s8_fn bnrt_user_entry_s8;   /* NULL in an f32 harness */
#endif

/* One USER request (payload p, n bytes) -> response payload in out (room
 * bytes), its length in *out_len.  No allocation; every index is checked. */
bnrt_status_t bnrt_cmd_user(const uint8_t *p, size_t n, uint8_t *out, size_t room, size_t *out_len);

#endif
