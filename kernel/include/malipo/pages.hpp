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

  // The customer's language: `?lang=`, then the language cookie (an earlier ?lang=, see
  // kLanguageCookie), then Accept-Language, then pages.default_language.
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

  // ---- 1.1, later: a text stored in English (a provider's failure reason, a product's own
  // error kept with an order) in `lang`: the catalog key whose English text it is (this
  // plugin's catalog, then the kernel's, which holds the failure reasons of the kernel and
  // the bundled providers; "{name}" in a catalog text matches any value and is carried into
  // the translation), else `english` unchanged. A 1.0 kernel: unchanged.
  //
  //   d.set("error", host.pages().translate(lang, request.error));  // "Malipo yamekataliwa."
  virtual std::string translate(const std::string& lang, const std::string& english) const {
    (void)lang;
    return english;
  }
};

// The cookie that keeps a customer's ?lang= choice across a flow's pages (the kernel sets
// it on a page asked for with ?lang=; language() reads it after ?lang=).
inline constexpr const char* kLanguageCookie = "malipo_lang";

// The value of the language cookie in `req`'s Cookie header ("" when none).
inline std::string languageCookie(const Request& req) {
  const std::string cookies = req.header("Cookie");
  const std::string name = std::string(kLanguageCookie) + "=";
  for (std::size_t at = 0; at < cookies.size();) {
    while (at < cookies.size() && (cookies[at] == ' ' || cookies[at] == ';')) ++at;
    std::size_t end = cookies.find(';', at);
    if (end == std::string::npos) end = cookies.size();
    if (cookies.compare(at, name.size(), name) == 0) {
      std::string v = cookies.substr(at + name.size(), end - at - name.size());
      return v.size() <= 35 ? v : std::string();
    }
    at = end;
  }
  return {};
}

}  // namespace malipo
