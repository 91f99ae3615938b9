/* Malipo plugin ABI, version 1.x: the only contract between a kernel and a plugin binary.
 *
 * C99, fixed-width types only. Nothing of C++ crosses: no std::string, no exception, no
 * allocator, no vtable. A plugin written in C++ uses the header-only SDK above this file
 * (malipo/plugin.hpp and friends), which is compiled into the plugin.
 *
 * VERSIONING
 *   A plugin records the SDK version it was built against (MALIPO_SDK_MAJOR.MINOR) in an ELF
 *   note (section ".note.malipo", see mlp_note). The kernel reads the note from the file
 *   before it loads it: a plugin built against 1.x loads in every kernel 1.y with y >= x; a
 *   newer minor or another major is refused before any of its code (static constructors
 *   included) runs. Within a major version:
 *   - mlp_api_v1 only grows. Fields are added at its end, in bands (1.0, 1.1, ...); a field
 *     of band 1.x exists when the kernel's minor is >= x (api->minor), which the version rule
 *     guarantees for every band up to the plugin's own.
 *   - Enum values (keys, hooks, codes) are frozen; new ones are appended. An unknown value
 *     never means success: MLP_OK is the only success code, an unknown error code is
 *     MLP_E_INTERNAL, an unknown provider state is pending, an unknown job outcome is a retry.
 *   - No struct here changes layout (mlp_str, mlp_value, mlp_note, mlp_api_v1's prefix).
 *
 * OWNERSHIP
 *   - mlp_str passed in (arguments) is borrowed for the duration of the call.
 *   - mlp_str returned by the host (rec_str, rows_cell, host_info) is borrowed from the
 *     object it was read from and valid as long as that object is.
 *   - Records (mlp_rec): created by rec_new and released by rec_free by whoever created
 *     them; records the host passes into a hook (in, out) belong to the host and live for
 *     the duration of the hook; child records (rec_add) belong to their parent.
 *   - mlp_rows: returned by db_query, released by the plugin with rows_free.
 *   - mlp_tx: lent to a callback (db_write body, a transactional hook), valid only during it
 *     and only on the thread it was given on.
 *   - mlp_host: one per plugin, created by the kernel, valid until the process ends.
 *   - `self` pointers a plugin registers are the plugin's; the kernel calls the matching
 *     `release(self)` (when not NULL) once, when it no longer needs the object (at shutdown,
 *     or when a one-shot callback ran or was dropped). A registration that fails (returns
 *     MLP_FAIL or NULL) has not taken `self`: it stays the caller's.
 *
 * THREADING
 *   Every host function is thread-safe. Hooks are called concurrently from HTTP worker
 *   threads and job threads (except the register hook and start/stop, which run on the main
 *   thread). A host function never throws and never calls back into the plugin except where
 *   documented (db_write calls its body; payments calls may call other plugins' hooks).
 */
#ifndef MALIPO_ABI_H
#define MALIPO_ABI_H

#include <stdint.h>

#define MALIPO_SDK_MAJOR 1
#define MALIPO_SDK_MINOR 1

#ifdef __cplusplus
extern "C" {
#endif

/* A borrowed byte string (not NUL-terminated). `ptr` is never NULL in what the host returns. */
typedef struct mlp_str {
  const char* ptr;
  uint64_t len;
} mlp_str;

typedef struct mlp_host mlp_host;
typedef struct mlp_plugin mlp_plugin;
typedef struct mlp_rec mlp_rec;
typedef struct mlp_tx mlp_tx;
typedef struct mlp_rows mlp_rows;
typedef struct mlp_object mlp_object;

/* ---- return codes ------------------------------------------------------------------- */
#define MLP_OK ((int32_t)1)   /* the only success */
#define MLP_FAIL ((int32_t)2) /* failure: the out record carries the error (MLP_K_ERR_*) */

/* ---- error codes (MLP_K_ERR_CODE); their HTTP statuses are the kernel's ------------- */
enum {
  MLP_E_INVALID_INPUT = 1,     /* 400 */
  MLP_E_UNAUTHORIZED = 2,      /* 401 */
  MLP_E_PAYMENT_REQUIRED = 3,  /* 402 */
  MLP_E_FORBIDDEN = 4,         /* 403 */
  MLP_E_NOT_FOUND = 5,         /* 404 */
  MLP_E_CONFLICT = 6,          /* 409 */
  MLP_E_PAYLOAD_TOO_LARGE = 7, /* 413 */
  MLP_E_UNPROCESSABLE = 8,     /* 422 */
  MLP_E_RATE_LIMITED = 9,      /* 429 */
  MLP_E_PROVIDER_ERROR = 10,   /* 502 */
  MLP_E_UNAVAILABLE = 11,      /* 503 */
  MLP_E_PROVIDER_TIMEOUT = 12, /* 504 */
  MLP_E_INTERNAL = 13          /* 500; also what an unknown code means */
};

/* ---- record keys -------------------------------------------------------------------- */
/* A record holds, per key, a string, an integer, a list of strings or a list of child
 * records. Maps (headers, query, labels) are string lists of alternating name, value. */
enum {
  /* errors, in any out record */
  MLP_K_ERR_CODE = 1,
  MLP_K_ERR_INTERNAL = 2, /* for logs */
  MLP_K_ERR_EXTERNAL = 3, /* safe for clients */
  MLP_K_ERR_RETRY_AFTER = 4,
  /* 1.1: a provider's own answer, structured (Error::providerCode/providerText/retryable) */
  MLP_K_ERR_PROVIDER_CODE = 5,
  MLP_K_ERR_PROVIDER_TEXT = 6,
  MLP_K_ERR_RETRYABLE = 7, /* 0/1 */

  /* generic */
  MLP_K_TEXT = 10, /* a string result (account summary, metadata, JSON, HTML) */
  MLP_K_ID = 11,   /* a payment id */
  MLP_K_NAME = 12, /* a provider / product name */
  MLP_K_CHANNEL = 13,
  MLP_K_MSISDN = 14,
  MLP_K_FLAG = 15,     /* 0/1 */
  MLP_K_PAYMENT = 16,  /* child: payment */
  MLP_K_CREATE = 17,   /* child: create-payment request */
  MLP_K_REQUEST = 18,  /* child: HTTP request */
  MLP_K_RESPONSE = 19, /* child: HTTP response */
  MLP_K_ACTION = 20,   /* child: next action */
  MLP_K_ITEMS = 21,    /* children: catalog items / webhook events / migrations */
  MLP_K_CUSTOMER = 22, /* child: customer */
  MLP_K_ITEM = 23,     /* child: one catalog item */
  MLP_K_REFUND = 24,   /* 1.1, child: a refund (MLP_K_RF_*) */

  /* payment (MLP_K_PAYMENT) */
  MLP_K_PAY_ID = 100,
  MLP_K_PAY_PRODUCT = 101,
  MLP_K_PAY_ORDER_REF = 102,
  MLP_K_PAY_PROVIDER = 103,
  MLP_K_PAY_CHANNEL = 104,
  MLP_K_PAY_AMOUNT = 105, /* minor units */
  MLP_K_PAY_CURRENCY = 106,
  MLP_K_PAY_STATUS = 107, /* MLP_PAY_* */
  MLP_K_PAY_PROVIDER_REF = 108,
  MLP_K_PAY_PROVIDER_TXN = 109,
  MLP_K_PAY_DESCRIPTION = 110,
  MLP_K_PAY_METADATA = 111, /* JSON text */
  MLP_K_PAY_FAILURE = 112,
  MLP_K_PAY_CREATED_AT = 113, /* epoch ms */
  MLP_K_PAY_UPDATED_AT = 114,
  MLP_K_PAY_EXPIRES_AT = 115,
  MLP_K_PAY_VERSION = 116,
  MLP_K_PAY_FULFILMENT = 117,
  MLP_K_PAY_FULFILLED_AT = 118,
  MLP_K_PAY_GROSS = 119, /* -1: not reported */
  MLP_K_PAY_FEE = 120,
  MLP_K_PAY_NET = 121,
  MLP_K_PAY_REFUNDED = 122, /* 1.1: minor units refunded so far */

  /* customer (MLP_K_CUSTOMER) */
  MLP_K_CUST_ACCOUNT = 130,
  MLP_K_CUST_EMAIL = 131,
  MLP_K_CUST_NAME = 132,
  MLP_K_CUST_PHONE = 133,
  MLP_K_CUST_COUNTRY = 134, /* 1.1 */

  /* create-payment request (MLP_K_CREATE); also MLP_K_CUSTOMER, MLP_K_PAY_* for shared fields */
  MLP_K_CREATE_PROVIDERS = 140, /* string list */
  MLP_K_CREATE_RETURN_URL = 141,
  MLP_K_CREATE_PUSH = 142,

  /* next action (MLP_K_ACTION) */
  MLP_K_ACT_TYPE = 150,
  MLP_K_ACT_URL = 151,
  MLP_K_ACT_USSD = 152,
  MLP_K_ACT_STEPS = 153, /* string list */
  MLP_K_ACT_VENDOR = 154,
  MLP_K_ACT_REFERENCE = 155,
  MLP_K_ACT_MESSAGE = 156,

  /* provider results: initiate, status (query / proof), webhook events, capabilities */
  MLP_K_INIT_PROVIDER_REF = 160,
  MLP_K_INIT_EXPIRES_AT = 161,
  MLP_K_ST_STATE = 170, /* MLP_ST_* */
  MLP_K_ST_TXN = 171,
  MLP_K_ST_AMOUNT = 172,
  MLP_K_ST_GROSS = 173,
  MLP_K_ST_FEE = 174,
  MLP_K_ST_NET = 175,
  MLP_K_ST_CURRENCY = 176,
  MLP_K_ST_PROVIDER_REF = 177,
  MLP_K_ST_REASON = 178,
  MLP_K_ST_DETAIL = 179,
  MLP_K_EV_ID = 180,
  MLP_K_EV_PAYMENT_ID = 181,
  MLP_K_EV_PROVIDER_REF = 182,
  MLP_K_EV_SUMMARY = 183,
  MLP_K_CAP_CURRENCIES = 190, /* string list */
  MLP_K_CAP_CHANNELS = 191,   /* string list */
  /* 1.1 */
  MLP_K_CAP_REQUIRES = 192,   /* string list: "msisdn", "email", "country" */
  MLP_K_CAP_REFUNDS = 193,    /* MLP_REFUNDS_*; absent or unknown: none */
  MLP_K_CAP_CANCEL = 194,     /* 0/1 */
  MLP_K_ST_RETRY_AFTER = 195, /* seconds: pending, ask again then (0: the kernel's schedule) */
  MLP_K_ST_PROVENANCE = 196,  /* "", "query", "callback" */
  MLP_K_ST_RESULT_CODE = 197, /* the provider's own result code */

  /* catalog item (MLP_K_ITEM, MLP_K_ITEMS); MLP_K_NAME is the product in catalog answers */
  MLP_K_ITEM_ID = 200,
  MLP_K_ITEM_NAME = 201,
  MLP_K_ITEM_AMOUNT = 202,
  MLP_K_ITEM_CURRENCY = 203,

  /* 1.1: refund (MLP_K_REFUND): what products hear of, and what a provider is asked for */
  MLP_K_RF_ID = 600,
  MLP_K_RF_PAYMENT_ID = 601,
  MLP_K_RF_AMOUNT = 602, /* minor units */
  MLP_K_RF_CURRENCY = 603,
  MLP_K_RF_REASON = 604,
  MLP_K_RF_ACTOR = 605,
  MLP_K_RF_FORCED = 606,             /* 0/1 */
  MLP_K_RF_PROVIDER_REFUND_ID = 607, /* queryRefund: what refund() answered */
  /* 1.1: a provider's word on a refund (hook out records) */
  MLP_K_RS_STATE = 620, /* MLP_ST_*: an unknown value is pending */
  MLP_K_RS_PROVIDER_REFUND_ID = 621,
  MLP_K_RS_AMOUNT = 622, /* -1: not reported */
  MLP_K_RS_REASON = 623,
  MLP_K_RS_DETAIL = 624,
  MLP_K_RS_RETRY_AFTER = 625,
  /* 1.1: the sandbox driver (MLP_HOOK_SANDBOX_*) */
  MLP_K_SB_OUTCOME = 640, /* "paid", "failed" */
  MLP_K_SB_AMOUNT = 641,  /* -1: what is due */
  MLP_K_SB_CURRENCY = 642,
  MLP_K_SB_TXN = 643,
  MLP_K_SB_FAULT = 644, /* "initiate_timeout", "query_failure" */
  MLP_K_SB_COUNT = 645,
  MLP_K_SB_NOT_APPLICABLE = 646, /* map: kit check key -> why it cannot apply (SKIP) */
  /* 1.1: webhook authentication by the kernel (capabilities) and the callback URL */
  MLP_K_CAP_WEBHOOK_TOKEN = 720, /* 0/1: per-payment signed callback URL (MLP_K_PAY_CALLBACK_URL) */
  MLP_K_CAP_WEBHOOK_IPS = 721,   /* string list: CIDRs webhooks may come from (empty: any) */
  MLP_K_CAP_WEBHOOK_PATH = 722,  /* the inbox's path for this provider ("": /webhooks/<name>) */
  MLP_K_PAY_CALLBACK_URL = 723, /* payment: where the provider is to send this payment's webhooks */
  MLP_K_WH_PAYMENT_ID = 724,    /* webhook_stored: the payment the kernel matched ("": none) */

  /* 1.1: payment attempts and the short reference (attempts block, 700-719) */
  MLP_K_PAY_ATTEMPT = 700,     /* PAYMENT: the attempt a call is about (1, 2, ...; 0: none);
                                  MLP_K_PAY_PROVIDER_REF is then that attempt's reference */
  MLP_K_PAY_SHORT_REF = 701,   /* PAYMENT: the kernel's short unique reference of the payment */
  MLP_K_ACT_ATTEMPT_REF = 702, /* ACTION (requestPush out): the provider's reference of the
                                  new prompt; non-empty: the kernel opens a new attempt */
  MLP_K_CAP_REF_MAX_LEN = 703, /* the longest short reference accepted (0 or absent: 10) */
  MLP_K_CAP_REF_CHARSET = 704, /* "alnum" (A-Z, 0-9; the default) or "digits" */

  /* HTTP request (MLP_K_REQUEST) */
  MLP_K_REQ_METHOD = 300,
  MLP_K_REQ_PATH = 301,
  MLP_K_REQ_RAW_QUERY = 302,
  MLP_K_REQ_QUERY = 303,   /* map */
  MLP_K_REQ_PARAMS = 304,  /* map: {name} segments */
  MLP_K_REQ_HEADERS = 305, /* map */
  MLP_K_REQ_BODY = 306,
  MLP_K_REQ_CLIENT_IP = 307,
  MLP_K_REQ_ID = 308,
  MLP_K_REQ_USER = 309, /* present only with a valid token */

  /* HTTP response (hook out record, MLP_K_RESPONSE) */
  MLP_K_RESP_STATUS = 320,
  MLP_K_RESP_TYPE = 321,
  MLP_K_RESP_HEADERS = 322, /* map */
  MLP_K_RESP_BODY = 323,

  /* route options (route_add) */
  MLP_K_ROUTE_METHOD = 330,
  MLP_K_ROUTE_PATTERN = 331,
  MLP_K_ROUTE_AUTH = 332, /* MLP_AUTH_* */
  MLP_K_ROUTE_RATE_LIMIT = 333,
  MLP_K_ROUTE_MAX_BODY = 334,
  MLP_K_ROUTE_NAME = 335,
  MLP_K_ROUTE_IDEMPOTENT = 336,
  MLP_K_ROUTE_UNAUTHORIZED_BODY = 337,

  /* outbound HTTP (http_send): request; the answer uses MLP_K_RESP_* */
  MLP_K_OUT_METHOD = 350,
  MLP_K_OUT_URL = 351,
  MLP_K_OUT_HEADERS = 352, /* map */
  MLP_K_OUT_BODY = 353,
  MLP_K_OUT_TYPE = 354,
  MLP_K_OUT_TIMEOUT_MS = 355,
  MLP_K_OUT_IDEMPOTENT = 356,
  MLP_K_OUT_MAX_RETRIES = 357,

  /* jobs: a job (handler in), an outcome (handler out), a spec (enqueue), kind options */
  MLP_K_JOB_ID = 400,
  MLP_K_JOB_KIND = 401,
  MLP_K_JOB_PAYLOAD = 402,
  MLP_K_JOB_ATTEMPT = 403,
  MLP_K_JOB_MAX_ATTEMPTS = 404,
  MLP_K_JOB_OUTCOME = 405, /* MLP_JOB_* */
  MLP_K_JOB_ERROR = 406,
  MLP_K_JOB_RETRY_IN_MS = 407,
  MLP_K_JOB_UNIQUE_KEY = 408,
  MLP_K_JOB_RUN_AT = 409,
  MLP_K_JOB_LEASE_MS = 410,
  MLP_K_JOB_BACKOFF_BASE_MS = 411,
  MLP_K_JOB_BACKOFF_MAX_MS = 412,

  /* migrations (MLP_K_ITEMS of the migrations hook) */
  MLP_K_MIG_VERSION = 450,
  MLP_K_MIG_DESCRIPTION = 451,
  MLP_K_MIG_SQLITE = 452,
  MLP_K_MIG_POSTGRESQL = 453,

  /* settings schema node (plugin_schema); children MLP_K_SCH_FIELDS carry MLP_K_SCH_KEY */
  MLP_K_SCH_TYPE = 500, /* MLP_SET_* */
  MLP_K_SCH_DESCRIPTION = 501,
  MLP_K_SCH_REQUIRED = 502,
  MLP_K_SCH_SECRET = 503,
  MLP_K_SCH_STRONG = 504,
  MLP_K_SCH_EMPTY_ALLOWED = 505,
  MLP_K_SCH_PASSTHROUGH = 506,
  MLP_K_SCH_DEFAULT =
      507, /* the default value as a one-element JSON array "[v]"; absent: no default */
  MLP_K_SCH_ALLOWED = 508, /* string list */
  MLP_K_SCH_MIN = 509,
  MLP_K_SCH_MAX = 510,
  MLP_K_SCH_FIELDS = 511,  /* children */
  MLP_K_SCH_ELEMENT = 512, /* child */
  MLP_K_SCH_KEY = 513,
  MLP_K_SCH_PATH = 514, /* a file or folder: relative values resolve against the config's folder */

  /* pages (page_render) */
  MLP_K_PAGE_TITLE = 550,
  MLP_K_PAGE_TEMPLATE = 551,
  MLP_K_PAGE_DATA = 552, /* JSON object text */
  MLP_K_PAGE_HEAD = 553,
  /* 1.1: pages (page_render in; page_i18n) */
  MLP_K_PAGE_LANG = 554,            /* en, sw, fr (page_render: absent = the default) */
  MLP_K_PAGE_ACCEPT_LANGUAGE = 555, /* the request's Accept-Language */
  MLP_K_PAGE_KEY = 556,             /* a catalog key */
  MLP_K_PAGE_AMOUNT = 557,          /* minor units */
  MLP_K_PAGE_CURRENCY = 558,        /* ISO 4217 */
  /* 1.1, later: pages */
  MLP_K_PAGE_COOKIE_LANG = 560, /* page_i18n LANGUAGE: the language cookie's value */
  MLP_K_PAGE_ENGLISH = 561      /* page_i18n TRANSLATE: a text stored in English */
};

/* payment statuses (MLP_K_PAY_STATUS) */
enum {
  MLP_PAY_CREATED = 1,
  MLP_PAY_PENDING = 2,
  MLP_PAY_SUCCEEDED = 3,
  MLP_PAY_FAILED = 4,
  MLP_PAY_EXPIRED = 5,
  MLP_PAY_CANCELLED = 6,
  MLP_PAY_UNKNOWN = 7,
  MLP_PAY_HELD = 8
};

/* what a provider reports (MLP_K_ST_STATE): an unknown value is pending */
enum { MLP_ST_PENDING = 1, MLP_ST_SUCCEEDED = 2, MLP_ST_FAILED = 3 };

/* 1.1: what a provider can refund (MLP_K_CAP_REFUNDS): an unknown value is none */
enum { MLP_REFUNDS_NONE = 1, MLP_REFUNDS_FULL = 2, MLP_REFUNDS_PARTIAL = 3 };

/* job outcomes (MLP_K_JOB_OUTCOME): an unknown value is a retry */
enum { MLP_JOB_DONE = 1, MLP_JOB_RETRY = 2, MLP_JOB_FAIL = 3 };

/* route authentication (MLP_K_ROUTE_AUTH) */
enum { MLP_AUTH_NONE = 1, MLP_AUTH_OPTIONAL = 2, MLP_AUTH_REQUIRED = 3, MLP_AUTH_ADMIN = 4 };

/* setting types (MLP_K_SCH_TYPE) */
enum {
  MLP_SET_STRING = 1,
  MLP_SET_INTEGER = 2,
  MLP_SET_NUMBER = 3,
  MLP_SET_BOOLEAN = 4,
  MLP_SET_LIST = 5,
  MLP_SET_OBJECT = 6,
  MLP_SET_MAP = 7
};

/* log levels */
enum { MLP_LOG_DEBUG = 1, MLP_LOG_INFO = 2, MLP_LOG_WARNING = 3, MLP_LOG_ERROR = 4 };

/* metric operations */
enum { MLP_METRIC_INCREMENT = 1, MLP_METRIC_GAUGE = 2, MLP_METRIC_OBSERVE = 3 };

/* database engines */
enum { MLP_DB_SQLITE = 1, MLP_DB_POSTGRESQL = 2 };

/* SQL values (parameters, result cells) */
enum { MLP_V_NULL = 0, MLP_V_INT = 1, MLP_V_REAL = 2, MLP_V_TEXT = 3 };
typedef struct mlp_value {
  int32_t type; /* MLP_V_*: any other value is refused */
  int32_t reserved;
  int64_t i;
  double f;
  mlp_str s;
} mlp_value;

/* host information (host_info / host_flag) */
enum {
  MLP_INFO_PLUGIN_NAME = 1,
  MLP_INFO_SETTINGS_JSON = 2, /* this plugin's validated settings, a JSON object */
  MLP_INFO_PUBLIC_URL = 3,    /* no trailing '/' */
  MLP_INFO_SANDBOX = 4,       /* host_flag: 0/1 */
  MLP_INFO_BRAND_NAME = 5,
  MLP_INFO_BRAND_PHONE = 6,
  MLP_INFO_BRAND_EMAIL = 7,
  MLP_INFO_KERNEL_VERSION = 8
};

/* kinds of registered objects */
enum { MLP_OBJ_COMPONENT = 1, MLP_OBJ_PROVIDER = 2, MLP_OBJ_PRODUCT = 3 };

/* hooks an object may set (object_hook); the kernel calls each with (in, out, tx) as noted.
 * in/out records belong to the kernel. Return MLP_OK, or MLP_FAIL with MLP_K_ERR_* in out. */
enum {
  /* any object */
  MLP_HOOK_MIGRATIONS = 1, /* out MLP_K_ITEMS: migrations */
  MLP_HOOK_START = 2,      /* after migrations: add routes, job handlers */
  MLP_HOOK_STOP = 3,       /* at shutdown, after HTTP stopped and jobs drained */
  /* providers */
  MLP_HOOK_CAPABILITIES = 10,  /* out MLP_K_CAP_* */
  MLP_HOOK_INITIATE = 11,      /* in PAYMENT, CREATE; out MLP_K_INIT_*, ACTION */
  MLP_HOOK_QUERY = 12,         /* in PAYMENT; out MLP_K_ST_* */
  MLP_HOOK_PARSE_WEBHOOK = 13, /* in REQUEST; out ITEMS: events (MLP_K_EV_*); 1.1: and
                                * optionally RESPONSE (MLP_K_RESP_*): what the inbox answers */
  MLP_HOOK_VERIFY_PROOF = 14,  /* in PAYMENT, TEXT; out MLP_K_ST_* */
  MLP_HOOK_REQUEST_PUSH = 15,  /* in PAYMENT, MSISDN; out ACTION */
  MLP_HOOK_ROUTES = 16,        /* add provider-owned routes */
  MLP_HOOK_SIMULATOR = 17,     /* sandbox only: add simulator routes */
  /* providers, 1.1 (a kernel calls them only when capabilities say so) */
  MLP_HOOK_REFUND = 18,        /* in PAYMENT, REFUND; out MLP_K_RS_* */
  MLP_HOOK_QUERY_REFUND = 19,  /* in PAYMENT, REFUND (with RF_PROVIDER_REFUND_ID); out RS_* */
  MLP_HOOK_CANCEL = 20,        /* in PAYMENT; out MLP_K_ST_* */
  MLP_HOOK_SANDBOX_PAY = 21,   /* sandbox: in PAYMENT, MLP_K_SB_*; out SB_TXN, ITEMS: requests */
  MLP_HOOK_SANDBOX_FAULT = 22, /* sandbox: in SB_FAULT, SB_COUNT */
  /* 25: in REQUEST, ITEMS (the delivery's new events, each with MLP_K_WH_PAYMENT_ID), tx: the
   * inbox's transaction that stored them (duplicates are not passed). MLP_FAIL rolls it back. */
  MLP_HOOK_WEBHOOK_STORED = 25,
  /* 26, sandbox: in CREATE (a draft: product, amount, currency, customer); out PAYMENT: a
   * payment started the way the provider's own channel starts one (Hubtel: its USSD menu) */
  MLP_HOOK_SANDBOX_SALE = 26,
  /* products */
  MLP_HOOK_SETTLED = 30,         /* in PAYMENT; out MLP_K_JOB_OUTCOME/ERROR/RETRY_IN_MS */
  MLP_HOOK_SETTLED_IN_TX = 31,   /* as SETTLED, with tx: delivery in the kernel's transaction */
  MLP_HOOK_FAILED = 32,          /* in PAYMENT; out outcome */
  MLP_HOOK_CATALOG = 33,         /* in CHANNEL; out ITEMS: items */
  MLP_HOOK_ACCOUNT_SUMMARY = 34, /* in MLP_K_CUST_ACCOUNT; out TEXT */
  MLP_HOOK_CHANNEL_SALE = 35,    /* in ITEM, CUSTOMER; out TEXT (payment metadata) */
  /* products, 1.1 */
  MLP_HOOK_CHECK_REFUND = 36, /* in PAYMENT, REFUND; MLP_FAIL + error refuses the refund */
  MLP_HOOK_REFUNDED = 37      /* in PAYMENT, REFUND; out outcome (as SETTLED) */
};

/* payments operations (payments_call) */
enum {
  MLP_PAYOP_CREATE = 1,          /* in CREATE; out PAYMENT */
  MLP_PAYOP_GET = 2,             /* in ID; out PAYMENT */
  MLP_PAYOP_SYNC = 3,            /* in ID; out PAYMENT */
  MLP_PAYOP_SUBMIT_PROOF = 4,    /* in ID, TEXT; out PAYMENT, FLAG (settled), TEXT (message) */
  MLP_PAYOP_REQUEST_PUSH = 5,    /* in ID, MSISDN; out ACTION */
  MLP_PAYOP_TO_JSON = 6,         /* in PAYMENT; out TEXT (the kernel's JSON of it) */
  MLP_PAYOP_CATALOG = 7,         /* in CHANNEL; out ITEMS (NAME = product, ITEM_*) */
  MLP_PAYOP_ACCOUNT_SUMMARY = 8, /* in NAME (product), CUST_ACCOUNT; out TEXT */
  MLP_PAYOP_CHANNEL_SALE = 9,    /* in NAME (product), ITEM, CUSTOMER; out TEXT */
  MLP_PAYOP_WEBHOOK = 10,        /* in NAME (provider), REQUEST; out MLP_K_RESP_* */
  MLP_PAYOP_REQUIREMENTS = 11    /* 1.1: in CREATE; out MLP_K_CAP_REQUIRES (fields missing) */
};

/* object flags (object_flag) */
enum { MLP_FLAG_DELIVERS_IN_TX = 1 };

/* 1.1: page_i18n operations */
enum {
  MLP_PAGEOP_LANGUAGE = 1,
  MLP_PAGEOP_TEXT = 2,
  MLP_PAGEOP_MONEY = 3,
  MLP_PAGEOP_TRANSLATE = 4 /* 1.1, later */
};

typedef int32_t (*mlp_hook_fn)(void* self, const mlp_rec* in, mlp_rec* out, mlp_tx* tx);
typedef int32_t (*mlp_register_fn)(void* self, mlp_host* host, mlp_rec* err);
typedef int32_t (*mlp_tx_fn)(void* self, mlp_tx* tx);
typedef void (*mlp_fn)(void* self);
typedef void (*mlp_release_fn)(void* self);

/* The host function table, major version 1. Grows only at its end, in minor-version bands. */
typedef struct mlp_api_v1 {
  uint32_t struct_size; /* sizeof the kernel's table */
  uint16_t major, minor;

  /* ==== band 1.0 ==== */
  /* records */
  mlp_rec* (*rec_new)(void);
  void (*rec_free)(mlp_rec* rec);
  int32_t (*rec_has)(const mlp_rec* rec, uint32_t key);
  mlp_str (*rec_str)(const mlp_rec* rec, uint32_t key); /* "" when absent */
  int64_t (*rec_i64)(const mlp_rec* rec, uint32_t key, int64_t dflt);
  uint32_t (*rec_count)(const mlp_rec* rec, uint32_t key); /* list length */
  mlp_str (*rec_str_at)(const mlp_rec* rec, uint32_t key, uint32_t i);
  const mlp_rec* (*rec_at)(const mlp_rec* rec, uint32_t key, uint32_t i); /* NULL: none */
  void (*rec_set_str)(mlp_rec* rec, uint32_t key, mlp_str value);         /* copies */
  void (*rec_set_i64)(mlp_rec* rec, uint32_t key, int64_t value);
  void (*rec_add_str)(mlp_rec* rec, uint32_t key, mlp_str value); /* appends, copies */
  mlp_rec* (*rec_add)(mlp_rec* rec, uint32_t key);                /* appends a child */

  /* loading (during malipo_plugin_init_v1 only) */
  mlp_rec* (*plugin_schema)(mlp_plugin* plugin); /* fill with the settings schema */
  void (*plugin_on_register)(mlp_plugin* plugin, mlp_register_fn fn, void* self);

  /* registration (during the register hook) */
  /* NULL (with err) when refused, e.g. a provider not named like its plugin */
  mlp_object* (*object_add)(mlp_host* host, int32_t kind, mlp_str name, void* self,
                            mlp_release_fn release, mlp_rec* err);
  int32_t (*object_hook)(mlp_object* object, uint32_t hook,
                         mlp_hook_fn fn); /* MLP_FAIL: unknown hook */
  int32_t (*object_flag)(mlp_object* object, uint32_t flag, int64_t value);

  /* host information, clock, log */
  mlp_str (*host_info)(mlp_host* host, uint32_t key);
  int64_t (*host_flag)(mlp_host* host, uint32_t key);
  int64_t (*clock_now_ms)(mlp_host* host);
  void (*log)(mlp_host* host, int32_t level, mlp_str component, mlp_str message);

  /* metrics: labels are `n_labels` name/value pairs (2 * n_labels strings) */
  void (*metric)(mlp_host* host, int32_t op, mlp_str name, const mlp_str* labels, uint32_t n_labels,
                 double value);
  void (*metric_describe)(mlp_host* host, mlp_str name, mlp_str help, mlp_str type);
  void (*metric_collector)(mlp_host* host, mlp_fn fn, void* self, mlp_release_fn release);

  /* HTTP routes: `route` carries MLP_K_ROUTE_*; the handler gets in = request, out = response */
  int32_t (*route_add)(mlp_host* host, const mlp_rec* route, mlp_hook_fn handler, void* self,
                       mlp_release_fn release, mlp_rec* err);

  /* database: tx NULL = autocommit; errors in err */
  int32_t (*db_engine)(mlp_host* host);
  int32_t (*db_write)(mlp_host* host, mlp_tx_fn body, void* self, mlp_rec* err);
  int32_t (*db_exec)(mlp_host* host, mlp_tx* tx, mlp_str sql, const mlp_value* params,
                     uint32_t n_params, int64_t* changed, mlp_rec* err);
  int32_t (*db_query)(mlp_host* host, mlp_tx* tx, mlp_str sql, const mlp_value* params,
                      uint32_t n_params, mlp_rows** rows, mlp_rec* err);
  void (*tx_on_commit)(mlp_tx* tx, mlp_fn fn, void* self, mlp_release_fn release);
  uint32_t (*rows_columns)(const mlp_rows* rows);
  uint64_t (*rows_count)(const mlp_rows* rows);
  mlp_str (*rows_column)(const mlp_rows* rows, uint32_t column);
  void (*rows_cell)(const mlp_rows* rows, uint64_t row, uint32_t column, mlp_value* out);
  void (*rows_free)(mlp_rows* rows);

  /* jobs: `options` carries MLP_K_JOB_KIND, MAX_ATTEMPTS, LEASE_MS, BACKOFF_*; the handler
   * gets in = job, out = outcome. enqueue: `spec` carries KIND, PAYLOAD, UNIQUE_KEY, RUN_AT,
   * MAX_ATTEMPTS; *inserted = 0 when the unique key existed. */
  int32_t (*job_handle)(mlp_host* host, const mlp_rec* options, mlp_hook_fn handler, void* self,
                        mlp_release_fn release, mlp_rec* err);
  int32_t (*job_every)(mlp_host* host, mlp_str kind, int64_t interval_ms, mlp_rec* err);
  int32_t (*job_enqueue)(mlp_host* host, mlp_tx* tx, const mlp_rec* spec, int32_t* inserted,
                         mlp_rec* err);

  /* outbound HTTP: request MLP_K_OUT_*; answer MLP_K_RESP_* (any status is a value) */
  int32_t (*http_send)(mlp_host* host, const mlp_rec* request, mlp_rec* out);

  /* pages: MLP_K_PAGE_*; out MLP_K_TEXT (HTML) */
  int32_t (*page_render)(mlp_host* host, const mlp_rec* in, mlp_rec* out);

  /* payments: MLP_PAYOP_* */
  int32_t (*payments_call)(mlp_host* host, uint32_t op, const mlp_rec* in, mlp_rec* out);

  /* ==== band 1.1: appended here ==== */

  /* 1.1: pages. MLP_PAGEOP_LANGUAGE: in LANG (?lang=), COOKIE_LANG, ACCEPT_LANGUAGE; out LANG.
   * MLP_PAGEOP_TEXT: in LANG, KEY, DATA (params); out TEXT. MLP_PAGEOP_MONEY: in LANG, AMOUNT,
   * CURRENCY; out TEXT. MLP_PAGEOP_TRANSLATE: in LANG, ENGLISH; out TEXT (a kernel without it
   * answers MLP_FAIL: keep the English). A plugin checks struct_size before calling it. */
  int32_t (*page_i18n)(mlp_host* host, uint32_t op, const mlp_rec* in, mlp_rec* out);
} mlp_api_v1;

/* The one function a plugin exports. It records its schema and register hook with the
 * loader and returns MLP_OK; it must not call other host functions. */
#define MALIPO_PLUGIN_INIT_SYMBOL "malipo_plugin_init_v1"
typedef int32_t (*mlp_init_fn)(const mlp_api_v1* api, mlp_plugin* plugin);

/* The version note, in section ".note.malipo" of the plugin file (an ELF note: name
 * "Malipo", type MLP_NOTE_TYPE). Read before the file is loaded. */
#define MLP_NOTE_NAME "Malipo"
#define MLP_NOTE_TYPE 1
typedef struct mlp_note {
  uint32_t namesz; /* 7 */
  uint32_t descsz; /* sizeof the desc part: 8 + 64 + 32 */
  uint32_t type;   /* MLP_NOTE_TYPE */
  char name[8];    /* "Malipo\0" padded to 4 */
  uint32_t sdk_major, sdk_minor;
  char plugin_name[64];    /* NUL-terminated */
  char plugin_version[32]; /* NUL-terminated */
} mlp_note;

#ifdef __cplusplus
}
#endif

#endif /* MALIPO_ABI_H */
