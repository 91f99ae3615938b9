// Server-rendered HTML lent to plugins (mstch templates render in the kernel: Debian's mstch
// cannot link into a shared library).
//
// `{{x}}` escapes HTML, `{{{x}}}` does not: put user input only in `{{x}}`. The body is
// wrapped in the shared mobile-first layout with the given title.
// Thread-safety: safe from any thread.
#pragma once

#include <Poco/JSON/Object.h>

#include <cstdint>
#include <string>

#include "malipo/http.hpp"
#include "malipo/money.hpp"

namespace malipo {

class Pages {
 public:
  virtual ~Pages() = default;
  // Renders `bodyTemplate` with `data` (JSON values; arrays become sections) inside the layout.
  virtual std::string render(const std::string& title, const std::string& bodyTemplate,
                             const Poco::JSON::Object& data,
                             const std::string& headExtra = {}) const = 0;

  // ---- 1.1: pages (languages, catalogs, money). Each has a default for a kernel without them
  // (English, the key itself, "1000 TZS"): a plugin works against a 1.0 kernel too.
  //
  //   std::string lang = host.pages().language(req);          // en, sw or fr
  //   data.set("amount", host.pages().money(lang, p.amountMinor, p.currency));  // "TSh 1,000"
  //   host.pages().renderIn(lang, host.pages().text(lang, "pay_title"), tmpl, data);
  //
  // Catalogs: <pages.messages_dir>/<plugin name>/messages/<lang>.json, a flat JSON object of
  // strings (English complete; a key another language lacks falls back to English). Templates
  // see them as {{t.key}}, with "{name}" in a text replaced by the data's top-level `name`; the
  // layout adds `lang` and `site` (name, support_phone, support_email, logo_url) when absent.

  // The customer's language: `?lang=`, then Accept-Language, then pages.default_language.
  virtual std::string language(const Request& req) const {
    (void)req;
    return "en";
  }
  // render() in `lang` (the layout's lang attribute, the catalog's texts).
  virtual std::string renderIn(const std::string& lang, const std::string& title,
                               const std::string& bodyTemplate, const Poco::JSON::Object& data,
                               const std::string& headExtra = {}) const {
    (void)lang;
    return render(title, bodyTemplate, data, headExtra);
  }
  // The catalog's text of `key` in `lang`, "{name}" replaced by params' `name`.
  virtual std::string text(const std::string& lang, const std::string& key,
                           const Poco::JSON::Object& params = Poco::JSON::Object()) const {
    (void)lang;
    (void)params;
    return key;
  }
  // An amount for customers in `lang`: "TSh 1,000", "GH₵ 10.50", "₦5,000".
  virtual std::string money(const std::string& lang, std::int64_t minor,
                            const std::string& currency) const {
    (void)lang;
    return formatMajor(minor, currency) + " " + currency;
  }
};

}  // namespace malipo
