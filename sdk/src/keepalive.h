/*
 * ZeroMQ's own heartbeat on a connecting socket. A peer whose host vanished
 * (power lost, network cut, address moved) leaves a TCP connection open and
 * silent: the kernel gives it up only after about 15 minutes of
 * retransmissions, and until then everything sent into it is lost. With
 * this, ZeroMQ pings the peer and, when nothing at all comes back within
 * silence_ms, closes the connection and connects again, as after any other
 * disconnect. Any traffic from the peer counts as an answer, so a connection
 * busy carrying large messages towards us is not mistaken for a dead one.
 */
#ifndef CAIRN_KEEPALIVE_H
#define CAIRN_KEEPALIVE_H

#define KEEPALIVE_DEFAULT_MS 30000

/* Set before connecting: ZeroMQ applies it to connections made after. A
 * silence_ms of 0 leaves the connection to the kernel. */
void keepalive_set(void *sock, int silence_ms);

#endif
