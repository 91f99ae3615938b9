// The HTML of the CV PDF flow: mstch templates rendered by the kernel inside its shared,
// mobile-first layout. Everything a person typed goes through {{…}} (escaped).
#pragma once

namespace malipo::cvpdf::pages {

inline const char* kPayment = R"(
<div class="card">
  <h1>Pay {{amount}} {{currency}} for your CV</h1>
  {{#render_warning}}<p class="warn" id="render-warning">{{render_warning}}</p>{{/render_warning}}
  {{#push_sent}}<p class="ok">A payment prompt was sent to your phone. Enter your PIN to pay.</p>{{/push_sent}}
  {{#has_ussd}}
  <p>Dial this code on your phone:</p>
  <p class="code">{{ussd_code}}</p>
  <ol>{{#steps}}<li>{{.}}</li>{{/steps}}</ol>
  {{/has_ussd}}
  <dl>
    <dt>Amount</dt><dd>{{amount}} {{currency}}</dd>
    {{#vendor}}<dt>Vendor ID</dt><dd>{{vendor}}</dd>{{/vendor}}
    {{#reference}}<dt>Reference</dt><dd>{{reference}}</dd>{{/reference}}
  </dl>
</div>
{{#can_push}}
<div class="card">
  <h2>Or get a prompt on your phone</h2>
  <form method="post" action="{{{push_url}}}">
    <label for="phone">Mobile money number</label>
    <input id="phone" name="phone" type="tel" inputmode="tel" value="{{phone}}" placeholder="07XX XXX XXX" required>
    {{#phone_ending}}<p class="muted" id="phone-hint">The number on your CV ends in {{phone_ending}}.</p>{{/phone_ending}}
    <p><button class="btn secondary" type="submit">Send payment prompt</button></p>
  </form>
</div>
{{/can_push}}
{{#sandbox_pay_url}}
<div class="card">
  <p class="muted">Sandbox: no real money moves. <a id="sandbox-pay" href="{{{sandbox_pay_url}}}">Simulate the customer paying</a>,
  then paste the SMS it shows.</p>
</div>
{{/sandbox_pay_url}}
<div class="card">
  <p>After paying you will receive a confirmation SMS.</p>
  <a class="btn" id="to-verify" href="{{{verify_url}}}">I have paid: verify my payment</a>
  <p class="muted"><a href="{{{status_url}}}">Check status</a></p>
</div>
)";

inline const char* kVerify = R"(
<div class="card">
  <h1>Verify your payment</h1>
  {{#error}}<p class="error" role="alert">{{error}}</p>{{/error}}
  <form method="post" action="{{{verify_url}}}">
    <label for="payment_message">Paste the confirmation SMS you received</label>
    <textarea id="payment_message" name="payment_message" rows="6" maxlength="2000" required>{{message}}</textarea>
    <p><button class="btn" id="verify-submit" type="submit">Verify payment</button></p>
  </form>
  <p class="muted">Paid {{amount}} {{currency}}? The SMS has a transaction ID, e.g. "Transaction ID: ABC123XYZ".</p>
  <p class="muted"><a href="{{{payment_url}}}">Back to payment instructions</a></p>
</div>
)";

inline const char* kStatus = R"(
<div class="card">
  <h1>Your CV</h1>
  <p>Status: <strong id="status" data-status="{{status}}">{{status_label}}</strong></p>
  {{#in_progress}}<p class="muted">This page refreshes every 5 seconds.</p>{{/in_progress}}
  {{#error}}<p class="error" role="alert" id="error">{{error}}</p>{{/error}}
  {{#completed}}
  <p class="ok">Your PDF is ready.</p>
  <a class="btn" id="download" href="{{{download_url}}}">Download PDF</a>
  {{/completed}}
  {{#under_review}}
  <p class="ok" id="review">We received your payment. It is being reviewed before your CV is made: there is nothing more to pay.</p>
  {{#reference}}<dl><dt>Reference</dt><dd id="reference">{{reference}}</dd></dl>{{/reference}}
  <p id="support">Questions? Contact {{support_name}} support and quote this reference.</p>
  {{#support_phone}}<p>Phone: <a id="support-phone" href="tel:{{support_phone}}">{{support_phone}}</a></p>{{/support_phone}}
  {{#support_email}}<p>Email: <a id="support-email" href="mailto:{{support_email}}">{{support_email}}</a></p>{{/support_email}}
  {{/under_review}}
  {{#failed}}
  {{#restart}}<form method="post" action="{{{restart_url}}}"><p><button class="btn" id="retry" type="submit">Try again</button></p></form>
  <p class="muted">Start a new payment for this CV: the last one can no longer be paid.</p>{{/restart}}
  {{^restart}}<p><a class="btn" id="retry" href="{{{verify_url}}}">Try again</a></p>
  <p class="muted"><a href="{{{payment_url}}}">Not paid yet? See the payment instructions</a></p>{{/restart}}
  {{/failed}}
  {{#pending_payment}}<p><a class="btn" href="{{{payment_url}}}">Payment instructions</a></p>
  <p><a class="btn secondary" href="{{{verify_url}}}">I have paid: verify</a></p>{{/pending_payment}}
</div>
)";

inline const char* kError = R"(
<div class="card">
  <h1>{{title}}</h1>
  <p class="error" role="alert">{{message}}</p>
  {{#back_url}}<p><a class="btn secondary" href="{{{back_url}}}">Back</a></p>{{/back_url}}
</div>
)";

}  // namespace malipo::cvpdf::pages
