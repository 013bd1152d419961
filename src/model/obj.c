/* obj.c -- what every model object shares: kind names, freeing, locations.
 *
 * Convention for the whole model: an object's struct is the first thing
 * allocated in its own arena, so freeing the arena frees the object. The
 * one exception is a pod sb_obj_share made (pool.c): one allocation, no
 * arena.
 */
#include <string.h>

#include "parse.h"

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
