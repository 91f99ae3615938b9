// The HTML of the CV PDF flow: mstch templates rendered by the kernel inside its shared,
// mobile-first layout, in the customer's language ({{t.key}}: messages/<lang>.json of this
// plugin, "{name}" in a text filled from the data). Everything a person typed goes through
// {{…}} (escaped). No script: every form works without JavaScript.
#pragma once

namespace malipo::cvpdf::pages {

inline const char* kPayment = R"(
<div class="card">
  <h1>{{t.pay_heading}}</h1>
  {{#render_warning}}<p class="warn" id="render-warning">{{render_warning}}</p>{{/render_warning}}
  {{#push_sent}}<p class="ok">{{t.push_sent}}</p>{{/push_sent}}
  {{#deadline}}<p class="deadline" id="deadline">{{deadline}}</p>{{/deadline}}
  {{#has_ussd}}
  {{^has_networks}}
  <p>{{t.dial_code}}</p>
  <p class="code">{{ussd_code}}</p>
  <ol>{{#steps}}<li>{{.}}</li>{{/steps}}</ol>
  {{/has_networks}}
  {{#has_networks}}<p class="code" id="ussd-code">{{ussd_code}}</p><h2>{{t.networks_heading}}</h2>{{/has_networks}}
  {{#networks}}
  <details class="network" id="net-{{id}}" {{#open}}open{{/open}}><summary>{{name}}</summary>
  <ol>{{#steps}}<li>{{.}}</li>{{/steps}}</ol></details>
  {{/networks}}
  {{/has_ussd}}
  <dl>
    <dt>{{t.amount}}</dt><dd id="amount">{{amount}}</dd>
    {{#vendor}}<dt>{{t.vendor}}</dt><dd>{{vendor}}</dd>{{/vendor}}
    {{#reference}}<dt>{{t.reference}}</dt><dd>{{reference}}</dd>{{/reference}}
  </dl>
</div>
{{#can_push}}
<div class="card">
  <h2>{{t.push_heading}}</h2>
  <form method="post" action="{{{push_url}}}">
    <label for="phone">{{t.push_label}}</label>
    <input id="phone" name="phone" type="tel" inputmode="tel" autocomplete="tel" value="{{phone}}" placeholder="07XX XXX XXX" required>
    {{#phone_ending}}<p class="muted" id="phone-hint">{{t.phone_hint}}</p>{{/phone_ending}}
    <p><button class="btn secondary" type="submit">{{t.push_button}}</button></p>
  </form>
</div>
{{/can_push}}
{{#sandbox_pay_url}}
<div class="card">
  <p class="muted">{{t.sandbox_note}} <a id="sandbox-pay" href="{{{sandbox_pay_url}}}">{{t.sandbox_link}}</a>{{t.sandbox_after}}</p>
</div>
{{/sandbox_pay_url}}
<div class="card">
  <p>{{t.after_paying}}</p>
  <a class="btn" id="to-verify" href="{{{verify_url}}}">{{t.to_verify}}</a>
  <p class="muted"><a href="{{{status_url}}}">{{t.check_status}}</a></p>
</div>
)";

inline const char* kVerify = R"(
<div class="card">
  <h1>{{t.verify_title}}</h1>
  {{#error}}<p class="error" role="alert">{{error}}</p>{{/error}}
  <form method="post" action="{{{verify_url}}}">
    <label for="payment_message">{{t.verify_label}}</label>
    <textarea id="payment_message" name="payment_message" rows="6" maxlength="2000" required>{{message}}</textarea>
    <p><button class="btn" id="verify-submit" type="submit">{{t.verify_button}}</button></p>
  </form>
  <p class="muted">{{t.verify_hint}}</p>
  <p class="muted"><a href="{{{payment_url}}}">{{t.back_to_payment}}</a></p>
</div>
)";

inline const char* kStatus = R"(
<div class="card">
  <h1>{{t.status_title}}</h1>
  <p>{{t.status}}: <strong id="status" data-status="{{status}}">{{status_label}}</strong></p>
  {{#in_progress}}<p class="muted">{{t.refreshes}}</p>{{/in_progress}}
  {{#error}}<p class="error" role="alert" id="error">{{error}}</p>{{/error}}
  {{#completed}}
  <p class="ok">{{t.pdf_ready}}</p>
  <a class="btn" id="download" href="{{{download_url}}}">{{t.download}}</a>
  {{/completed}}
  {{#under_review}}
  <p class="ok" id="review">{{t.review_text}}</p>
  {{#reference}}<dl><dt>{{t.reference}}</dt><dd id="reference">{{reference}}</dd></dl>{{/reference}}
  <p id="support">{{t.review_support}}</p>
  {{#support_phone}}<p>{{t.kernel_call}}: <a id="support-phone" href="tel:{{support_phone}}">{{support_phone}}</a></p>{{/support_phone}}
  {{#support_email}}<p>{{t.kernel_email}}: <a id="support-email" href="mailto:{{support_email}}">{{support_email}}</a></p>{{/support_email}}
  {{/under_review}}
  {{#failed}}
  {{#restart}}<form method="post" action="{{{restart_url}}}"><p><button class="btn" id="retry" type="submit">{{t.try_again}}</button></p></form>
  <p class="muted">{{t.restart_hint}}</p>{{/restart}}
  {{^restart}}<p><a class="btn" id="retry" href="{{{verify_url}}}">{{t.try_again}}</a></p>
  <p class="muted"><a href="{{{payment_url}}}">{{t.not_paid_yet}}</a></p>{{/restart}}
  {{/failed}}
  {{#pending_payment}}<p><a class="btn" href="{{{payment_url}}}">{{t.payment_instructions}}</a></p>
  <p><a class="btn secondary" href="{{{verify_url}}}">{{t.paid_verify}}</a></p>{{/pending_payment}}
</div>
)";

inline const char* kError = R"(
<div class="card">
  <h1>{{title}}</h1>
  <p class="error" role="alert">{{message}}</p>
  {{#back_url}}<p><a class="btn secondary" href="{{{back_url}}}">{{t.back}}</a></p>{{/back_url}}
</div>
)";

}  // namespace malipo::cvpdf::pages
