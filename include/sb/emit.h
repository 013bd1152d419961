/* emit.h -- cJSON trees out as YAML or JSON, byte-for-byte deterministic.
 *
 * Keys come out in the order they sit in the tree (translators build their
 * objects in a fixed, documented order), so the same input always gives the
 * same bytes: golden tests and `diff` depend on that.
 *
 * YAML output is block style with two-space indentation and sequences
 * indented under their key (the kubectl look). A string is quoted exactly
 * when a YAML 1.2 core-schema reader (and sb_doc) would otherwise read it
 * as something else: "100", "true", "null", "", "1e3", leading/trailing
 * space, ": " or " #", an indicator character at the start, and so on --
 * and also when a YAML 1.1 reader such as kubectl's would ("yes", "on",
 * "y", "0b1", "1_000", "2024-01-31"). Quoted strings use double quotes.
 * Numbers that hold integral values print without a fraction.
 *
 * SB_EINVAL for a NaN/infinite number, a string that is not UTF-8, or a
 * cJSON_Raw node; SB_ELIMIT when out's cap is reached or the tree nests
 * deeper than 1000. After an error out may hold a partial document.
 */
#ifndef SB_EMIT_H
#define SB_EMIT_H

#include <cjson/cJSON.h>

#include "sb/buf.h"

/* One YAML document, without a leading `---`; ends with a newline. */
int sb_emit_yaml(const cJSON *obj, sb_buf *out);

/* A memo for emitting many generated objects: which of their constant
 * keys (cJSON_StringIsConst, as the translators add them) need no quotes,
 * remembered across documents. The output is the same with or without
 * one. About 12 KiB; one per emitting loop, not shared between threads.
 * sb_emit_memo_new returns NULL when out of memory. */
typedef struct sb_emit_memo sb_emit_memo;
sb_emit_memo *sb_emit_memo_new(void);
void sb_emit_memo_free(sb_emit_memo *mm);
/* sb_emit_yaml with a memo (NULL: none). */
int sb_emit_yaml_memo(const cJSON *obj, sb_buf *out, sb_emit_memo *mm);
/* JSON; pretty = two-space indentation and a trailing newline, otherwise
 * one line without spaces. */
int sb_emit_json(const cJSON *obj, sb_buf *out, int pretty);
/* A 64-bit hash of the tree's content: every key in order, every string,
 * every number by its value (as these functions print it), and the shape
 * (a tagged walk, words mixed eight bytes at a time, sb_hash_final's
 * avalanche at the end). It depends on neither the output format nor the
 * platform's byte order or number representation, so two builds on any
 * architecture agree on it. 0 for NULL. */
uint64_t sb_emit_hash(const cJSON *obj);
/* Would this string need quotes as a YAML plain scalar? (exposed for the
 * tests and for callers that emit YAML fragments themselves) */
int sb_emit_yaml_needs_quotes(const char *s);

#endif
