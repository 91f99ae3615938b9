#include "console/Templates.hpp"

namespace malipo::console {

const char* const kLayout = R"(<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>{{title}} · {{brand}} console</title>
<link rel="stylesheet" href="/console/console.css">
</head><body>
<a class="skip" href="#main">Skip to content</a>
<header class="top"><span class="brand">{{brand}} console</span>
{{#session}}<nav aria-label="Console sections"><ul>
<li><a href="/console/overview"{{#nav_overview}} aria-current="page"{{/nav_overview}}>Overview</a></li>
<li><a href="/console/payments"{{#nav_payments}} aria-current="page"{{/nav_payments}}>Payments</a></li>
<li><a href="/console/held"{{#nav_held}} aria-current="page"{{/nav_held}}>Held</a></li>
<li><a href="/console/jobs"{{#nav_jobs}} aria-current="page"{{/nav_jobs}}>Jobs</a></li>
<li><a href="/console/webhooks"{{#nav_webhooks}} aria-current="page"{{/nav_webhooks}}>Webhooks</a></li>
<li><a href="/console/plugins"{{#nav_plugins}} aria-current="page"{{/nav_plugins}}>Plugins</a></li>
</ul></nav>
<form class="signout" method="post" action="/console/sign-out"><input type="hidden" name="csrf" value="{{csrf}}">
<span class="who">{{actor}} ({{role}})</span> <button type="submit" id="sign-out">Sign out</button></form>{{/session}}
</header>
<main id="main" tabindex="-1">
<h1>{{title}}</h1>
{{#notice}}<p class="ok" role="status">{{notice}}</p>{{/notice}}
{{#problem}}<p class="error" role="alert">{{problem}}</p>{{/problem}}
{{{body}}}
</main></body></html>)";

const char* const kCss = R"(*{box-sizing:border-box}
body{margin:0;font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1f2933;background:#f5f7fa}
.skip{position:absolute;left:0;top:0;width:1px;height:1px;overflow:hidden;clip-path:inset(50%);white-space:nowrap}
.skip:focus{width:auto;height:auto;clip-path:none;left:.5rem;top:.5rem;background:#fff;color:#102a43;padding:.5rem;z-index:2}
.top{background:#102a43;color:#fff;padding:.5rem 1rem;display:flex;flex-wrap:wrap;align-items:center;gap:.5rem 1rem}
.brand{font-weight:700}
.top nav ul{list-style:none;margin:0;padding:0;display:flex;flex-wrap:wrap;gap:.25rem .75rem}
.top a{color:#fff;text-decoration:none;padding:.25rem 0;display:inline-block}
.top a[aria-current]{border-bottom:2px solid #f0b429}
.top a:focus,.top button:focus{outline:3px solid #f0b429;outline-offset:2px}
.signout{margin-left:auto;display:flex;align-items:center;gap:.5rem}
.who{font-size:.9rem;color:#d9e2ec}
main{max-width:72rem;margin:0 auto;padding:1rem}
main:focus{outline:none}
h1{font-size:1.4rem;margin:.25rem 0 1rem}h2{font-size:1.1rem;margin:1.25rem 0 .5rem}
.card{background:#fff;border-radius:10px;padding:1rem;box-shadow:0 1px 3px rgba(0,0,0,.08);margin-bottom:1rem;overflow-x:auto}
.grid{display:grid;grid-template-columns:repeat(auto-fit,minmax(15rem,1fr));gap:1rem}
.grid{margin-bottom:1rem}.grid .card{margin:0}
.card>:first-child{margin-top:0}.card>:last-child{margin-bottom:0}
.big{font-size:1.8rem;font-weight:700;margin:0}
.muted{color:#52606d;font-size:.9rem}
.ok{background:#def7ec;color:#03543f;padding:.75rem;border-radius:8px}
.error{background:#fde8e8;color:#9b1c1c;padding:.75rem;border-radius:8px}
table{border-collapse:collapse;width:100%;font-size:.95rem}
th,td{text-align:left;padding:.4rem .5rem;border-bottom:1px solid #e4e7eb;vertical-align:top}
th{font-weight:600;color:#334e68}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}
.id{font:.85rem ui-monospace,monospace;word-break:break-all}
pre{white-space:pre-wrap;word-break:break-word;font:.85rem ui-monospace,monospace;margin:0}
form.filters{display:grid;grid-template-columns:repeat(auto-fit,minmax(10rem,1fr));gap:.75rem;align-items:end}
label{display:block;font-weight:600;font-size:.9rem;margin-bottom:.25rem}
label.inline{display:inline}input.check{width:auto}fieldset{border:1px solid #cbd2d9;border-radius:6px;margin:0 0 1rem}legend{font-weight:600}
input,select,textarea,button{font:inherit}
input,select,textarea{width:100%;padding:.5rem;border:1px solid #9aa5b1;border-radius:6px;background:#fff;color:#1f2933}
input:focus,select:focus,textarea:focus,button:focus,a:focus{outline:3px solid #2680c2;outline-offset:1px}
.btn,button{display:inline-block;border:0;background:#1a56db;color:#fff;padding:.55rem 1rem;border-radius:6px;text-decoration:none;cursor:pointer}
.btn.secondary{background:#e4e7eb;color:#1f2933}
.top button{background:#334e68}
.actions{display:flex;flex-wrap:wrap;gap:.5rem;margin:.75rem 0}
.inline{display:inline}
.status{display:inline-block;padding:0 .4rem;border-radius:4px;font-size:.85rem;background:#e4e7eb}
.status.succeeded{background:#def7ec;color:#03543f}.status.failed,.status.expired,.status.cancelled{background:#fde8e8;color:#9b1c1c}
.status.held{background:#fff3c4;color:#8d2b0b}.status.closed{background:#def7ec;color:#03543f}.status.open{background:#fde8e8;color:#9b1c1c}.status.pending{background:#e0e8f9;color:#1e3a8a}
dl.fields{display:grid;grid-template-columns:minmax(8rem,auto) 1fr;gap:.25rem 1rem;margin:0}
dl.fields dt{font-weight:600;color:#334e68}dl.fields dd{margin:0;word-break:break-all}
svg{max-width:100%;height:auto}
@media (max-width:40rem){.signout{margin-left:0}table.wide thead{display:none}
table.wide tr{display:block;border-bottom:1px solid #cbd2d9;padding:.25rem 0}
table.wide td{display:block;border:0;padding:.1rem .25rem}
table.wide td[data-label]::before{content:attr(data-label) ": ";font-weight:600;color:#334e68}
table.wide td.num{text-align:left}}
)";

const char* const kSignIn = R"(<div class="card">
<form method="post" action="/console/sign-in">
<input type="hidden" name="csrf" value="{{pre_csrf}}">
<p><label for="token">Admin token</label>
<input id="token" name="token" type="password" autocomplete="current-password" required autofocus></p>
<p class="muted">An <code>admin.token</code> or one of <code>admin.tokens</code> from the server's configuration.
Viewers read; operators also act.</p>
<button type="submit" id="sign-in">Sign in</button>
</form></div>)";

const char* const kOverview = R"(<p class="muted">Today (UTC, since {{since}}).</p>
<div class="grid">
<div class="card"><h2>Payments today</h2><p class="big" id="today-total">{{total}}</p></div>
<div class="card"><h2>Success rate</h2><p class="big" id="success-rate">{{success_rate}}</p><p class="muted">succeeded among finished payments</p></div>
<div class="card"><h2>Held</h2><p class="big"><a href="/console/held" id="held-count">{{held}}</a></p><p class="muted">waiting for an operator</p></div>
<div class="card"><h2>Dead jobs</h2><p class="big"><a href="/console/jobs" id="dead-count">{{dead}}</a></p></div>
</div>
<div class="card"><h2>By status</h2>
{{{status_chart}}}
<table><thead><tr><th scope="col">Status</th><th scope="col" class="num">Payments</th></tr></thead><tbody>
{{#by_status}}<tr><td><span class="status {{name}}">{{name}}</span></td><td class="num">{{n}}</td></tr>{{/by_status}}
{{^by_status}}<tr><td colspan="2" class="muted">No payments today.</td></tr>{{/by_status}}
</tbody></table></div>
<div class="card"><h2>By provider</h2>
<table class="wide"><thead><tr><th scope="col">Provider</th><th scope="col" class="num">Payments</th><th scope="col" class="num">Succeeded</th><th scope="col" class="num">Failed</th><th scope="col" class="num">Held</th></tr></thead><tbody>
{{#by_provider}}<tr><td data-label="Provider">{{name}}</td><td data-label="Payments" class="num">{{n}}</td><td data-label="Succeeded" class="num">{{succeeded}}</td><td data-label="Failed" class="num">{{failed}}</td><td data-label="Held" class="num">{{held}}</td></tr>{{/by_provider}}
{{^by_provider}}<tr><td colspan="5" class="muted">No payments today.</td></tr>{{/by_provider}}
</tbody></table></div>
<div class="card"><h2>Amounts succeeded, by currency</h2>
<table><thead><tr><th scope="col">Currency</th><th scope="col" class="num">Amount</th><th scope="col" class="num">Payments</th></tr></thead><tbody>
{{#by_currency}}<tr><td>{{currency}}</td><td class="num">{{amount}}</td><td class="num">{{n}}</td></tr>{{/by_currency}}
{{^by_currency}}<tr><td colspan="3" class="muted">Nothing succeeded today.</td></tr>{{/by_currency}}
</tbody></table></div>
<div class="card" id="provider-health"><h2>Provider health</h2>
<p class="muted">Breaker, error rate and p95 latency: the calls this server process made to each provider since it started.
Errors in the last hour and 24 h: failed calls recorded in the payment events by every process (queries, initiations, prompts).</p>
{{{latency_chart}}}
<table class="wide"><thead><tr><th scope="col">Provider</th><th scope="col">Breaker</th><th scope="col" class="num">Calls</th><th scope="col" class="num">Error rate</th><th scope="col" class="num">p95 latency</th><th scope="col" class="num">Errors, last hour</th><th scope="col" class="num">Errors, 24 h</th><th scope="col">Last error</th></tr></thead><tbody>
{{#health}}<tr><td data-label="Provider">{{name}}</td><td data-label="Breaker" id="breaker-{{name}}"><span class="status {{breaker}}">{{breaker}}</span>{{#breaker_detail}} <span class="muted">{{breaker_detail}}</span>{{/breaker_detail}}</td><td data-label="Calls" class="num">{{calls}}</td><td data-label="Error rate" class="num" id="error-rate-{{name}}">{{error_rate}}</td><td data-label="p95 latency" class="num" id="p95-{{name}}">{{p95}}</td><td data-label="Last hour" class="num">{{hour}}</td><td data-label="24 h" class="num">{{day}}</td><td data-label="Last error">{{last}}</td></tr>{{/health}}
</tbody></table></div>)";

const char* const kPayments = R"(<div class="card">
<form class="filters" method="get" action="/console/payments" role="search">
<p><label for="q">Id, provider reference or transaction id, phone or email</label><input id="q" name="q" value="{{q}}" autocomplete="off"></p>
<p><label for="status">Status</label><select id="status" name="status"><option value="">any</option>{{#statuses}}<option{{#selected}} selected{{/selected}}>{{name}}</option>{{/statuses}}</select></p>
<p><label for="provider">Provider</label><select id="provider" name="provider"><option value="">any</option>{{#providers}}<option{{#selected}} selected{{/selected}}>{{name}}</option>{{/providers}}</select></p>
<p><label for="product">Product</label><select id="product" name="product"><option value="">any</option>{{#products}}<option{{#selected}} selected{{/selected}}>{{name}}</option>{{/products}}</select></p>
<p><label for="from">From (date)</label><input id="from" name="from" type="date" value="{{from}}"></p>
<p><label for="to">To (date)</label><input id="to" name="to" type="date" value="{{to}}"></p>
<p><button type="submit" id="search">Search</button></p>
</form></div>
<div class="card"><p class="muted" id="result-count">{{count}} payment(s){{#more}}, the newest {{count}} shown{{/more}}.</p>
<table class="wide" id="payments"><thead><tr><th scope="col">Payment</th><th scope="col">Status</th><th scope="col">Provider</th><th scope="col">Product</th><th scope="col" class="num">Amount</th><th scope="col">Created</th></tr></thead><tbody>
{{#payments}}<tr><td data-label="Payment" class="id"><a href="/console/payments/{{id}}">{{id}}</a></td><td data-label="Status"><span class="status {{status}}">{{status}}</span></td><td data-label="Provider">{{provider}}</td><td data-label="Product">{{product}}</td><td data-label="Amount" class="num">{{amount}} {{currency}}</td><td data-label="Created">{{created_at}}</td></tr>{{/payments}}
</tbody></table></div>)";

const char* const kPayment = R"(<div class="card"><dl class="fields">
<dt>Id</dt><dd class="id" id="payment-id">{{id}}</dd>
<dt>Status</dt><dd><span class="status {{status}}" id="payment-status">{{status}}</span>{{#failure_reason}} — {{failure_reason}}{{/failure_reason}}</dd>
<dt>Amount</dt><dd>{{amount}} {{currency}}</dd>
<dt>Product</dt><dd>{{product}} (order {{order_ref}})</dd>
<dt>Provider</dt><dd>{{provider}}{{#channel}} ({{channel}}){{/channel}}</dd>
<dt>Provider reference</dt><dd class="id">{{provider_ref}}</dd>
<dt>Provider transaction</dt><dd class="id">{{provider_txn_id}}</dd>
{{#fulfilment}}<dt>Fulfilment</dt><dd>{{fulfilment}}</dd>{{/fulfilment}}
{{#gross}}<dt>Gross / fee / net</dt><dd>{{gross}} / {{fee}} / {{net}}</dd>{{/gross}}
{{#refunded}}<dt>Refunded</dt><dd id="payment-refunded">{{refunded}} {{currency}}</dd>{{/refunded}}
<dt>Created</dt><dd>{{created_at}}</dd><dt>Updated</dt><dd>{{updated_at}}</dd><dt>Expires</dt><dd>{{expires_at}}</dd>
<dt>Version</dt><dd>{{version}}</dd>
</dl>
{{#can_act}}<div class="actions"><a class="btn" id="sync" href="/console/payments/{{id}}/sync">Sync with the provider…</a>
{{#can_refund}}<a class="btn" id="refund" href="/console/payments/{{id}}/refund">Refund…</a>{{/can_refund}}
{{#can_cancel}}<a class="btn" id="cancel" href="/console/payments/{{id}}/cancel">Cancel…</a>{{/can_cancel}}
{{#can_resolve}}<a class="btn" id="resolve" href="/console/payments/{{id}}/resolve">Resolve…</a>{{/can_resolve}}</div>{{/can_act}}
</div>
{{#has_refunds}}<div class="card"><h2>Refunds</h2>
<table class="wide" id="refunds"><thead><tr><th scope="col">Refund</th><th scope="col">Status</th><th scope="col" class="num">Amount</th><th scope="col">By</th><th scope="col">Reason</th><th scope="col">Created</th></tr></thead><tbody>
{{/has_refunds}}{{#refunds}}<tr><td data-label="Refund" class="id">{{id}}</td><td data-label="Status">{{status}}{{#failure_reason}} — {{failure_reason}}{{/failure_reason}}</td><td data-label="Amount" class="num">{{amount}} {{currency}}</td><td data-label="By">{{actor}}{{#forced}} (forced){{/forced}}{{#manual}} (manual){{/manual}}</td><td data-label="Reason">{{reason}}</td><td data-label="Created">{{created_at}}</td></tr>{{/refunds}}{{#has_refunds}}
</tbody></table></div>{{/has_refunds}}
<div class="card"><h2>Attempts</h2>
<table class="wide" id="attempts"><thead><tr><th scope="col">Attempt</th><th scope="col">Provider reference</th><th scope="col">State</th><th scope="col">Transaction</th><th scope="col" class="num">Paid</th><th scope="col">Opened</th><th scope="col">Closed</th></tr></thead><tbody>
{{#attempts}}<tr><td data-label="Attempt">{{number}}{{#settled}} (settled the payment){{/settled}}</td><td data-label="Provider reference" class="id">{{provider_ref}}</td><td data-label="State">{{state}}</td><td data-label="Transaction" class="id">{{provider_txn_id}}</td><td data-label="Paid" class="num">{{amount}} {{currency}}</td><td data-label="Opened">{{created_at}}</td><td data-label="Closed">{{closed_at}}</td></tr>{{/attempts}}
</tbody></table>{{#several_attempts}}<p class="muted">The customer was prompted more than once; any attempt that is paid settles the payment once, and money on a second one is recorded as paid twice (docs/payments.md §16).</p>{{/several_attempts}}</div>
<div class="card"><h2>Timeline</h2>
<table class="wide" id="timeline"><thead><tr><th scope="col">When</th><th scope="col">Event</th><th scope="col">Detail</th></tr></thead><tbody>
{{#events}}<tr><td data-label="When">{{at}}</td><td data-label="Event">{{kind}}</td><td data-label="Detail">{{detail}}{{#provider_event_id}} <span class="muted">({{provider_event_id}})</span>{{/provider_event_id}}</td></tr>{{/events}}
</tbody></table></div>)";

const char* const kConfirmSync = R"(<div class="card">
<p>Ask <strong>{{provider}}</strong> for the state of payment <span class="id">{{id}}</span> (now <span class="status {{status}}">{{status}}</span>) and apply its answer,
as <code>POST /admin/payments/{id}/sync</code> does. Recorded in the payment's timeline with your name.</p>
<form method="post" action="/console/payments/{{id}}/sync">
<input type="hidden" name="csrf" value="{{csrf}}">
<p><label for="reason">Reason (required)</label><textarea id="reason" name="reason" rows="3" maxlength="500" required></textarea></p>
<div class="actions"><button type="submit" id="confirm-sync">Confirm sync</button> <a class="btn secondary" href="/console/payments/{{id}}">Cancel</a></div>
</form></div>)";

const char* const kConfirmMoney = R"(<div class="card">
<p>{{explain}} Payment <span class="id">{{id}}</span>: {{amount}} {{currency}}, now <span class="status {{status}}">{{status}}</span>{{#refunded}}, {{refunded}} refunded{{/refunded}}.
Recorded with your name ({{actor}}) and the reason.</p>
<form method="post" action="/console/payments/{{id}}/{{action}}">
<input type="hidden" name="csrf" value="{{csrf}}"><input type="hidden" name="key" value="{{key}}">
{{#is_refund}}<p><label for="amount">Amount in {{currency}} (empty: all that remains)</label><input id="amount" name="amount" inputmode="decimal" autocomplete="off" placeholder="{{remaining}}"></p>
<p><label for="manual">Provider's reference of a refund made outside (providers without a refund API; empty: the provider is asked)</label><input id="manual" name="manual_reference" maxlength="200" autocomplete="off"></p>
<p><input type="checkbox" id="force" name="force" value="1" class="check"> <label for="force" class="inline">Refund even if the product refuses (force)</label></p>{{/is_refund}}
{{#is_resolve}}<fieldset><legend>Resolution</legend>
<p><input type="radio" id="accept" name="resolution" value="accept" class="check" required> <label for="accept" class="inline">Accept: deliver it (an overpaid difference is refunded)</label></p>
<p><input type="radio" id="give-back" name="resolution" value="refund" class="check"> <label for="give-back" class="inline">Refund what was paid, deliver nothing</label></p></fieldset>
<p><label for="manual">For a refund made outside (providers without a refund API): its reference</label><input id="manual" name="manual_reference" maxlength="200" autocomplete="off"></p>{{/is_resolve}}
<p><label for="reason">Reason (required)</label><textarea id="reason" name="reason" rows="3" maxlength="500" required></textarea></p>
<div class="actions"><button type="submit" id="confirm-{{action}}">{{confirm}}</button> <a class="btn secondary" href="/console/payments/{{id}}">Back</a></div>
</form></div>)";

const char* const kHeld =
    R"(<div class="card"><p class="muted">Held payments, oldest first. Open one to resolve it.</p>
<table class="wide" id="held"><thead><tr><th scope="col">Payment</th><th scope="col">Held since</th><th scope="col">Provider</th><th scope="col" class="num">Amount</th><th scope="col">Reason</th></tr></thead><tbody>
{{#held}}<tr><td data-label="Payment" class="id"><a href="/console/payments/{{id}}">{{id}}</a></td><td data-label="Held since">{{since}}</td><td data-label="Provider">{{provider}}</td><td data-label="Amount" class="num">{{amount}} {{currency}}</td><td data-label="Reason">{{reason}}</td></tr>{{/held}}
{{^held}}<tr><td colspan="5" class="muted">Nothing is held.</td></tr>{{/held}}
</tbody></table></div>)";

const char* const kJobs =
    R"(<div class="grid">{{#states}}<div class="card"><h2>{{name}}</h2><p class="big">{{n}}</p></div>{{/states}}</div>
<div class="card"><h2>Queue depth by kind</h2>
<table class="wide"><thead><tr><th scope="col">Kind</th><th scope="col" class="num">Queued</th><th scope="col" class="num">Running</th><th scope="col" class="num">Dead</th></tr></thead><tbody>
{{#kinds}}<tr><td data-label="Kind">{{kind}}</td><td data-label="Queued" class="num">{{queued}}</td><td data-label="Running" class="num">{{running}}</td><td data-label="Dead" class="num">{{dead}}</td></tr>{{/kinds}}
{{^kinds}}<tr><td colspan="4" class="muted">The queue is empty.</td></tr>{{/kinds}}
</tbody></table></div>
<div class="card"><h2>Dead jobs</h2>
<table class="wide" id="dead-jobs"><thead><tr><th scope="col">Job</th><th scope="col">Kind</th><th scope="col" class="num">Attempts</th><th scope="col">Last error</th><th scope="col">Updated</th>{{#can_act}}<th scope="col">Action</th>{{/can_act}}</tr></thead><tbody>
{{#dead}}<tr id="job-{{id}}"><td data-label="Job">{{id}}</td><td data-label="Kind">{{kind}}</td><td data-label="Attempts" class="num">{{attempts}}/{{max_attempts}}</td><td data-label="Last error">{{last_error}}</td><td data-label="Updated">{{updated_at}}</td>
{{#can_act}}<td><form class="inline" method="post" action="/console/jobs/{{id}}/retry"><input type="hidden" name="csrf" value="{{csrf}}"><button type="submit" class="retry" aria-label="Retry job {{id}}">Retry</button></form></td>{{/can_act}}</tr>{{/dead}}
{{^dead}}<tr><td colspan="5" class="muted">No dead jobs.</td></tr>{{/dead}}
</tbody></table></div>)";

const char* const kWebhooks = R"(<div class="card"><h2>Outcomes since start-up</h2>
<p class="muted">From the inbox's counters: accepted, duplicate (seen before), and rejected (bad signature: unauthorized; unreadable: invalid_input).</p>
<table><thead><tr><th scope="col">Provider</th><th scope="col">Outcome</th><th scope="col" class="num">Deliveries</th></tr></thead><tbody>
{{#outcomes}}<tr><td>{{provider}}</td><td>{{outcome}}</td><td class="num">{{n}}</td></tr>{{/outcomes}}
{{^outcomes}}<tr><td colspan="3" class="muted">No webhook since start-up.</td></tr>{{/outcomes}}
</tbody></table></div>
<div class="card"><h2>Recent events</h2>
<form class="filters" method="get" action="/console/webhooks"><p><label for="wprovider">Provider</label><select id="wprovider" name="provider"><option value="">any</option>{{#providers}}<option{{#selected}} selected{{/selected}}>{{name}}</option>{{/providers}}</select></p><p><button type="submit">Show</button></p></form>
<table class="wide" id="webhooks"><thead><tr><th scope="col">Received</th><th scope="col">Provider</th><th scope="col">Payment</th><th scope="col">Event id</th><th scope="col">Summary</th></tr></thead><tbody>
{{#events}}<tr><td data-label="Received">{{at}}</td><td data-label="Provider">{{provider}}</td><td data-label="Payment" class="id">{{#payment_id}}<a href="/console/payments/{{payment_id}}">{{payment_id}}</a>{{#can_act}} <a class="resync" href="/console/payments/{{payment_id}}/sync">Sync again…</a>{{/can_act}}{{/payment_id}}{{^payment_id}}<span class="muted">unmatched</span>{{/payment_id}}</td><td data-label="Event id" class="id">{{provider_event_id}}</td><td data-label="Summary">{{detail}}</td></tr>{{/events}}
{{^events}}<tr><td colspan="5" class="muted">No webhook events.</td></tr>{{/events}}
</tbody></table></div>)";

const char* const kPlugins = R"({{#plugins}}<div class="card"><h2>{{name}}</h2><dl class="fields">
<dt>Version</dt><dd>{{version}}</dd><dt>SDK</dt><dd>{{sdk_version}}</dd><dt>Library</dt><dd class="id">{{library}}</dd>
<dt>Provides</dt><dd>{{provides}}</dd></dl>
<h3>Settings</h3><pre>{{settings}}</pre></div>{{/plugins}}
{{^plugins}}<div class="card"><p class="muted">No plugin is loaded.</p></div>{{/plugins}})";

const char* const kMessage =
    R"(<div class="card"><p>{{message}}</p>{{#back}}<p><a href="{{back}}">Back</a></p>{{/back}}</div>)";

}  // namespace malipo::console
