/* obj.c -- what every model object shares: kind names, freeing, locations.
 *
 * Convention for the whole model: an object's struct is the first thing
 * allocated in its own arena, so freeing the arena frees the object. The
 * one exception is a pod sb_obj_share made (pool.c): one allocation, no
 * arena.
 */
#include <stdio.h>
#include <string.h>

#include "parse.h"
#include "sb/err.h"

static const char *const kind_names[SB_KIND__COUNT] = {
  [SB_KIND_UNKNOWN] = "",
  [SB_KIND_TRAFFIC_SPLIT] = "TrafficSplit",
  [SB_KIND_HTTP_ROUTE_GROUP] = "HTTPRouteGroup",
  [SB_KIND_TCP_ROUTE] = "TCPRoute",
  [SB_KIND_UDP_ROUTE] = "UDPRoute",
  [SB_KIND_TRAFFIC_TARGET] = "TrafficTarget",
  [SB_KIND_SERVICE] = "Service",
  [SB_KIND_POD] = "Pod",
  [SB_KIND_SERVICE_ACCOUNT] = "ServiceAccount",
};

const char *sb_kind_name(sb_kind k) {
  if ((int) k < 0 || k >= SB_KIND__COUNT)
    return "";
  return kind_names[k];
}

sb_kind sb_kind_from_name(const char *name) {
  int k;

  if (!name)
    return SB_KIND_UNKNOWN;
  for (k = 1; k < SB_KIND__COUNT; k++)
    if (strcmp(kind_names[k], name) == 0)
      return (sb_kind) k;
  return SB_KIND_UNKNOWN;
}

int sb_kind_is_smi(sb_kind k) {
  return k >= SB_KIND_TRAFFIC_SPLIT && k <= SB_KIND_TRAFFIC_TARGET;
}

void sb_obj_free(sb_obj *obj) {
  if (!obj)
    return;
  if (!sb__obj_release(obj))
    sb_arena_free(obj->arena);
}

sb_diag_loc sb_obj_loc(const sb_obj *obj) {
  sb_diag_loc loc;

  memset(&loc, 0, sizeof(loc));
  if (!obj)
    return loc;
  loc.file = obj->meta->file;
  loc.line = obj->meta->line;
  loc.kind = sb_kind_name(obj->kind);
  loc.ns = obj->ns;
  loc.name = obj->name;
  return loc;
}

size_t sb_obj_size(const sb_obj *obj) {
  if (!obj)
    return 0;
  return obj->arena ? sb_arena_size(obj->arena) : sb__obj_own_size(obj);
}

/* ---- uid and creationTimestamp ------------------------------------------- */

static int hexval(char c) {
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  return -1;  /* upper case too: only the canonical form is packed */
}

/* A lower-case 8-4-4-4-12 UUID into 16 bytes (it prints back the same). */
static int uuid_pack(const char *s, unsigned char out[16]) {
  size_t i, j = 0;
  int hi, lo;

  if (strlen(s) != 36)
    return 0;
  for (i = 0; i < 36;) {
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      if (s[i++] != '-')
        return 0;
      continue;
    }
    hi = hexval(s[i]);
    lo = hexval(s[i + 1]);
    if (hi < 0 || lo < 0)
      return 0;
    out[j++] = (unsigned char) (hi << 4 | lo);
    i += 2;
  }
  return 1;
}

void sb_obj_meta_set_uid(sb_obj_meta *m, const char *text) {
  memset(&m->uid, 0, sizeof(m->uid));
  m->uid_form = SB_UID_NONE;
  if (!text)
    return;
  if (uuid_pack(text, m->uid.bin)) {
    m->uid_form = SB_UID_BINARY;
    return;
  }
  m->uid.text = text;
  m->uid_form = SB_UID_TEXT;
}

const char *sb_obj_uid(const sb_obj *obj, char buf[SB_UID_BUF]) {
  const unsigned char *b;

  if (!obj || obj->meta->uid_form == SB_UID_NONE)
    return NULL;
  if (obj->meta->uid_form == SB_UID_TEXT)
    return obj->meta->uid.text;
  b = obj->meta->uid.bin;
  snprintf(buf, SB_UID_BUF,
           "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-"
           "%02x%02x%02x%02x%02x%02x",
           b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10],
           b[11], b[12], b[13], b[14], b[15]);
  return buf;
}
