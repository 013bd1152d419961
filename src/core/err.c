/* err.c -- text for the SB_ERRNO_MAP codes. */
#include "sb/err.h"

#include <stdio.h>

const char *sb_strerror(int err) {
  switch (err) {
  case SB_OK: return "success";
#define SB__ERR_TEXT(code, text) case SB_E##code: return text;
  SB_ERRNO_MAP(SB__ERR_TEXT)
#undef SB__ERR_TEXT
  default: return "unknown error";
  }
}

const char *sb_err_name(int err) {
  switch (err) {
  case SB_OK: return "SB_OK";
#define SB__ERR_NAME(code, _) case SB_E##code: return "SB_E" #code;
  SB_ERRNO_MAP(SB__ERR_NAME)
#undef SB__ERR_NAME
  default: return "SB_EUNKNOWN";
  }
}
