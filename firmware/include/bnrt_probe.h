/* Check the BN code inside your own application (`toolkit verify MODEL
 * --kernel probe --port URL`, docs/verify-your-code.md).
 *
 * Link the probe library (firmware/mk/user.mk, `make user-app`) into your
 * firmware, register the function that computes each BN layer, and call
 * bnrt_probe_poll() from your main loop: the toolkit then sends each layer's
 * tensors and inputs over the serial port, calls your registered function
 * and compares its outputs with PyTorch eval mode, as for a harness image.
 *
 *   int main(void)
 *   {
 *       bnrt_probe_register(0, stem_bn);               // the model's first BN layer
 *       bnrt_probe_register(BNRT_PROBE_ANY, other_bn); // every other layer
 *       for (;;) {
 *           do_the_applications_work();
 *           bnrt_probe_poll(10);
 *       }
 *   }
 *
 * On the Cortex-M ports the reset handler calls bnrt_main(); the probe
 * library's bnrt_main() brings the board up (bnrt_hal_init) and calls your
 * main().  No allocation; the probe's buffers are static.
 */
#ifndef BNRT_PROBE_H
#define BNRT_PROBE_H

#include <stdint.h>

#include "bnrt_user.h"

#define BNRT_PROBE_ANY 0xFFFFu /* every layer without a function of its own */
#ifndef BNRT_PROBE_SLOTS
#define BNRT_PROBE_SLOTS 8u /* registrations the probe keeps */
#endif

/* Register `fn` for BN layer `index` (0 = the model's first BN layer in
 * forward order) or for BNRT_PROBE_ANY; a second call for the same index
 * replaces the function.  Returns 0, or -1 when all slots are taken or fn is
 * NULL. */
int bnrt_probe_register(uint32_t index, bnrt_user_bn_f32_fn fn);

/* Answer the requests that arrived: waits up to `timeout_ms` for a first byte
 * (sleeping, on the Cortex-M ports), then handles every byte already received
 * without waiting further.  0 never waits.  Returns the number of frames
 * answered. */
int bnrt_probe_poll(uint32_t timeout_ms);

#endif
