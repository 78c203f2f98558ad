/* Glue between the host simulator's main() and its HAL. */
#ifndef BNRT_HAL_HOST_H
#define BNRT_HAL_HOST_H

/* Serve the protocol on `fd`; in TCP mode `listen_fd` >= 0 accepts the next
 * client when one disconnects. */
void host_hal_use_fd(int fd, int listen_fd);

/* Block until a client connects to `listen_fd`; returns its descriptor. */
int host_accept(int listen_fd);

#endif
