// The console's own layout, style sheet and page templates (mstch), embedded in the binary:
// no external asset, no inline script or style (the CSP allows neither).
#pragma once

namespace malipo::console {

extern const char* const kLayout;  // {{title}}, {{{body}}}, nav when signed in
extern const char* const kCss;     // served at /console/console.css
extern const char* const kSignIn;
extern const char* const kOverview;
extern const char* const kPayments;
extern const char* const kPayment;
extern const char* const kConfirmSync;
extern const char* const kConfirmMoney;  // refund, cancel, resolve
extern const char* const kHeld;
extern const char* const kJobs;
extern const char* const kWebhooks;
extern const char* const kPlugins;
extern const char* const kMessage;

}  // namespace malipo::console
