/* The incident story through the C ABI: a gateway allows alice; a burst of
 * failed logons then a success for her arrives as OCSF events; mesh_observe
 * correlates it into a finding and revokes her, so her next decision is a
 * Deny; standalone analytics give the same finding from NDJSON; a summary
 * counts decisions, events and findings and renders the HTML report.
 * Usage: incident DATA_DIR (examples/data). */
#include <stdint.h>

#include "common.h"

#define NOW_MS INT64_C(1767226200000) /* 2026-01-01T00:10:00Z */

static const char *response = "\n[response]\nauto_revoke = true\nmin_severity = \"medium\"\n";

/* An OCSF Authentication (3002) logon of alice, failed or successful. */
static int logon(char *buf, size_t n, int i, int64_t t, int success) {
  return snprintf(buf, n,
                  "{\"class_uid\": 3002, \"class_name\": \"Authentication\", \"category_uid\": 3, "
                  "\"activity_id\": 1, \"type_uid\": 300201, \"severity_id\": 1, "
                  "\"time\": %lld, \"status_id\": %d, \"metadata\": {\"uid\": \"okta-%d\", "
                  "\"version\": \"1.8.0\", \"product\": {\"name\": \"Okta\", "
                  "\"vendor_name\": \"Okta\"}}, \"user\": {\"email_addr\": \"alice@example.com\"}, "
                  "\"src_endpoint\": {\"ip\": \"198.51.100.23\"}}\n",
                  (long long)t, success ? 1 : 2, i);
}

static mesh_effect decide(const mesh_t *gw, const mesh_summary *s, const char *token,
                          const char **reason) {
  const mesh_decision *d = NULL;
  mesh_effect e = MESH_EFFECT_DENY;
  static char why[64];
  CHECK(mesh_authorize(gw, token, "Action::\"read\"", "Document::\"q3-plan\"", NULL, NOW_MS, &d) ==
        MESH_OK);
  e = mesh_decision_effect(d);
  snprintf(why, sizeof why, "%s", mesh_decision_reason(d));
  *reason = why;
  CHECK(mesh_summary_observe_decision(s, d, NOW_MS) == MESH_OK);
  CHECK(mesh_decision_free(d) == MESH_OK);
  return e;
}

int main(int argc, char **argv) {
  const char *dir = argc > 1 ? argv[1] : "examples/data";
  char *cfg_path = path_in(dir, "gateway.toml"), *tok_path = path_in(dir, "tokens.txt");
  char *bundle_path = path_in(dir, "policies-r1.bundle");
  char *base = read_file(cfg_path, NULL), *tokens = read_file(tok_path, NULL);
  size_t bundle_len = 0, used = 0, found_total = 0, n = 0;
  char *bundle = read_file(bundle_path, &bundle_len);
  char ndjson[8192], *obs = NULL, *findings = NULL, *html = NULL, *config, *alice, *end;
  const mesh_t *gw = NULL;
  const mesh_summary *summary = NULL;
  const mesh_analytics *analytics = NULL;
  const char *reason = NULL;
  uint64_t rev = 0;
  int i, applied = 0;

  if (base == NULL || tokens == NULL || bundle == NULL) return 2;
  config = malloc(strlen(base) + strlen(response) + 1);
  alice = strstr(tokens, "alice ");
  if (config == NULL || alice == NULL) return 2;
  strcpy(config, base);
  strcat(config, response);
  alice += 6;
  end = strchr(alice, '\n');
  if (end != NULL) *end = '\0';

  printf("incident: gateway with automatic response\n");
  CHECK(mesh_new(config, &gw) == MESH_OK);
  CHECK(mesh_activate_bundle(gw, (const uint8_t *)bundle, bundle_len, &rev) == MESH_OK);
  CHECK(mesh_summary_new(NULL, &summary) == MESH_OK);
  CHECK(mesh_summary_observe_revision(summary, rev, NOW_MS) == MESH_OK);
  CHECK(decide(gw, summary, alice, &reason) == MESH_EFFECT_ALLOW);
  printf("  alice read before the incident: allow (%s)\n", reason);

  /* Argument checks of the analytics entry points on a live mesh. */
  CHECK(mesh_observe(gw, (const uint8_t *)"{\"time\":", 8, NOW_MS, &obs, &n) ==
        MESH_ERR_INVALID_JSON);
  CHECK(mesh_observe(gw, (const uint8_t *)"{\"time\": \"x\"}", 13, NOW_MS, &obs, &n) ==
        MESH_ERR_ANALYTICS); /* not an OCSF event: the last error names the field */
  CHECK(strstr(mesh_last_error_message(), "/time") != NULL);
  CHECK(mesh_observe(gw, (const uint8_t *)"\xff\xfe", 2, NOW_MS, &obs, &n) == MESH_ERR_INVALID_UTF8);
  CHECK(mesh_observe(gw, (const uint8_t *)"{}", (size_t)1 << 30, NOW_MS, &obs, &n) ==
        MESH_ERR_INPUT_TOO_LARGE);
  CHECK(mesh_observe(gw, (const uint8_t *)"{}", 2, NOW_MS, NULL, &n) == MESH_ERR_NULL_ARGUMENT);
  CHECK(obs == NULL);
  CHECK(mesh_set_analytics(gw, "detection: [", NULL, NULL) == MESH_ERR_SIGMA_RULE);
  CHECK(mesh_set_analytics(gw, NULL, "{}", NULL) == MESH_ERR_STIX);
  CHECK(mesh_set_analytics(gw, NULL, NULL, "{\"rules\": [{}]}") == MESH_ERR_RESPONSE_POLICY);
  CHECK(mesh_set_analytics(gw, NULL, NULL, NULL) == MESH_OK); /* nothing to change */

  /* Six failed logons then a success, in the minute before now. */
  for (i = 0; i < 7; i++) {
    char *line = ndjson + used;
    used += (size_t)logon(line, sizeof ndjson - used, i, NOW_MS - 60000 + i * 1000, i == 6);
    CHECK(mesh_observe(gw, (const uint8_t *)line, strlen(line), NOW_MS, &obs, &n) == MESH_OK);
    found_total += n;
    applied += strstr(obs, "\"applied\":[{") != NULL;
    mesh_string_free(obs);
    obs = NULL;
    CHECK(mesh_summary_observe_event(summary, (const uint8_t *)line, strlen(line), NOW_MS) ==
          MESH_OK);
  }
  CHECK(mesh_flush_observations(gw, NOW_MS, &obs, &n) == MESH_OK);
  found_total += n;
  applied += strstr(obs, "\"applied\":[{") != NULL;
  CHECK(strstr(obs, "\"admission\":\"accepted\"") != NULL);
  mesh_string_free(obs);
  printf("  mesh_observe: %zu finding(s), %d automatic response(s)\n", found_total, applied);
  CHECK(found_total >= 1 && applied >= 1);

  CHECK(decide(gw, summary, alice, &reason) == MESH_EFFECT_DENY);
  CHECK(strcmp(reason, "revoked") == 0);
  printf("  alice read after the finding: deny (%s)\n", reason);

  /* The same events through standalone analytics, as `mesh detect` does. */
  CHECK(mesh_analytics_new(NULL, NULL, NULL, &analytics) == MESH_OK);
  CHECK(mesh_analytics_detect_batch(analytics, (const uint8_t *)ndjson, used, true, &findings,
                                    NULL, NULL, NULL) == MESH_OK);
  CHECK(strstr(findings, "brute_force_success") != NULL);
  {
    char *line = findings, *nl;
    size_t count = 0;
    while ((nl = strchr(line, '\n')) != NULL) {
      CHECK(mesh_summary_observe_finding(summary, (const uint8_t *)line, (size_t)(nl - line),
                                         NOW_MS) == MESH_OK);
      count++;
      line = nl + 1;
    }
    printf("  mesh_analytics_detect_batch: %zu finding(s)\n", count);
    CHECK(count >= 1);
  }
  mesh_string_free(findings);

  CHECK(mesh_summary_render_html(summary, NOW_MS, "{\"title\": \"incident\"}", &html) == MESH_OK);
  CHECK(strstr(html, "<h2") != NULL && strstr(html, "T1110") != NULL);
  printf("  report: %zu bytes of self-contained HTML\n", strlen(html));
  mesh_string_free(html);

  CHECK(mesh_analytics_free(analytics) == MESH_OK);
  CHECK(mesh_summary_free(summary) == MESH_OK);
  CHECK(mesh_free(gw) == MESH_OK);
  CHECK(mesh_observe(gw, (const uint8_t *)ndjson, 10, NOW_MS, &obs, &n) ==
        MESH_ERR_INVALID_HANDLE); /* use after free detected */
  free(config);
  free(base);
  free(tokens);
  free(bundle);
  free(cfg_path);
  free(tok_path);
  free(bundle_path);
  printf("incident: %d passed, %d failed\n", passed, failed);
  return failed == 0 ? 0 : 1;
}
