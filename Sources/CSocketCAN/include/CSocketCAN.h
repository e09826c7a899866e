/*
 * CSocketCAN: the parts of the Linux SocketCAN, timerfd and signalfd APIs that Swift's
 * Glibc module does not import (well): the frame structures and flags as typed constants,
 * and small wrappers around the calls whose arguments are macros or variadic.
 *
 * Every function returns -1 (or a negative step code) and leaves errno set on failure;
 * none of them allocates or keeps state.
 */
#ifndef SPAAK_CSOCKETCAN_H
#define SPAAK_CSOCKETCAN_H

#include <stddef.h>
#include <stdint.h>
#include <signal.h>
#include <linux/can.h>
#include <linux/can/raw.h>

/* CAN controllers through libsocketcan (state, counters, bitrate, restart). */
#include "CSocketCANController.h"

/* ---- typed constants (the kernel macros import as Int or not at all) ---- */

/** Size of a classic `struct can_frame`: a read of this size is a classic frame. */
static const int SPAAK_CAN_MTU = 16;
/** Size of a `struct canfd_frame`: a read of this size is a CAN FD frame. */
static const int SPAAK_CANFD_MTU = 72;
/** Largest classic payload. */
static const int SPAAK_CAN_MAX_DLEN = 8;
/** Largest CAN FD payload. */
static const int SPAAK_CANFD_MAX_DLEN = 64;

/** `can_id` flag: 29-bit identifier. */
static const uint32_t SPAAK_CAN_EFF_FLAG = 0x80000000U;
/** `can_id` flag: remote transmission request. */
static const uint32_t SPAAK_CAN_RTR_FLAG = 0x40000000U;
/** `can_id` flag: error message frame. */
static const uint32_t SPAAK_CAN_ERR_FLAG = 0x20000000U;
/** Valid bits of an 11-bit identifier. */
static const uint32_t SPAAK_CAN_SFF_MASK = 0x000007FFU;
/** Valid bits of a 29-bit identifier. */
static const uint32_t SPAAK_CAN_EFF_MASK = 0x1FFFFFFFU;

/** `canfd_frame.flags`: bit rate switch. */
static const uint8_t SPAAK_CANFD_BRS = 0x01;
/** `canfd_frame.flags`: error state indicator. */
static const uint8_t SPAAK_CANFD_ESI = 0x02;
/** `canfd_frame.flags`: FD frame (set by the kernel in received FD frames). */
static const uint8_t SPAAK_CANFD_FDF = 0x04;

/** Protocol and socket-option levels/names as `int32_t`. */
static const int SPAAK_PF_CAN = 29;
static const int SPAAK_CAN_RAW = 1;
static const int SPAAK_SOL_CAN_RAW = 101;
static const int SPAAK_CAN_RAW_FILTER = 1;
static const int SPAAK_CAN_RAW_ERR_FILTER = 2;
static const int SPAAK_CAN_RAW_LOOPBACK = 3;
static const int SPAAK_CAN_RAW_RECV_OWN_MSGS = 4;
static const int SPAAK_CAN_RAW_FD_FRAMES = 5;
/** Most filters one `CAN_RAW_FILTER` call accepts. */
static const int SPAAK_CAN_RAW_FILTER_MAX = 512;

/* ---- CAN raw sockets ---- */

/** Which step of `spaak_can_open` failed (errno tells why). */
typedef enum spaak_can_open_step {
    SPAAK_CAN_OPEN_OK = 0,
    SPAAK_CAN_OPEN_SOCKET = 1,    /* socket(PF_CAN, SOCK_RAW, CAN_RAW) */
    SPAAK_CAN_OPEN_NAME = 2,      /* interface name empty or too long */
    SPAAK_CAN_OPEN_IFINDEX = 3,   /* if_nametoindex: no such interface */
    SPAAK_CAN_OPEN_FD_FRAMES = 4, /* setsockopt CAN_RAW_FD_FRAMES */
    SPAAK_CAN_OPEN_BIND = 5,      /* bind */
    SPAAK_CAN_OPEN_NONBLOCK = 6   /* fcntl O_NONBLOCK */
} spaak_can_open_step;

/** What `spaak_can_open` learnt about the interface (-1 when it could not tell). */
typedef struct spaak_can_open_info {
    int failed_step;  /* a spaak_can_open_step */
    int saved_errno;  /* errno of the failed step, 0 on success */
    int ifindex;
    int mtu;          /* 16 classic, 72 CAN FD, -1 unknown */
    int is_up;        /* 1 up, 0 down, -1 unknown */
} spaak_can_open_info;

/**
 * Opens a non-blocking, close-on-exec raw CAN socket bound to `ifname`. With `fd_frames`
 * non-zero, CAN_RAW_FD_FRAMES is enabled. Returns the descriptor, or -1 with `info`
 * telling which step failed. `info->mtu` and `info->is_up` are filled in either way
 * when the interface exists.
 */
int spaak_can_open(const char *ifname, int fd_frames, spaak_can_open_info *info);

/**
 * Sets the receive filters: `count` exact identifiers; `extended[i]` non-zero marks a
 * 29-bit one. A count of 0 receives nothing. Returns 0 or -1 (errno).
 */
int spaak_can_set_filters(int fd, const uint32_t *ids, const uint8_t *extended, int count);

/** Removes all filters: every data frame is received again. Returns 0 or -1 (errno). */
int spaak_can_accept_all(int fd);

/** Reads the MTU and up flag of `ifname` (either may be -1 when unknown). */
void spaak_can_interface_state(const char *ifname, int *mtu, int *is_up);

/**
 * Reads one frame into `frame` (72 bytes, enough for both kinds). Returns the number of
 * bytes read (16 classic, 72 FD), or -1 (errno; EAGAIN when nothing is queued).
 */
int spaak_can_read(int fd, struct canfd_frame *frame);

/**
 * Reads up to `max` frames with one recvmmsg call; `sizes[i]` receives each frame's
 * size (16 or 72). Returns the count, or -1 (errno; EAGAIN when nothing is queued).
 */
int spaak_can_read_batch(int fd, struct canfd_frame *frames, int *sizes, unsigned int max);

/**
 * Asks the kernel for a receive timestamp (SO_TIMESTAMPNS) and the socket-buffer drop
 * count (SO_RXQ_OVFL) with every frame. Returns 0, or -1 (errno) when either failed.
 */
int spaak_can_enable_receive_info(int fd);

/**
 * Like `spaak_can_read_batch`, and `stamps_ns[i]` receives each frame's kernel receive
 * time carried over to CLOCK_MONOTONIC (0 when the kernel gave none); `*dropped` receives
 * the kernel's cumulative count of frames dropped for a full receive buffer when one came
 * with a frame (left unchanged otherwise). Either pointer may be NULL (not wanted):
 * `spaak_can_read_batch` is this call with both NULL.
 */
int spaak_can_read_batch_stamped(int fd, struct canfd_frame *frames, int *sizes, uint64_t *stamps_ns,
                                 uint32_t *dropped, unsigned int max);

/** Writes one frame of `size` bytes (16 or 72). Returns the bytes written or -1 (errno). */
int spaak_can_write(int fd, const struct canfd_frame *frame, int size);

/** Most frames one `spaak_can_write_batch` call sends. */
static const int SPAAK_CAN_WRITE_BATCH_MAX = 64;

/**
 * Writes up to `count` frames (at most SPAAK_CAN_WRITE_BATCH_MAX; `sizes[i]` is 16 or 72)
 * with one sendmmsg call, in order. Returns how many the kernel took (fewer than `count`
 * when it stopped early: the error of the first frame not taken comes with the next call),
 * or -1 (errno) when it took none.
 */
int spaak_can_write_batch(int fd, const struct canfd_frame *frames, const int *sizes, unsigned int count);

/* ---- timerfd ---- */

/** A non-blocking, close-on-exec CLOCK_MONOTONIC timerfd, or -1 (errno). */
int spaak_timerfd_create(void);

/**
 * Arms `fd` to fire once at the absolute CLOCK_MONOTONIC time `deadline_ns` (a time in
 * the past fires at once; 0 is treated as 1 ns so it does not disarm). Returns 0 or -1.
 */
int spaak_timerfd_arm(int fd, uint64_t deadline_ns);

/** Disarms `fd`. Returns 0 or -1 (errno). */
int spaak_timerfd_disarm(int fd);

/** Reads the expiration count (0 when none is pending or on error). */
uint64_t spaak_timerfd_consume(int fd);

/** CLOCK_MONOTONIC now, in nanoseconds. */
uint64_t spaak_monotonic_ns(void);

/* ---- signalfd ---- */

/**
 * Blocks `count` signals for the calling thread (saving the previous mask in `*old`)
 * and returns a non-blocking, close-on-exec signalfd for them, or -1 (errno; the mask is
 * restored then).
 */
int spaak_signalfd_open(const int *signals, int count, sigset_t *old);

/** Restores the signal mask saved by `spaak_signalfd_open`. */
void spaak_signal_mask_restore(const sigset_t *old);

/** Reads one pending signal: its number, 0 when none is pending, -1 on error. */
int spaak_signalfd_read(int fd);

#endif
