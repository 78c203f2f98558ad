/* Check the BN code inside your own application (`toolkit verify MODEL
 * --kernel probe --port URL`, docs/verify-your-code.md).
 *
 * Link the probe library (firmware/mk/user.mk, `make user-app`) into your
 * firmware, register the function that computes each BN layer, and serve the
 * protocol from your main loop with the non-blocking server of
 * bnrt_cmdloop.h.  That one server answers both the normal protocol (INFO,
 * LOAD, RUN: `toolkit verify MODEL --port URL`) and the USER command, which
 * calls your registered functions: the toolkit sends each layer's tensors
 * and inputs, calls your function and compares its outputs with PyTorch
 * eval mode, as for a harness image.
 *
 *   static bnrt_server_t server;   // static: model slots and frame buffers
 *
 *   int main(void)
 *   {
 *       bnrt_probe_register(0, stem_bn);               // the model's first BN layer
 *       bnrt_probe_register(BNRT_PROBE_ANY, other_bn); // every other layer
 *       bnrt_server_init(&server);
 *       for (;;) {
 *           do_the_applications_work();
 *           bnrt_cmd_poll(&server);                    // never waits
 *       }
 *   }
 *
 * The registrations belong to the image, not to one server: every server
 * answers USER with them.  On the Cortex-M ports the reset handler calls
 * bnrt_main(); the probe library's bnrt_main() brings the board up
 * (bnrt_hal_init) and calls your main().  No allocation.
 */
#ifndef BNRT_PROBE_H
#define BNRT_PROBE_H

#include <stdint.h>

#include "bnrt_cmdloop.h"
#include "bnrt_user.h"

#define BNRT_PROBE_ANY 0xFFFFu /* every layer without a function of its own */
#ifndef BNRT_PROBE_SLOTS
#define BNRT_PROBE_SLOTS 8u /* registrations the probe keeps */
#endif

/* Register `fn` for BN layer `index` (0 = the model's first BN layer in
 * forward order) or for BNRT_PROBE_ANY; a second call for the same index
 * replaces the function.  Returns 0, or -1 when all slots are taken or fn is
 * NULL.  Takes effect for the next USER request of any server. */
int bnrt_probe_register(uint32_t index, bnrt_user_bn_f32_fn fn);

#endif
