/* match.c -- HTTPRouteGroup matches in the three shapes the meshes take.
 *
 * SMI gives a pathRegex anchored at the start only (so "/api" matches
 * "/apix/1"), methods, and header regexes. The targets differ:
 *
 *   Istio VirtualService   uri exact | prefix | regex (RE2, whole string)
 *   Gateway API / Linkerd  path Exact | PathPrefix | RegularExpression,
 *                          where PathPrefix matches whole segments ("/api"
 *                          matches "/api" and "/api/x", never "/apix")
 *                          and regexes match the whole path
 *   Istio Authorization-   paths exact | prefix* | *suffix | * -- no regex
 *   Policy
 *
 * The rule everywhere: say exactly what SMI says. A literal L is a string
 * prefix in SMI, so it is `uri.prefix` for Istio but must stay a regex for
 * PathPrefix targets; only the forms that mean "L or L/..." become a
 * PathPrefix. Anything else is wrapped as "(?:P).*", which restores
 * start-only anchoring in a whole-string engine. Where a form cannot be
 * said at all (AuthorizationPolicy), the match is dropped -- that narrows
 * access, it never widens it.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "sb/err.h"

#define REGEX_MAX 1024       /* Istio StringMatch.regex, HTTPRoute path */
#define HEADER_VALUE_MAX 4096

static const char *const methods_ok[] = {
  "GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE",
  "PATCH",
};

int sb__method_ok(const char *m) {
  size_t i;

  for (i = 0; m && i < SB_ARRAY_SIZE(methods_ok); i++)
    if (strcmp(m, methods_ok[i]) == 0)
      return 1;
  return 0;
}

int sb__header_name_ok(const char *s) {
  if (!s || !*s || strlen(s) > 256)
    return 0;
  for (; *s; s++) {
    char c = *s;
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
        (c >= '0' && c <= '9'))
      continue;
    if (!strchr("!#$%&'*+-.^_`|~", c))
      return 0;
  }
  return 1;
}

/* ---- string lists ------------------------------------------------------- */

void sb__strv_free(sb__strv *s) {
  size_t i;

  for (i = 0; i < s->n; i++)
    free(s->v[i]);
  free(s->v);
  s->v = NULL;
  s->n = s->cap = 0;
}

int sb__strv_add(sb__strv *s, const char *str, size_t len) {
  char *copy;
  size_t i;

  for (i = 0; i < s->n; i++)
    if (strlen(s->v[i]) == len && memcmp(s->v[i], str, len) == 0)
      return 0;
  if (s->n == s->cap) {
    size_t cap = s->cap ? s->cap * 2 : 4;
    char **v = realloc(s->v, cap * sizeof(*v));
    if (!v)
      return SB_ENOMEM;
    s->v = v;
    s->cap = cap;
  }
  copy = malloc(len + 1);
  if (!copy)
    return SB_ENOMEM;
  memcpy(copy, str, len);
  copy[len] = '\0';
  s->v[s->n++] = copy;
  return 0;
}

/* ---- regex forms -------------------------------------------------------- */

static int is_alnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
         (c >= '0' && c <= '9');
}

int sb__regex_literal(const char *s, size_t n, sb_buf *lit) {
  size_t i;

  if (lit)
    sb_buf_reset(lit);
  for (i = 0; i < n; i++) {
    char c = s[i];
    if (c == '\\') {
      /* \. \/ \- and other escaped punctuation are literal; \d, \w, \n
       * and friends are classes or controls. */
      if (i + 1 >= n || is_alnum(s[i + 1]) || (unsigned char) s[i + 1] < 32)
        return 0;
      c = s[++i];
    } else if (strchr(".+*?()|[]{}^$", c)) {
      return 0;
    }
    if (lit && sb_buf_addc(lit, c))
      return -1;
  }
  return 1;
}

/* Is the character at s[i] escaped (an odd run of backslashes before)? */
static int escaped(const char *s, size_t i) {
  size_t k = 0;

  while (i > k && s[i - 1 - k] == '\\')
    k++;
  return k % 2;
}

/* Does s[0..n) end with the unescaped suffix suf? */
static int ends_with(const char *s, size_t n, const char *suf) {
  size_t m = strlen(suf);

  return n >= m && memcmp(s + n - m, suf, m) == 0 && !escaped(s, n - m);
}

static int is_all(const char *b, size_t n) {
  static const char *const all[] = {"", ".*", ".*$", "/", "/.*", "/.*$"};
  size_t i;

  for (i = 0; i < SB_ARRAY_SIZE(all); i++)
    if (n == strlen(all[i]) && memcmp(b, all[i], n) == 0)
      return 1;
  return 0;
}

/* The spellings of "L as a whole path segment prefix": L, L/, L/... */
static const char *const segment_suffixes[] = {
  "(/.*)?$", "(/|$)", "($|/)", "(/.*|$)", "($|/.*)",
};

static sb__path_kind classify(const char *b, size_t n, sb_buf *lit) {
  size_t i;

  if (is_all(b, n))
    return SB__PATH_ALL;
  if (ends_with(b, n, "$") && n > 1 && sb__regex_literal(b, n - 1, lit) == 1)
    return SB__PATH_EXACT;
  for (i = 0; i < SB_ARRAY_SIZE(segment_suffixes); i++) {
    size_t m = strlen(segment_suffixes[i]);
    if (n > m && memcmp(b + n - m, segment_suffixes[i], m) == 0 &&
        !escaped(b, n - m) && sb__regex_literal(b, n - m, lit) == 1 &&
        lit->len > 1 && lit->data[0] == '/' &&
        lit->data[lit->len - 1] != '/')
      return SB__PATH_SEGMENT;
  }
  if (ends_with(b, n, ".*$") && sb__regex_literal(b, n - 3, lit) == 1)
    return SB__PATH_PREFIX;
  if (ends_with(b, n, ".*") && sb__regex_literal(b, n - 2, lit) == 1)
    return SB__PATH_PREFIX;
  if (sb__regex_literal(b, n, lit) == 1)
    return SB__PATH_PREFIX;
  return SB__PATH_REGEX;
}

sb__path_kind sb__path_classify(const char *re, sb_buf *lit) {
  sb_buf_reset(lit);
  if (!re)
    return SB__PATH_ALL;
  if (*re == '^')
    re++;
  return classify(re, strlen(re), lit);
}

int sb__path_regex(const char *re, sb_buf *out) {
  if (!re || !*re)
    return sb_buf_adds(out, ".*");
  return sb_buf_addf(out, "(?:%s).*", re);
}

/* Splits at unescaped top-level '|'. Groups and classes are not tracked:
 * a piece that contains one is not a literal and is rejected anyway. */
static size_t next_alt(const char *s, size_t from, size_t n) {
  size_t i;

  for (i = from; i < n; i++)
    if (s[i] == '|' && !escaped(s, i))
      return i;
  return n;
}

/* AuthorizationPolicy values can carry no '*' of their own (it is the
 * wildcard) and no '{'/'}' (path templates). */
static int ap_safe(const sb_buf *lit) {
  return !strpbrk(sb_buf_cstr(lit), "*{}");
}

int sb__ap_paths(const char *re, sb__strv *paths) {
  size_t n = re ? strlen(re) : 0, at = 0;
  sb_buf lit;
  int rc = 0, any = 0;

  if (!re)
    return 0;
  sb_buf_init(&lit, SB_BUF_UNLIMITED);
  while (at <= n && rc == 0) {
    size_t end = next_alt(re, at, n);
    const char *a = re + at;
    size_t len = end - at;

    if (len && *a == '^') {
      a++;
      len--;
    }
    switch (classify(a, len, &lit)) {
    case SB__PATH_ALL:
      sb__strv_free(paths);  /* one alternative takes every path */
      sb_buf_free(&lit);
      return 0;
    case SB__PATH_EXACT:
      if (!ap_safe(&lit))
        rc = 1;
      else if ((rc = sb__strv_add(paths, lit.data, lit.len)) == 0)
        any = 1;
      break;
    case SB__PATH_PREFIX:
      if (!ap_safe(&lit))
        rc = 1;
      else if (sb_buf_addc(&lit, '*'))
        rc = SB_ENOMEM;
      else if ((rc = sb__strv_add(paths, lit.data, lit.len)) == 0)
        any = 1;
      break;
    case SB__PATH_SEGMENT:
      if (!ap_safe(&lit)) {
        rc = 1;
        break;
      }
      rc = sb__strv_add(paths, lit.data, lit.len);
      if (!rc && !(rc = sb_buf_adds(&lit, "/*")))
        rc = sb__strv_add(paths, lit.data, lit.len);
      any = !rc;
      break;
    case SB__PATH_REGEX:
      /* "$" alone (an empty path) matches nothing: leave it out. */
      if (!(len == 1 && *a == '$'))
        rc = 1;
      break;
    }
    at = end + 1;
  }
  sb_buf_free(&lit);
  if (rc == 0 && !any)
    rc = 1;  /* matches no path at all: nothing to allow */
  if (rc)
    sb__strv_free(paths);
  return rc;
}

/* One alternative of a header regex as an AuthorizationPolicy value:
 * 0 and the value in out, 1 when it has no such form, SB_ENOMEM. */
static int header_value(const char *a, size_t len, sb_buf *lit,
                        sb_buf *out) {
  sb_buf_reset(out);
  if (len == 2 && memcmp(a, ".*", 2) == 0)
    return sb_buf_addc(out, '*');  /* presence */
  if (len > 0 && sb__regex_literal(a, len, lit) == 1)
    return ap_safe(lit) ? sb_buf_add(out, lit->data, lit->len) : 1;
  if (len > 2 && ends_with(a, len, ".*") &&
      sb__regex_literal(a, len - 2, lit) == 1) {
    if (!ap_safe(lit))
      return 1;
    return sb_buf_add(out, lit->data, lit->len) || sb_buf_addc(out, '*')
           ? SB_ENOMEM : 0;
  }
  if (len > 2 && memcmp(a, ".*", 2) == 0 &&
      sb__regex_literal(a + 2, len - 2, lit) == 1) {
    if (!ap_safe(lit))
      return 1;
    return sb_buf_addc(out, '*') || sb_buf_add(out, lit->data, lit->len)
           ? SB_ENOMEM : 0;
  }
  return 1;
}

int sb__ap_header_values(const char *re, sb__strv *values) {
  size_t n = re ? strlen(re) : 0, at = 0;
  sb_buf lit, v;
  int rc = 0;

  if (!re || !*re)
    return 1;
  sb_buf_init(&lit, SB_BUF_UNLIMITED);
  sb_buf_init(&v, SB_BUF_UNLIMITED);
  while (at <= n && rc == 0) {
    size_t end = next_alt(re, at, n);
    const char *a = re + at;
    size_t len = end - at;

    /* Header regexes match the whole value: ^ and $ change nothing. */
    if (len && *a == '^') {
      a++;
      len--;
    }
    if (ends_with(a, len, "$"))
      len--;
    rc = header_value(a, len, &lit, &v);
    if (rc == 0 && strcmp(sb_buf_cstr(&v), "*") == 0) {
      /* Presence covers every other alternative. */
      sb__strv_free(values);
      rc = sb__strv_add(values, "*", 1);
      break;
    }
    if (rc == 0)
      rc = sb__strv_add(values, v.data, v.len);
    at = end + 1;
  }
  sb_buf_free(&lit);
  sb_buf_free(&v);
  if (rc)
    sb__strv_free(values);
  return rc;
}

int sb__route_path_ok(const char *p) {
  static const char *const bad[] = {"//", "/./", "/../", "%2f", "%2F", "#"};
  size_t i, n = strlen(p);

  if (n == 0 || p[0] != '/' || n > REGEX_MAX)
    return 0;
  for (i = 0; i < SB_ARRAY_SIZE(bad); i++)
    if (strstr(p, bad[i]))
      return 0;
  if ((n >= 3 && strcmp(p + n - 3, "/..") == 0) ||
      (n >= 2 && strcmp(p + n - 2, "/.") == 0))
    return 0;
  for (i = 0; i < n; i++) {
    char c = p[i];
    if (is_alnum(c) || strchr("-/._~!$&'()*+,;=:@", c))
      continue;
    if (c == '%' && i + 2 < n && isxdigit((unsigned char) p[i + 1]) &&
        isxdigit((unsigned char) p[i + 2])) {
      i += 2;
      continue;
    }
    return 0;
  }
  return 1;
}

/* ---- whole matches ------------------------------------------------------ */

void sb__match_what(sb_buf *b, const sb_http_route_group *g,
                    const sb_http_match *m) {
  /* Built for every match converted, message or not: no printf. */
  sb_buf_adds(b, "HTTPRouteGroup ");
  sb_buf_adds(b, g->obj.ns);
  sb_buf_addc(b, '/');
  sb_buf_adds(b, g->obj.name);
  sb_buf_adds(b, " match \"");
  sb_buf_adds(b, m->name ? m->name : "");
  sb_buf_addc(b, '"');
}

/* Methods of a match: 0 = none (every method), or the validated list.
 * -1 after an error. */
static int match_methods(sb__tx *t, const sb_http_match *m, const char *what,
                         const char *path, sb__strv *out) {
  size_t i;

  for (i = 0; i < m->nmethods; i++)
    if (strcmp(m->methods[i], "*") == 0)
      return 0;
  for (i = 0; i < m->nmethods; i++) {
    if (!sb__method_ok(m->methods[i])) {
      sb__err(t, SB_REASON_INVALID, path, "%s: method \"%s\" is not one of "
              "GET, HEAD, POST, PUT, DELETE, CONNECT, OPTIONS, TRACE, "
              "PATCH or *", what, m->methods[i]);
      return -1;
    }
    if (sb__strv_add(out, m->methods[i], strlen(m->methods[i]))) {
      t->oom = 1;
      return -1;
    }
  }
  return 0;
}

/* Lower-cased header names, checked: valid token, not repeated, value
 * present and not too long. -1 after an error. */
static int match_headers(sb__tx *t, const sb_http_match *m, const char *what,
                         const char *path, sb__strv *names) {
  size_t i, j;

  for (i = 0; i < m->nheaders; i++) {
    const char *k = m->headers[i].key, *v = m->headers[i].value;
    char *low;

    if (!sb__header_name_ok(k)) {
      sb__err(t, SB_REASON_INVALID, path, "%s: \"%s\" is not a valid HTTP "
              "header name", what, k ? k : "");
      return -1;
    }
    if (!v || !*v) {
      sb__err(t, SB_REASON_INVALID, path, "%s: header %s has an empty "
              "regex; no mesh can match it", what, k);
      return -1;
    }
    if (strlen(v) > HEADER_VALUE_MAX) {
      sb__err(t, SB_REASON_INVALID, path, "%s: the regex of header %s is "
              "longer than %d characters", what, k, HEADER_VALUE_MAX);
      return -1;
    }
    if (sb__strv_add(names, k, strlen(k))) {
      t->oom = 1;
      return -1;
    }
    if (names->n == i) {
      sb__err(t, SB_REASON_INVALID, path, "%s: header %s is listed twice",
              what, k);
      return -1;
    }
    for (low = names->v[i]; *low; low++)
      if (*low >= 'A' && *low <= 'Z')
        *low = (char) (*low - 'A' + 'a');
    for (j = 0; j < i; j++) {
      if (strcmp(names->v[j], names->v[i]) == 0) {
        sb__err(t, SB_REASON_INVALID, path, "%s: header %s is listed twice",
                what, k);
        return -1;
      }
    }
  }
  return 0;
}

/* Builds the path condition; NULL when the match takes every path. */
static cJSON *path_condition(sb__tx *t, sb__match_form form,
                             const char *re, const char *what,
                             const char *path, int *err) {
  sb_buf lit, rx;
  sb__path_kind k;
  cJSON *c = NULL;

  *err = 0;
  sb_buf_init(&lit, SB_BUF_UNLIMITED);
  sb_buf_init(&rx, SB_BUF_UNLIMITED);
  k = sb__path_classify(re, &lit);
  if (k == SB__PATH_ALL)
    goto done;
  c = cJSON_CreateObject();
  if (!c) {
    t->oom = 1;
    goto done;
  }
  if (form == SB__MATCH_VS && k == SB__PATH_PREFIX) {
    sb__jstr(t, c, "prefix", sb_buf_cstr(&lit));
    goto done;
  }
  if (form == SB__MATCH_VS && k == SB__PATH_EXACT) {
    sb__jstr(t, c, "exact", sb_buf_cstr(&lit));
    goto done;
  }
  if (form == SB__MATCH_ROUTE &&
      (k == SB__PATH_EXACT || k == SB__PATH_SEGMENT) &&
      sb__route_path_ok(sb_buf_cstr(&lit))) {
    sb__jstr(t, c, "type", k == SB__PATH_EXACT ? "Exact" : "PathPrefix");
    sb__jstr(t, c, "value", sb_buf_cstr(&lit));
    goto done;
  }
  if (sb__path_regex(re, &rx)) {
    t->oom = 1;
    goto done;
  }
  if (rx.len > REGEX_MAX) {
    sb__err(t, SB_REASON_INVALID, path, "%s: pathRegex is too long: the "
            "converted regex has %zu characters, at most %d are allowed",
            what, rx.len, REGEX_MAX);
    *err = 1;
    cJSON_Delete(c);
    c = NULL;
    goto done;
  }
  if (form == SB__MATCH_VS) {
    sb__jstr(t, c, "regex", sb_buf_cstr(&rx));
  } else {
    sb__jstr(t, c, "type", "RegularExpression");
    sb__jstr(t, c, "value", sb_buf_cstr(&rx));
  }
done:
  sb_buf_free(&lit);
  sb_buf_free(&rx);
  return c;
}

int sb__convert_match(sb__tx *t, sb__match_form form, const sb_http_match *m,
                      const char *what, const char *path, cJSON *list,
                      int *all) {
  sb__strv methods = {0}, names = {0};
  cJSON *cond = NULL, *headers = NULL;
  size_t i, nm;
  int err = 0, rc = 0;

  *all = 0;
  if (match_methods(t, m, what, path, &methods) ||
      match_headers(t, m, what, path, &names)) {
    rc = -1;
    goto done;
  }
  cond = path_condition(t, form, m->path_regex, what, path, &err);
  if (err) {
    rc = -1;
    goto done;
  }
  if (m->nheaders) {
    headers = form == SB__MATCH_VS ? cJSON_CreateObject()
                                   : cJSON_CreateArray();
    if (!headers)
      t->oom = 1;
    for (i = 0; headers && i < m->nheaders; i++) {
      if (form == SB__MATCH_VS) {
        cJSON *h = sb__jobj_dup(t, headers, names.v[i]);
        sb__jstr(t, h, "regex", m->headers[i].value);
      } else {
        cJSON *h = sb__jobj(t, headers, NULL);
        sb__jstr(t, h, "type", "RegularExpression");
        sb__jstr(t, h, "name", names.v[i]);
        sb__jstr(t, h, "value", m->headers[i].value);
      }
    }
  }
  if (!cond && !headers && methods.n == 0) {
    *all = 1;
    goto done;
  }
  /* One entry per method: both shapes take a single method per entry. */
  nm = methods.n ? methods.n : 1;
  for (i = 0; i < nm; i++) {
    cJSON *e = cJSON_CreateObject();
    if (!e) {
      t->oom = 1;
      break;
    }
    if (form == SB__MATCH_VS) {
      if (cond)
        sb__jadd(t, e, "uri", cJSON_Duplicate(cond, 1));
      if (methods.n)
        sb__jstr(t, sb__jobj(t, e, "method"), "exact", methods.v[i]);
      if (headers)
        sb__jadd(t, e, "headers", cJSON_Duplicate(headers, 1));
    } else {
      if (cond)
        sb__jadd(t, e, "path", cJSON_Duplicate(cond, 1));
      if (headers)
        sb__jadd(t, e, "headers", cJSON_Duplicate(headers, 1));
      if (methods.n)
        sb__jstr(t, e, "method", methods.v[i]);
    }
    sb__jadd_unique(t, list, e);
  }
done:
  cJSON_Delete(cond);
  cJSON_Delete(headers);
  sb__strv_free(&methods);
  sb__strv_free(&names);
  return rc;
}

int sb__convert_match_ap(sb__tx *t, const sb_http_match *m,
                         const cJSON *ports, const char *what,
                         const char *path, cJSON **op, cJSON **when) {
  sb__strv methods = {0}, names = {0}, paths = {0}, values = {0};
  size_t i;
  int rc = 0, r;

  *op = NULL;
  *when = NULL;
  if (match_methods(t, m, what, path, &methods) ||
      match_headers(t, m, what, path, &names)) {
    rc = -1;
    goto done;
  }
  r = sb__ap_paths(m->path_regex, &paths);
  if (r == SB_ENOMEM) {
    t->oom = 1;
    rc = -1;
    goto done;
  }
  if (r) {
    sb__warn(t, SB_REASON_DROPPED, path, "%s: pathRegex \"%s\" cannot be "
             "expressed in an Istio AuthorizationPolicy (exact, prefix* and "
             "*suffix paths only); the match is dropped, so what it would "
             "allow is denied", what, m->path_regex);
    rc = 1;
    goto done;
  }
  for (i = 0; i < m->nheaders; i++) {
    cJSON *c, *vs;
    size_t j;

    r = sb__ap_header_values(m->headers[i].value, &values);
    if (r == SB_ENOMEM) {
      t->oom = 1;
      rc = -1;
      goto done;
    }
    if (r) {
      sb__warn(t, SB_REASON_DROPPED, path, "%s: the regex \"%s\" of header "
               "%s cannot be expressed in an Istio AuthorizationPolicy "
               "(exact, prefix*, *suffix or presence only); the match is "
               "dropped, so what it would allow is denied", what,
               m->headers[i].value, m->headers[i].key);
      rc = 1;
      cJSON_Delete(*when);
      *when = NULL;
      goto done;
    }
    if (!*when && !(*when = cJSON_CreateArray()))
      t->oom = 1;
    c = sb__jobj(t, *when, NULL);
    {
      sb_buf key;
      sb_buf_init(&key, SB_BUF_UNLIMITED);
      if (sb_buf_addf(&key, "request.headers[%s]", names.v[i]))
        t->oom = 1;
      sb__jstr(t, c, "key", sb_buf_cstr(&key));
      sb_buf_free(&key);
    }
    vs = sb__jarr(t, c, "values");
    for (j = 0; j < values.n; j++)
      sb__jstr(t, vs, NULL, values.v[j]);
    sb__strv_free(&values);
  }
  if ((ports && cJSON_GetArraySize(ports) > 0) || methods.n || paths.n) {
    cJSON *arr;
    *op = cJSON_CreateObject();
    if (!*op)
      t->oom = 1;
    if (*op && ports && cJSON_GetArraySize(ports) > 0)
      sb__jadd(t, *op, "ports", cJSON_Duplicate(ports, 1));
    if (*op && methods.n) {
      arr = sb__jarr(t, *op, "methods");
      for (i = 0; i < methods.n; i++)
        sb__jstr(t, arr, NULL, methods.v[i]);
    }
    if (*op && paths.n) {
      arr = sb__jarr(t, *op, "paths");
      for (i = 0; i < paths.n; i++)
        sb__jstr(t, arr, NULL, paths.v[i]);
    }
  }
done:
  sb__strv_free(&methods);
  sb__strv_free(&names);
  sb__strv_free(&paths);
  sb__strv_free(&values);
  return rc;
}
