/* core.c -- the core/v1 objects a translation needs: Service, Pod,
 * ServiceAccount.
 *
 * They come from the API server (already valid) or from a --context-file
 * (checked like everything else). A Pod keeps only what identity needs --
 * labels, ServiceAccount, phase, container ports -- because the cache
 * holds tens of thousands of them; repeated values ("TCP", "Running",
 * "app", "pod-template-hash") point to static strings instead of copies.
 */
#include "parse.h"

#include <string.h>

static const char *protocol(sb__pctx *c, const cJSON *obj, const char *base) {
  const char *p = sb__get_str(c, obj, base, "protocol", 0);
  char path[SB__PATH_MAX], q[SB__QUOTE_MAX];

  if (!p)
    return "TCP";
  if (strcmp(p, "TCP") != 0 && strcmp(p, "UDP") != 0 &&
      strcmp(p, "SCTP") != 0) {
    sb__err(c, sb__get(obj, "protocol"), sb__path(path, base, "protocol"),
            "must be TCP, UDP or SCTP (got %s)", sb__quote(q, p));
    return "TCP";
  }
  return sb__str_common(c, p);
}

/* A port name: NULL when absent or empty. */
static const char *port_name(sb__pctx *c, const cJSON *obj,
                             const char *base) {
  const char *s = sb__get_str(c, obj, base, "name", 0);

  return s && *s ? sb__str_common(c, s) : NULL;
}

/* IANA_SVC_NAME: what a named targetPort must be. */
static int is_svc_name(const char *s) {
  size_t n = strlen(s), i;
  int letter = 0;

  if (n == 0 || n > 15 || s[0] == '-' || s[n - 1] == '-')
    return 0;
  for (i = 0; i < n; i++) {
    if (s[i] >= 'a' && s[i] <= 'z')
      letter = 1;
    else if (s[i] == '-' && s[i + 1] == '-')
      return 0;
    else if (!(s[i] >= '0' && s[i] <= '9') && s[i] != '-')
      return 0;
  }
  return letter;
}

static void target_port(sb__pctx *c, sb_service_port *sp, const cJSON *e,
                        const char *base) {
  const cJSON *tp = sb__get(e, "targetPort");
  char path[SB__PATH_MAX], q[SB__QUOTE_MAX];
  const char *s;
  long v = 0;

  sb__path(path, base, "targetPort");
  if (!tp) {
    sp->target_port = sp->port;
    return;
  }
  if (cJSON_IsNumber(tp)) {
    sp->target_port = sb__port(c, tp, path);
    return;
  }
  if (!cJSON_IsString(tp)) {
    sb__err(c, tp, path, "must be a port number or a port name (got %s)",
            sb__type(tp));
    return;
  }
  s = tp->valuestring;
  if (*s && strspn(s, "0123456789") == strlen(s)) {
    /* "8080" as a string: plainly a number, whatever the type says. */
    for (; *s && v <= 65535; s++)
      v = v * 10 + (*s - '0');
    if (v < 1 || v > 65535)
      sb__err(c, tp, path, "must be a port number from 1 to 65535 (got %s)",
              sb__quote(q, tp->valuestring));
    sp->target_port = (int32_t) v;
    return;
  }
  if (!is_svc_name(s)) {
    sb__err(c, tp, path, "%s is not a port name (at most 15 lower-case "
            "letters, digits and '-', with at least one letter)",
            sb__quote(q, s));
    return;
  }
  sp->target_port_name = sb__str_common(c, s);
}

sb_obj *sb__parse_service(sb__pctx *c, const cJSON *json) {
  sb_service *s;
  const cJSON *spec, *list, *e;
  const char *type;
  char path[SB__PATH_MAX], p2[SB__PATH_MAX];
  sb_service_port *sp;
  size_t n, i = 0;

  s = (sb_service *) sb__obj_new(c, json, sizeof(*s));
  if (!s)
    return NULL;
  spec = sb__get_map(c, json, "", "spec", 0);
  type = sb__get_str(c, spec, "spec", "type", 0);
  s->type = sb__str_common(c, type && *type ? type : "ClusterIP");
  if (sb__string_map(c, sb__get_map(c, spec, "spec", "selector", 0),
                     "spec.selector", &s->selector, &s->nselector))
    return NULL;
  list = sb__get_list(c, spec, "spec", "ports", 0);
  n = list ? (size_t) cJSON_GetArraySize(list) : 0;
  s->ports = sb__array(c, n, sizeof(*s->ports));
  if (n && !s->ports)
    return NULL;
  cJSON_ArrayForEach(e, list) {
    sb__pathi(path, "spec.ports", i);
    sp = &s->ports[i++];
    if (!cJSON_IsObject(e)) {
      sb__err(c, e, path, "must be a map with a port (got %s)", sb__type(e));
      continue;
    }
    sp->name = port_name(c, e, path);
    sp->protocol = protocol(c, e, path);
    sp->app_protocol = sb__str_common(c, sb__get_str(c, e, path,
                                                     "appProtocol", 0));
    if (!sb__get(e, "port"))
      sb__err(c, e, sb__path(p2, path, "port"), "is required");
    else
      sp->port = sb__port(c, sb__get(e, "port"), sb__path(p2, path, "port"));
    target_port(c, sp, e, path);
  }
  s->nports = n;
  return &s->obj;
}

/* The ports of one container list, appended to p->ports. */
static void container_ports(sb__pctx *c, sb_pod_shape *p, const cJSON *list,
                              const char *base, int sidecars_only) {
  const cJSON *ctr, *ports, *e;
  const char *rp;
  char cpath[SB__PATH_MAX], path[SB__PATH_MAX], p2[SB__PATH_MAX];
  size_t ci = 0, i;
  sb_container_port *cp;

  cJSON_ArrayForEach(ctr, list) {
    sb__pathi(cpath, base, ci++);
    if (!cJSON_IsObject(ctr)) {
      sb__err(c, ctr, cpath, "must be a map (got %s)", sb__type(ctr));
      continue;
    }
    rp = sb__get_str(c, ctr, cpath, "restartPolicy", 0);
    if (sidecars_only && (!rp || strcmp(rp, "Always") != 0))
      continue;  /* a plain init container serves nothing */
    ports = sb__get_list(c, ctr, cpath, "ports", 0);
    i = 0;
    cJSON_ArrayForEach(e, ports) {
      sb__pathi(path, sb__path(p2, cpath, "ports"), i++);
      if (!cJSON_IsObject(e)) {
        sb__err(c, e, path, "must be a map with a containerPort (got %s)",
                sb__type(e));
        continue;
      }
      cp = &p->ports[p->nports++];
      cp->name = port_name(c, e, path);
      cp->protocol = protocol(c, e, path);
      if (!sb__get(e, "containerPort"))
        sb__err(c, e, sb__path(p2, path, "containerPort"), "is required");
      else
        cp->port = sb__port(c, sb__get(e, "containerPort"),
                            sb__path(p2, path, "containerPort"));
    }
  }
}

static size_t count_ports(const cJSON *list) {
  const cJSON *ctr, *e;
  size_t n = 0;

  cJSON_ArrayForEach(ctr, list)
    cJSON_ArrayForEach(e, sb__get(ctr, "ports"))
      n += cJSON_IsObject(e);
  return n;
}

sb_obj *sb__parse_pod(sb__pctx *c, const cJSON *json) {
  sb_pod *p;
  sb_pod_shape *sh;
  const cJSON *spec, *status, *ctrs, *inits;
  const char *sa;
  size_t n;

  p = (sb_pod *) sb__obj_new(c, json, sizeof(*p));
  if (!p)
    return NULL;
  sh = p->shape = sb__alloc(c, sizeof(*sh));
  if (!sh)
    return NULL;
  if (sb__string_map(c, sb__get_map(c, sb__get(json, "metadata"),
                                    "metadata", "labels", 0),
                     "metadata.labels", &sh->labels, &n))
    return NULL;
  sh->nlabels = (uint32_t) n;
  spec = sb__get_map(c, json, "", "spec", 0);
  sa = sb__get_str(c, spec, "spec", "serviceAccountName", 0);
  if (!sa || !*sa)  /* the deprecated alias, still set by old clients */
    sa = sb__get_str(c, spec, "spec", "serviceAccount", 0);
  sh->service_account = sb__str_common(c, sa && *sa ? sa : "default");
  status = sb__get_map(c, json, "", "status", 0);
  sh->phase = sb__str_common(c, sb__get_str(c, status, "status", "phase", 0));

  ctrs = sb__get_list(c, spec, "spec", "containers", 0);
  inits = sb__get_list(c, spec, "spec", "initContainers", 0);
  n = count_ports(ctrs) + count_ports(inits);
  sh->ports = sb__array(c, n, sizeof(*sh->ports));
  if (n && !sh->ports)
    return NULL;
  container_ports(c, sh, ctrs, "spec.containers", 0);
  /* Native sidecars (restartPolicy: Always) keep serving after start. */
  container_ports(c, sh, inits, "spec.initContainers", 1);
  return &p->obj;
}

sb_obj *sb__parse_service_account(sb__pctx *c, const cJSON *json) {
  return sb__obj_new(c, json, sizeof(sb_service_account));
}
