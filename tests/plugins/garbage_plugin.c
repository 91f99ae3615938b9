/* A test plugin in plain C99 against malipo/abi.h alone (no C++ SDK): it proves the ABI is
 * a C contract, and its handlers answer what a buggy plugin might, so the kernel's tests can
 * check that each is contained (a 500 JSON answer with a request id, the process lives).
 *
 *   GET /garbage/ok      200 "fine"
 *   GET /garbage/code    returns 12345: neither MLP_OK nor MLP_FAIL
 *   GET /garbage/status  MLP_OK with the HTTP status 9999
 *   GET /garbage/fail    MLP_FAIL with no error fields
 *   GET /garbage/zero    returns 0 (what a zeroed result looks like): never success
 */
#include <string.h>

#include "malipo/abi.h"

__attribute__((used, section(".note.malipo"), aligned(4))) static const mlp_note note = {
    sizeof(MLP_NOTE_NAME), sizeof(mlp_note) - 20, MLP_NOTE_TYPE, MLP_NOTE_NAME,
    MALIPO_SDK_MAJOR,      MALIPO_SDK_MINOR,      "garbage",     "0.1.0"};

static const mlp_api_v1* api;

static mlp_str s(const char* text) {
  mlp_str v;
  v.ptr = text;
  v.len = strlen(text);
  return v;
}

static int32_t ok(void* self, const mlp_rec* in, mlp_rec* out, mlp_tx* tx) {
  (void)self, (void)in, (void)tx;
  api->rec_set_i64(out, MLP_K_RESP_STATUS, 200);
  api->rec_set_str(out, MLP_K_RESP_TYPE, s("text/plain"));
  api->rec_set_str(out, MLP_K_RESP_BODY, s("fine"));
  return MLP_OK;
}
static int32_t badCode(void* self, const mlp_rec* in, mlp_rec* out, mlp_tx* tx) {
  (void)self, (void)in, (void)out, (void)tx;
  return 12345;
}
static int32_t badStatus(void* self, const mlp_rec* in, mlp_rec* out, mlp_tx* tx) {
  (void)self, (void)in, (void)tx;
  api->rec_set_i64(out, MLP_K_RESP_STATUS, 9999);
  return MLP_OK;
}
static int32_t bareFail(void* self, const mlp_rec* in, mlp_rec* out, mlp_tx* tx) {
  (void)self, (void)in, (void)out, (void)tx;
  return MLP_FAIL;
}
static int32_t zero(void* self, const mlp_rec* in, mlp_rec* out, mlp_tx* tx) {
  (void)self, (void)in, (void)tx;
  api->rec_set_i64(out, MLP_K_RESP_STATUS, 200);
  return 0;
}

static int32_t addRoute(mlp_host* host, const char* path, mlp_hook_fn fn) {
  mlp_rec* route = api->rec_new();
  mlp_rec* err = api->rec_new();
  api->rec_set_str(route, MLP_K_ROUTE_METHOD, s("GET"));
  api->rec_set_str(route, MLP_K_ROUTE_PATTERN, s(path));
  api->rec_set_i64(route, MLP_K_ROUTE_AUTH, MLP_AUTH_NONE);
  int32_t rc = api->route_add(host, route, fn, NULL, NULL, err);
  api->rec_free(route);
  api->rec_free(err);
  return rc;
}

static mlp_host* theHost;

static int32_t start(void* self, const mlp_rec* in, mlp_rec* out, mlp_tx* tx) {
  (void)self, (void)in, (void)out, (void)tx;
  if (addRoute(theHost, "/garbage/ok", ok) != MLP_OK ||
      addRoute(theHost, "/garbage/code", badCode) != MLP_OK ||
      addRoute(theHost, "/garbage/status", badStatus) != MLP_OK ||
      addRoute(theHost, "/garbage/fail", bareFail) != MLP_OK ||
      addRoute(theHost, "/garbage/zero", zero) != MLP_OK)
    return MLP_FAIL;
  return MLP_OK;
}

static int32_t registerPlugin(void* self, mlp_host* host, mlp_rec* err) {
  (void)self;
  theHost = host;
  mlp_object* component = api->object_add(host, MLP_OBJ_COMPONENT, s(""), NULL, NULL, err);
  if (!component) return MLP_FAIL;
  return api->object_hook(component, MLP_HOOK_START, start);
}

__attribute__((visibility("default"))) int32_t malipo_plugin_init_v1(const mlp_api_v1* table,
                                                                     mlp_plugin* plugin) {
  if (table->major != MALIPO_SDK_MAJOR)
    return MLP_FAIL; /* built for 1.0: every 1.x table has its band */
  api = table;
  mlp_rec* schema = api->plugin_schema(plugin);
  api->rec_set_i64(schema, MLP_K_SCH_TYPE, MLP_SET_OBJECT);
  api->rec_set_str(schema, MLP_K_SCH_DESCRIPTION, s("no settings"));
  api->plugin_on_register(plugin, registerPlugin, NULL);
  return MLP_OK;
}
