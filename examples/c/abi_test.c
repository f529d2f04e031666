/* ABI conformance test of libmesh: argument checking, error reporting,
 * ownership, version. Prints "N passed, N failed" and exits non-zero on any
 * failure. Built with -Wall -Wextra -Werror -pedantic and run under
 * ASan/UBSan and valgrind by scripts/test-c.sh. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mesh.h"

static int passed, failed;


#define CHECK(cond)                                                         \
  do {                                                                      \
    if (cond) {                                                             \
      passed++;                                                             \
    } else {                                                                \
      failed++;                                                             \
      fprintf(stderr, "%s:%d: check failed: %s (last error: %s)\n",         \
              __FILE__, __LINE__, #cond, mesh_last_error_message());        \
    }                                                                       \
  } while (0)

static void test_version(void) {
  char expected[64];
  snprintf(expected, sizeof expected, "%d.%d.%d", MESH_VERSION_MAJOR,
           MESH_VERSION_MINOR, MESH_VERSION_PATCH);
  CHECK(strcmp(mesh_version(), expected) == 0);
}

static void test_result_messages(void) {
  CHECK(strcmp(mesh_result_message(MESH_OK), "ok") == 0);
  CHECK(strlen(mesh_result_message(MESH_ERR_NULL_ARGUMENT)) > 0);
  CHECK(strcmp(mesh_result_message(424242), "unknown result code") == 0);
  CHECK(MESH_ERR_ANALYTICS == 4000 && MESH_ERR_SIGMA_RULE == 4001 && MESH_ERR_STIX == 4002 &&
        MESH_ERR_RESPONSE_POLICY == 4003 && MESH_ERR_REPORT == 4004 && MESH_ERR_CONFIG == 5000);
  CHECK(strcmp(mesh_result_message(MESH_ERR_REPORT), "the summary input was rejected") == 0);
}

static void test_actor_key(void) {
  char *key = NULL;
  CHECK(mesh_actor_key("Alice@Example.COM", &key) == MESH_OK);
  CHECK(key != NULL && strcmp(key, "alice@example.com") == 0);
  CHECK(strcmp(mesh_last_error_message(), "") == 0);
  mesh_string_free(key);

  key = NULL;
  CHECK(mesh_actor_key(NULL, &key) == MESH_ERR_NULL_ARGUMENT);
  CHECK(key == NULL); /* out-parameters are written only on success */
  CHECK(strstr(mesh_last_error_message(), "identifier") != NULL);
  CHECK(mesh_actor_key("alice@example.com", NULL) == MESH_ERR_NULL_ARGUMENT);
  CHECK(mesh_actor_key("\xff\xfe", &key) == MESH_ERR_INVALID_UTF8);
  CHECK(mesh_actor_key("   ", &key) == MESH_ERR_IDENTITY);
  CHECK(key == NULL);
  mesh_string_free(NULL); /* accepted, does nothing */
}

#define T0 INT64_C(1717228800000) /* 2024-06-01T08:00:00Z */

static const char *stix_bundle =
    "{\"type\": \"bundle\", \"id\": \"bundle--5d0092c5-5f74-4287-9642-33f4c354e56d\", "
    "\"objects\": [{\"type\": \"indicator\", \"spec_version\": \"2.1\", "
    "\"id\": \"indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f\", "
    "\"created\": \"2024-05-01T00:00:00.000Z\", \"modified\": \"2024-05-01T00:00:00.000Z\", "
    "\"name\": \"Botnet node\", \"pattern\": \"[ipv4-addr:value = '203.0.113.7']\", "
    "\"pattern_type\": \"stix\", \"valid_from\": \"2024-05-01T00:00:00Z\", "
    "\"valid_until\": \"2024-07-01T00:00:00Z\", \"confidence\": 85}]}";

static const char *sigma_rule =
    "title: Certutil Download\n"
    "id: 6f1c7a3e-2b51-4c0e-9d7a-0a5b1e2f3c02\n"
    "tags:\n"
    "    - attack.t1105\n"
    "logsource:\n"
    "    product: windows\n"
    "    category: process_creation\n"
    "detection:\n"
    "    selection:\n"
    "        Image|endswith: '\\certutil.exe'\n"
    "    condition: selection\n"
    "level: medium\n";

/* An OCSF Authentication (3002) logon of `user` from `ip`. */
static void logon(char *buf, size_t n, int i, int64_t t, const char *user, const char *ip,
                  int success) {
  snprintf(buf, n,
           "{\"class_uid\": 3002, \"class_name\": \"Authentication\", \"category_uid\": 3, "
           "\"activity_id\": 1, \"type_uid\": 300201, \"severity_id\": 1, \"time\": %lld, "
           "\"status_id\": %d, \"metadata\": {\"uid\": \"e%d\", \"version\": \"1.8.0\", "
           "\"product\": {\"name\": \"Okta\", \"vendor_name\": \"Okta\"}}, "
           "\"user\": {\"email_addr\": \"%s\", \"name\": \"%s\"}, "
           "\"src_endpoint\": {\"ip\": \"%s\"}}",
           (long long)t, success ? 1 : 2, i, user, user, ip);
}

static size_t count_lines(const char *s) {
  size_t n = 0;
  for (; s != NULL && *s != '\0'; s++) n += *s == '\n';
  return n;
}

static void test_analytics_arguments(void) {
  const mesh_analytics *a = NULL;
  char *found = NULL, *errors = NULL, *stats = NULL;
  size_t nfailed = 99;

  CHECK(mesh_analytics_new(NULL, NULL, NULL, NULL) == MESH_ERR_NULL_ARGUMENT);
  CHECK(mesh_analytics_new("title: [unclosed", NULL, NULL, &a) == MESH_ERR_SIGMA_RULE);
  CHECK(a == NULL);
  CHECK(mesh_analytics_new(NULL, "{\"type\": \"bundle\", \"objects\": 5}", NULL, &a) ==
        MESH_ERR_STIX);
  CHECK(mesh_analytics_new(NULL, NULL, "{\"max_actors\": 0}", &a) == MESH_ERR_INVALID_ARGUMENT);
  CHECK(strstr(mesh_last_error_message(), "/max_actors") != NULL);
  CHECK(mesh_analytics_new(NULL, NULL, "{\"max_actor\": 10}", &a) == MESH_ERR_INVALID_ARGUMENT);
  CHECK(strstr(mesh_last_error_message(), "max_actor") != NULL);
  CHECK(mesh_analytics_new(NULL, NULL, "{\"detections\": [\"nope\"]}", &a) ==
        MESH_ERR_INVALID_ARGUMENT);
  CHECK(mesh_analytics_new(NULL, NULL, "[1]", &a) == MESH_ERR_INVALID_JSON);
  CHECK(mesh_analytics_new(NULL, NULL, "{\"response_policy\": {\"rules\": 3}}", &a) ==
        MESH_ERR_RESPONSE_POLICY);
  CHECK(mesh_analytics_new("\xff", NULL, NULL, &a) == MESH_ERR_INVALID_UTF8);
  CHECK(a == NULL);

  CHECK(mesh_analytics_new(sigma_rule, stix_bundle, "{\"allowed_lateness_ms\": 0}", &a) ==
        MESH_OK);
  CHECK(mesh_analytics_detect_batch(a, NULL, 5, false, &found, NULL, NULL, NULL) ==
        MESH_ERR_NULL_ARGUMENT);
  CHECK(mesh_analytics_detect_batch(a, (const uint8_t *)"{}", (size_t)1 << 40, false, &found,
                                    NULL, NULL, NULL) == MESH_ERR_INPUT_TOO_LARGE);
  CHECK(mesh_analytics_detect_batch(a, (const uint8_t *)"{}", 2, false, NULL, NULL, NULL, NULL) ==
        MESH_ERR_NULL_ARGUMENT);
  CHECK(found == NULL);
  /* Invalid lines never stop the batch; each is reported with its line number. */
  {
    const char *bad = "\n{\"class_uid\": 3002}\nnot json\n\xff\xfe\n";
    CHECK(mesh_analytics_detect_batch(a, (const uint8_t *)bad, strlen(bad), true, &found, NULL,
                                      &errors, &nfailed) == MESH_OK);
    CHECK(nfailed == 3 && count_lines(errors) == 3);
    CHECK(strstr(errors, "\"line\":2") != NULL && strstr(errors, "\"line\":3") != NULL &&
          strstr(errors, "\"line\":4") != NULL);
    CHECK(strstr(errors, "invalid_json") != NULL && strstr(errors, "invalid_utf8") != NULL &&
          strstr(errors, "invalid_event") != NULL);
    CHECK(found != NULL && strcmp(found, "") == 0);
    mesh_string_free(found);
    mesh_string_free(errors);
  }
  CHECK(mesh_analytics_stats(a, NULL) == MESH_ERR_NULL_ARGUMENT);
  CHECK(mesh_analytics_stats(a, &stats) == MESH_OK);
  CHECK(stats != NULL && strstr(stats, "\"invalid\":3") != NULL &&
        strstr(stats, "\"sigma_rules\":1") != NULL && strstr(stats, "\"indicators\":1") != NULL);
  mesh_string_free(stats);
  CHECK(mesh_analytics_free(a) == MESH_OK);
  CHECK(mesh_analytics_free(a) == MESH_ERR_INVALID_HANDLE); /* double free detected */
  CHECK(mesh_analytics_stats(a, &stats) == MESH_ERR_INVALID_HANDLE);
  CHECK(mesh_analytics_free(NULL) == MESH_OK);
  /* A handle of another type is refused. */
  CHECK(mesh_analytics_stats((const mesh_analytics *)(const void *)&passed, &stats) ==
        MESH_ERR_INVALID_HANDLE);
}

static void test_analytics_detection(void) {
  const mesh_analytics *a = NULL;
  char line[1024], *batch = NULL, *found = NULL, *responses = NULL, *errors = NULL;
  char *stats = NULL;
  size_t nfailed = 99, used = 0, cap = 16384;
  int i;
  const char *policy =
      "{\"response_policy\": {\"rules\": [{\"id\": \"block\", "
      "\"match\": {\"detections\": [\"brute_force_success\"]}, "
      "\"actions\": [{\"type\": \"revoke_subject\"}]}]}}";

  CHECK(mesh_analytics_new(NULL, stix_bundle, policy, &a) == MESH_OK);
  batch = malloc(cap);
  if (batch == NULL) return;
  batch[0] = '\0';
  /* Six failed logons then a success for alice, from a listed IP. */
  for (i = 0; i < 7; i++) {
    logon(line, sizeof line, i, T0 + i * 1000, "alice@example.com", "203.0.113.7", i == 6);
    used += (size_t)snprintf(batch + used, cap - used, "%s\n", line);
  }
  CHECK(mesh_analytics_detect_batch(a, (const uint8_t *)batch, used, true, &found, &responses,
                                    &errors, &nfailed) == MESH_OK);
  CHECK(nfailed == 0 && errors != NULL && strcmp(errors, "") == 0);
  CHECK(strstr(found, "\"brute_force_success\"") != NULL);
  CHECK(strstr(found, "\"ti_match\"") != NULL);
  CHECK(strstr(found, "\"class_uid\":2004") != NULL);
  CHECK(responses != NULL && strstr(responses, "revoke_subject") != NULL &&
        strstr(responses, "alice@example.com") != NULL);
  CHECK(mesh_analytics_stats(a, &stats) == MESH_OK);
  CHECK(strstr(stats, "\"events\":7") != NULL && strstr(stats, "\"responses\":1") != NULL);
  mesh_string_free(stats);
  mesh_string_free(found);
  mesh_string_free(responses);
  mesh_string_free(errors);
  free(batch);
  CHECK(mesh_analytics_free(a) == MESH_OK);
}

static void test_summary(void) {
  const mesh_summary *s = NULL;
  char *json = NULL, *html = NULL, ev[1024];
  const char *finding =
      "{\"class_uid\": 2004, \"time\": 1717228860000, \"severity_id\": 4, "
      "\"metadata\": {\"product\": {\"name\": \"mesh\"}}, \"finding_info\": {\"attacks\": "
      "[{\"technique\": {\"uid\": \"T1110\", \"name\": \"Brute Force\"}}]}}";

  CHECK(mesh_summary_new(NULL, NULL) == MESH_ERR_NULL_ARGUMENT);
  CHECK(mesh_summary_new("{\"bucket_ms\": 0}", &s) == MESH_ERR_INVALID_ARGUMENT);
  CHECK(mesh_summary_new("{\"bucket\": 1}", &s) == MESH_ERR_INVALID_ARGUMENT);
  CHECK(mesh_summary_new("{\"max_keys\": \"ten\"}", &s) == MESH_ERR_INVALID_JSON);
  CHECK(s == NULL);
  CHECK(mesh_summary_new("{\"bucket_ms\": 60000, \"max_keys\": 50}", &s) == MESH_OK);

  logon(ev, sizeof ev, 1, T0, "bob@example.com", "198.51.100.20", 0);
  CHECK(mesh_summary_observe_event(s, (const uint8_t *)ev, strlen(ev), T0) == MESH_OK);
  CHECK(mesh_summary_observe_event(s, (const uint8_t *)"[1]", 3, T0) == MESH_ERR_REPORT);
  CHECK(mesh_summary_observe_event(s, (const uint8_t *)"{\"class_uid\":", 13, T0) ==
        MESH_ERR_INVALID_JSON);
  CHECK(strstr(mesh_last_error_message(), "1:13") != NULL);
  CHECK(mesh_summary_observe_event(s, (const uint8_t *)"\xff", 1, T0) == MESH_ERR_INVALID_UTF8);
  CHECK(mesh_summary_observe_event(s, NULL, 4, T0) == MESH_ERR_NULL_ARGUMENT);
  CHECK(mesh_summary_observe_event(s, (const uint8_t *)ev, (size_t)1 << 30, T0) ==
        MESH_ERR_INPUT_TOO_LARGE);
  CHECK(mesh_summary_observe_finding(s, (const uint8_t *)finding, strlen(finding), T0) ==
        MESH_OK);
  CHECK(mesh_summary_observe_finding(s, (const uint8_t *)ev, strlen(ev), T0) == MESH_ERR_REPORT);
  CHECK(strstr(mesh_last_error_message(), "2004") != NULL);
  CHECK(mesh_summary_observe_revision(s, 7, T0) == MESH_OK);
  CHECK(mesh_summary_observe_decision(s, NULL, T0) == MESH_ERR_NULL_ARGUMENT);
  CHECK(mesh_summary_observe_decision(s, (const mesh_decision *)(const void *)s, T0) ==
        MESH_ERR_INVALID_HANDLE); /* a summary is not a decision */

  CHECK(mesh_summary_to_json(s, NULL) == MESH_ERR_NULL_ARGUMENT);
  CHECK(mesh_summary_to_json(s, &json) == MESH_OK);
  CHECK(json != NULL && strstr(json, "\"T1110\"") != NULL && strstr(json, "\"Okta\"") != NULL);
  mesh_string_free(json);
  CHECK(mesh_summary_render_html(s, T0 + 60000, "{\"top_n\": 0}", &html) ==
        MESH_ERR_INVALID_ARGUMENT);
  CHECK(mesh_summary_render_html(s, T0 + 60000, "{\"colour\": \"red\"}", &html) ==
        MESH_ERR_INVALID_ARGUMENT);
  CHECK(html == NULL);
  CHECK(mesh_summary_render_html(s, T0 + 60000, "{\"title\": \"ABI <test>\", \"top_n\": 5}",
                                 &html) == MESH_OK);
  CHECK(html != NULL && strncmp(html, "<!DOCTYPE html>", 15) == 0);
  CHECK(strstr(html, "ABI &lt;test&gt;") != NULL && strstr(html, "<script") == NULL);
  mesh_string_free(html);
  CHECK(mesh_summary_render_html(s, T0, NULL, &html) == MESH_OK);
  mesh_string_free(html);

  CHECK(mesh_summary_free(s) == MESH_OK);
  CHECK(mesh_summary_free(s) == MESH_ERR_INVALID_HANDLE); /* double free detected */
  CHECK(mesh_summary_observe_revision(s, 8, T0) == MESH_ERR_INVALID_HANDLE);
  CHECK(mesh_summary_free(NULL) == MESH_OK);
}

static void test_observe_arguments(void) {
  char *obs = NULL;
  size_t n = 99;
  CHECK(mesh_observe(NULL, (const uint8_t *)"{}", 2, T0, &obs, &n) == MESH_ERR_NULL_ARGUMENT);
  CHECK(mesh_flush_observations(NULL, T0, &obs, &n) == MESH_ERR_NULL_ARGUMENT);
  CHECK(mesh_set_analytics(NULL, NULL, NULL, NULL) == MESH_ERR_NULL_ARGUMENT);
  CHECK(obs == NULL && n == 99);
}

int main(void) {
  test_version();
  test_result_messages();
  test_actor_key();
  test_analytics_arguments();
  test_analytics_detection();
  test_summary();
  test_observe_arguments();
  printf("c abi: %d passed, %d failed\n", passed, failed);
  return failed == 0 ? 0 : 1;
}
