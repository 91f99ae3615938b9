// Customer-facing languages, message catalogs and money formatting (kernel side of pages).
//
//   std::string lang = i18n::negotiate(req.queryParam("lang"), req.header("Accept-Language"),
//   "en"); Catalogs c("plugins");                    // <dir>/<plugin>/messages/<lang>.json
//   c.text("cvpdf", lang, "pay_title");       // the language's text, else English, else the key
//   i18n::formatMoney(100000, "TZS", "sw");   // "TSh 1,000"
//
// Thread-safety: negotiate/formatMoney are pure; Catalogs loads a plugin's files on first use
// (under a lock) and is safe from any thread.
#pragma once

#include <Poco/JSON/Object.h>

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace malipo::i18n {

// The languages pages are written in, English first (the fallback of every catalog).
const std::vector<std::string>& languages();
bool supported(const std::string& lang);
// A language tag ("sw", "fr-CI", "SW_tz") as a supported language ("sw", "fr"), else "".
std::string match(const std::string& tag);

// `requested` (?lang=, e.g. "sw" or "fr-CI") when supported, then the first supported language
// of `acceptLanguage` by q-value (RFC 9110; "sw-TZ" matches "sw"), then `fallback`.
std::string negotiate(const std::string& requested, const std::string& acceptLanguage,
                      const std::string& fallback);

// "{name}" in `text` replaced by params[name] (strings and numbers); unknown names stay.
std::string substitute(const std::string& text, const Poco::JSON::Object& params);

// Money for customers in `lang`: the local symbol (TSh, GH₵, ₦, KSh, USh, RWF, F CFA, …, else
// the ISO code), the language's digits grouping (ICU/CLDR), no decimals for whole amounts.
std::string formatMoney(std::int64_t minor, const std::string& currency, const std::string& lang);

using Catalog = std::map<std::string, std::string>;

class Catalogs {
 public:
  // `dir`: folder holding <namespace>/messages/<lang>.json (empty: plugins have none).
  explicit Catalogs(std::string dir = {});

  // Where `ns`'s catalogs are when the folder above has none (beside the plugin's library:
  // <library dir>/<short name>/messages). Before the first lookup of `ns`.
  void setFallback(const std::string& ns, const std::string& messagesDir);

  // The kernel's own messages (layout, footer), namespace "kernel"; built in.
  static const Catalog& kernel(const std::string& lang);

  // The text of `key` in `lang`, else in English, else the kernel's, else the key itself.
  std::string text(const std::string& ns, const std::string& lang, const std::string& key) const;
  // Every key of the namespace (kernel's included) in `lang` with the fallbacks applied.
  Catalog table(const std::string& ns, const std::string& lang) const;
  // A stored English text back to its key: the key of `ns`'s English catalog (then the
  // kernel's) whose text is `english`, "{name}" in the text matching any value (returned in
  // `params`); "" when none is. Lets a page show, in the customer's language, a text that
  // was stored in English (a provider's failure reason, a product's error).
  std::string keyOf(const std::string& ns, const std::string& english,
                    Poco::JSON::Object* params = nullptr) const;
  // Keys of the English catalog that `lang` lacks (what a test reports).
  std::vector<std::string> missing(const std::string& ns, const std::string& lang) const;
  // Problems met loading the namespace's files (bad JSON, non-string values), for the log.
  std::vector<std::string> problems(const std::string& ns) const;

  // Reads a catalog file: a flat JSON object of strings. Throws std::runtime_error.
  static Catalog readFile(const std::string& path);

 private:
  struct Entry {
    std::map<std::string, Catalog> byLang;
    std::vector<std::string> problems;
  };
  const Entry& entry(const std::string& ns) const;

  std::string dir_;
  std::map<std::string, std::string> fallback_;  // namespace → its messages folder
  mutable std::mutex mutex_;
  mutable std::map<std::string, std::shared_ptr<const Entry>> cache_;
};

}  // namespace malipo::i18n
