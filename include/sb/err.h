/* err.h -- error codes shared by every smi-bridge module.
 *
 * Functions return 0 on success or one of the negative SB_E* codes below.
 * When a function that takes a callback returns an error, the callback is
 * never called (the libuv rule). Details that a code cannot carry (which
 * field, which file) travel separately, in an sb_diags list or a caller
 * supplied buffer.
 */
#ifndef SB_ERR_H
#define SB_ERR_H

#define SB_ERRNO_MAP(XX)                                                     \
  XX(NOMEM, "out of memory")                                                 \
  XX(INVAL, "invalid argument")                                              \
  XX(IO, "input/output error")                                               \
  XX(PARSE, "syntax error")                                                  \
  XX(LIMIT, "input exceeds a configured limit")                              \
  XX(NOTSMI, "not an object smi-bridge reads")                               \
  XX(NOTFOUND, "not found")                                                  \
  XX(EXIST, "already exists")                                                \
  XX(CONFLICT, "conflict")                                                   \
  XX(CONFIG, "configuration error")                                          \
  XX(TLS, "TLS error")                                                       \
  XX(CONNECT, "cannot connect")                                              \
  XX(HTTP, "unexpected HTTP response")                                       \
  XX(UNAUTHORIZED, "unauthorized")                                           \
  XX(FORBIDDEN, "forbidden")                                                 \
  XX(GONE, "resource version too old")                                       \
  XX(TOOMANY, "too many requests")                                           \
  XX(TIMEOUT, "timed out")                                                   \
  XX(CANCELED, "canceled")                                                   \
  XX(UNSUPPORTED, "not supported")                                           \
  XX(CLOSING, "handle is closing")                                           \
  XX(EXEC, "credential plugin failed")

typedef enum {
  SB_OK = 0,
  SB__EMIN = -200,
#define SB__ERR_ENUM(code, _) SB_E##code,
  SB_ERRNO_MAP(SB__ERR_ENUM)
#undef SB__ERR_ENUM
  SB__EMAX
} sb_errno;

/* Human text for a code ("out of memory"); never NULL. */
const char *sb_strerror(int err);
/* Symbolic name ("SB_ENOMEM"); never NULL. */
const char *sb_err_name(int err);

#endif
