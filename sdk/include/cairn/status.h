/*
 * cairn status codes: the one list shared by the C API, the wire protocol
 * (where each travels as its name, e.g. "INVALID_PARAMETER_VALUE") and the CLI.
 * Names follow MLflow's error codes where MLflow has one, so that people who
 * know MLflow recognise them.
 *
 * This list only grows at its end: values are part of the C ABI.
 */
#ifndef CAIRN_STATUS_H
#define CAIRN_STATUS_H

#ifdef __cplusplus
extern "C" {
#endif

typedef enum cairn_status {
    CAIRN_OK = 0,
    CAIRN_INVALID_PARAMETER_VALUE, /* a value breaks a rule (immutable param, bad status) */
    CAIRN_RESOURCE_DOES_NOT_EXIST, /* unknown run, experiment, artifact, key */
    CAIRN_RESOURCE_ALREADY_EXISTS, /* a run id already used */
    CAIRN_LIMIT_EXCEEDED,          /* a key or value longer than its documented limit */
    CAIRN_BAD_MESSAGE,             /* malformed, truncated or wrongly typed message */
    CAIRN_MESSAGE_TOO_LARGE,       /* larger than the configured message limit */
    CAIRN_UNSUPPORTED_VERSION,     /* envelope version this peer does not speak */
    CAIRN_UNKNOWN_TYPE,            /* message type this peer does not know */
    CAIRN_STORAGE_ERROR,           /* the store could not commit (disk full, I/O) */
    CAIRN_TIMEOUT,                 /* no answer within the deadline */
    CAIRN_TRANSPORT_ERROR,         /* ZeroMQ could not send or receive */
    CAIRN_OUT_OF_MEMORY,
    CAIRN_IO_ERROR,                /* a local file could not be read or written */
    CAIRN_INTERNAL_ERROR,
    CAIRN_INVALID_STATE,           /* the operation does not fit the current state */
    CAIRN_BACKPRESSURE,            /* a bounded queue or spool is full: try later */
    CAIRN_COMMAND_FAILED,          /* an agent's plugin could not carry out a command */
    CAIRN_STATUS_COUNT_            /* not a status: keeps the table in step */
} cairn_status;

/* What went wrong: a status and one line a person can read. Every call that
 * can fail takes a cairn_error * (which may be NULL) and returns the status. */
typedef struct cairn_error {
    cairn_status status;
    char message[512];
} cairn_error;

/* The wire name of a status ("INVALID_PARAMETER_VALUE"); never NULL. */
const char *cairn_status_name(cairn_status status);

/* The status for a wire name; CAIRN_INTERNAL_ERROR for a name not in the list. */
cairn_status cairn_status_from_name(const char *name, unsigned long len);

#ifdef __cplusplus
}
#endif
#endif
