/* discovery.h -- what the cluster serves: SMI versions and mesh kinds.
 *
 * SMI CRDs differ between installers (the sdk-go CRDs serve one version,
 * Linkerd's serves v1alpha1+v1alpha2, ours serve all), so which version to
 * watch is learned at start-up from the discovery documents, once per kind:
 * with conversion None every object is visible through any served version,
 * and the parser reads every version's shape in every version.
 *
 * The mesh for --mesh auto is the one whose output kinds are served: Istio
 * (networking.istio.io VirtualService + security.istio.io
 * AuthorizationPolicy) or Linkerd (policy.linkerd.io Server, HTTPRoute,
 * AuthorizationPolicy, MeshTLSAuthentication). Both or neither served is
 * reported as such; the caller decides (an error for both, a retry for
 * neither).
 */
#ifndef SB_DISCOVERY_H
#define SB_DISCOVERY_H

#include "sb/kube.h"
#include "sb/model.h"
#include "sb/translate.h"

typedef struct sb_discovery {
  /* For every SMI kind: the group and version to watch (the newest served
   * one; for HTTPRouteGroup/TCPRoute/UDPRoute the group may be the old
   * alias spec.smi-spec.io), and the plural; NULLs when not served. */
  struct {
    const char *group;
    const char *version;
    const char *resource;
  } smi[SB_KIND__COUNT];
  int istio;            /* Istio output kinds served (v1 or v1beta1) */
  int istio_v1;         /* networking.istio.io/v1 and security.istio.io/v1 */
  int linkerd;          /* Linkerd policy kinds served */
  int linkerd_profiles; /* linkerd.io/v1alpha2 ServiceProfile served */
  int gateway_api;      /* gateway.networking.k8s.io/v1 HTTPRoute served */
  /* Every "group/version/resource" served in the SMI, Istio, Linkerd and
   * Gateway API groups, sorted (what sb_discovery_served looks up). */
  char **served;
  size_t nserved;
  char *storage;        /* owns the strings above */
} sb_discovery;

typedef void (*sb_discovery_cb)(void *arg, int err, const char *msg,
                                const sb_discovery *d);

/* Fetches /apis and the group documents needed. The result is valid
 * during the callback only (copy what you keep, e.g. sb_discovery_copy).
 * cb runs once, from the loop, unless this returns an error (SB_EINVAL,
 * SB_ENOMEM, SB_ECLOSING); on failure err and msg ("GET /apis/x/v1: ...")
 * say why and d is NULL. There is no cancel: closing the client ends it
 * (err SB_ECANCELED). */
int sb_discover(sb_kube *k, sb_discovery_cb cb, void *arg);
/* A deep copy; dst is overwritten. Free with sb_discovery_free. */
int sb_discovery_copy(const sb_discovery *src, sb_discovery *dst);
void sb_discovery_free(sb_discovery *d);

/* Is group/version/resource served? Always 1 for the core group ("" or
 * NULL); only the groups listed at `served` are known. */
int sb_discovery_served(const sb_discovery *d, const char *group,
                        const char *version, const char *resource);

/* --mesh auto: SB_MESH_ISTIO or SB_MESH_LINKERD, 0 when neither is served,
 * -1 when both are. */
int sb_discovery_mesh(const sb_discovery *d);
/* Are all kinds opts would write served (1) or not (0)? When not, msg
 * names the first missing one ("networking.istio.io/v1 VirtualService"),
 * in a buffer valid until the next call on this thread. */
int sb_discovery_serves(const sb_discovery *d, const sb_translate_opts *o,
                        const char **msg);

#endif
