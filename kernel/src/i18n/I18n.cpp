#include "i18n/I18n.hpp"

#include <Poco/JSON/Parser.h>
#include <unicode/locid.h>
#include <unicode/numberformatter.h>

#include <algorithm>
#include <cctype>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "malipo/money.hpp"

namespace malipo::i18n {

namespace {

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::string trim(const std::string& s) {
  std::size_t a = s.find_first_not_of(" \t"), b = s.find_last_not_of(" \t");
  return a == std::string::npos ? std::string() : s.substr(a, b - a + 1);
}

// "sw-TZ" / "sw_tz" / "SW" → "sw".
std::string primary(const std::string& tag) {
  std::string t = lower(trim(tag));
  std::size_t cut = t.find_first_of("-_");
  return cut == std::string::npos ? t : t.substr(0, cut);
}

// The kernel's own texts (the layout's header and footer).
const std::map<std::string, Catalog>& kernelCatalogs() {
  static const std::map<std::string, Catalog> c{
      {"en",
       {{"kernel_help", "Need help?"},
        {"kernel_call", "Call"},
        {"kernel_email", "Email"},
        {"kernel_language", "Language"},
        {"kernel_contact_support", "Contact {brand} support"},
        {"kernel_logo_alt", "{brand} logo"},
        {"kernel_stop_refresh", "Stop refreshing this page"},
        // Failure reasons the kernel and the bundled providers store (keyOf() maps them back).
        {"kernel_reason_declined", "The payment was declined."},
        {"kernel_reason_cancelled", "The payment was cancelled."},
        {"kernel_reason_cancelled_or_declined", "The payment was cancelled or declined."},
        {"kernel_reason_not_completed", "The payment was not completed."},
        {"kernel_reason_not_completed_in_time", "The payment was not completed in time."},
        {"kernel_reason_not_paid", "Not paid yet."},
        {"kernel_reason_not_confirmed", "Not confirmed yet."},
        {"kernel_reason_unsuccessful", "Payment not successful"},
        {"kernel_reason_failed", "The payment failed."},
        {"kernel_reason_refunded", "The payment was refunded."},
        {"kernel_reason_in_progress", "The payment is still in progress."},
        {"kernel_reason_confirming", "The payment is still being confirmed."},
        {"kernel_reason_late_review",
         "The payment arrived late and needs review; nothing was delivered."},
        {"kernel_reason_review", "The payment needs review; nothing was delivered."},
        {"kernel_reason_prompt_wait",
         "A payment prompt was sent recently. Please wait {seconds} seconds, or pay from the menu "
         "on your phone."}}},
      {"sw",
       {{"kernel_help", "Unahitaji msaada?"},
        {"kernel_call", "Piga simu"},
        {"kernel_email", "Barua pepe"},
        {"kernel_language", "Lugha"},
        {"kernel_contact_support", "Wasiliana na huduma kwa wateja ya {brand}"},
        {"kernel_logo_alt", "Nembo ya {brand}"},
        {"kernel_stop_refresh", "Acha kusasisha ukurasa huu"},
        {"kernel_reason_declined", "Malipo yamekataliwa."},
        {"kernel_reason_cancelled", "Malipo yameghairiwa."},
        {"kernel_reason_cancelled_or_declined", "Malipo yameghairiwa au yamekataliwa."},
        {"kernel_reason_not_completed", "Malipo hayakukamilika."},
        {"kernel_reason_not_completed_in_time",
         "Muda wa kulipa umekwisha kabla malipo hayajakamilika."},
        {"kernel_reason_not_paid", "Bado hujalipa."},
        {"kernel_reason_not_confirmed", "Bado haijathibitishwa."},
        {"kernel_reason_unsuccessful", "Malipo hayakufanikiwa"},
        {"kernel_reason_failed", "Malipo hayakufanikiwa."},
        {"kernel_reason_refunded", "Pesa zako zimerudishwa."},
        {"kernel_reason_in_progress", "Malipo bado yanaendelea."},
        {"kernel_reason_confirming", "Malipo bado yanathibitishwa."},
        {"kernel_reason_late_review",
         "Malipo yamefika baada ya muda kwisha na yanakaguliwa; bado hujapewa huduma."},
        {"kernel_reason_review", "Malipo yanakaguliwa; bado hujapewa huduma."},
        {"kernel_reason_prompt_wait",
         "Ombi la malipo limetumwa hivi punde. Subiri sekunde {seconds}, au lipa kupitia menyu ya "
         "simu yako."}}},
      {"fr",
       {{"kernel_help", "Besoin d'aide ?"},
        {"kernel_call", "Appeler"},
        {"kernel_email", "E-mail"},
        {"kernel_language", "Langue"},
        {"kernel_contact_support", "Contactez le service client de {brand}"},
        {"kernel_logo_alt", "Logo de {brand}"},
        {"kernel_stop_refresh", "Arrêter l'actualisation de la page"},
        {"kernel_reason_declined", "Le paiement a été refusé."},
        {"kernel_reason_cancelled", "Le paiement a été annulé."},
        {"kernel_reason_cancelled_or_declined", "Le paiement a été annulé ou refusé."},
        {"kernel_reason_not_completed", "Le paiement n'a pas abouti."},
        {"kernel_reason_not_completed_in_time", "Le délai de paiement est dépassé."},
        {"kernel_reason_not_paid", "Pas encore payé."},
        {"kernel_reason_not_confirmed", "Pas encore confirmé."},
        {"kernel_reason_unsuccessful", "Le paiement n'a pas abouti"},
        {"kernel_reason_failed", "Le paiement a échoué."},
        {"kernel_reason_refunded", "Le paiement a été remboursé."},
        {"kernel_reason_in_progress", "Le paiement est toujours en cours."},
        {"kernel_reason_confirming", "Le paiement est en cours de confirmation."},
        {"kernel_reason_late_review",
         "Le paiement est arrivé après le délai et doit être vérifié ; rien n'a encore été livré."},
        {"kernel_reason_review", "Le paiement doit être vérifié ; rien n'a encore été livré."},
        {"kernel_reason_prompt_wait",
         "Une demande de paiement vient d'être envoyée. Patientez {seconds} secondes, ou payez "
         "depuis le menu de votre téléphone."}}},
  };
  return c;
}

struct Symbol {
  const char* text;
  bool attached;  // written against the number: ₦5,000, $5
};

const Symbol* localSymbol(const std::string& currency) {
  // What shoppers see on price tags and in their SMS; CLDR differs for some (see docs/kernel.md).
  static const std::map<std::string, Symbol> table{
      {"TZS", {"TSh", false}},         {"KES", {"KSh", false}},
      {"UGX", {"USh", false}},         {"GHS", {"GH\xE2\x82\xB5", false}},
      {"NGN", {"\xE2\x82\xA6", true}}, {"RWF", {"FRw", false}},
      {"XOF", {"F CFA", false}},       {"XAF", {"F CFA", false}},
      {"ZMW", {"K", false}},           {"USD", {"$", true}},
      {"EUR", {"\xE2\x82\xAC", true}}, {"GBP", {"\xC2\xA3", true}},
  };
  auto it = table.find(currency);
  return it == table.end() ? nullptr : &it->second;
}

const char* countryOf(const std::string& currency) {
  static const std::map<std::string, const char*> table{
      {"TZS", "TZ"}, {"KES", "KE"}, {"UGX", "UG"}, {"GHS", "GH"}, {"NGN", "NG"},
      {"RWF", "RW"}, {"XOF", "SN"}, {"XAF", "CM"}, {"ZMW", "ZM"}};
  auto it = table.find(currency);
  return it == table.end() ? "" : it->second;
}

// Drops spaces (ASCII, NBSP, narrow NBSP) at the start or end of `s`.
std::string stripSpaces(std::string s, bool front) {
  static const char* spaces[] = {"\xC2\xA0", "\xE2\x80\xAF", " "};
  for (bool again = true; again && !s.empty();) {
    again = false;
    for (const char* sp : spaces) {
      std::size_t n = std::char_traits<char>::length(sp);
      if (s.size() >= n &&
          (front ? s.compare(0, n, sp) == 0 : s.compare(s.size() - n, n, sp) == 0)) {
        s = front ? s.substr(n) : s.substr(0, s.size() - n);
        again = true;
      }
    }
  }
  return s;
}

}  // namespace

const std::vector<std::string>& languages() {
  static const std::vector<std::string> l{"en", "sw", "fr"};
  return l;
}

bool supported(const std::string& lang) {
  const auto& l = languages();
  return std::find(l.begin(), l.end(), lang) != l.end();
}

std::string match(const std::string& tag) {
  if (tag.empty() || tag.size() > 35) return {};
  std::string p = primary(tag);
  return supported(p) ? p : std::string();
}

std::string negotiate(const std::string& requested, const std::string& acceptLanguage,
                      const std::string& fallback) {
  if (!match(requested).empty()) return match(requested);
  struct Choice {
    std::string lang;
    double q;
  };
  std::vector<Choice> choices;
  std::stringstream in(acceptLanguage.substr(0, 1024));
  std::string part;
  while (std::getline(in, part, ',')) {
    std::string tag = part, params;
    std::size_t semi = part.find(';');
    if (semi != std::string::npos) {
      tag = part.substr(0, semi);
      params = lower(part.substr(semi + 1));
    }
    double q = 1;
    std::size_t qa = params.find("q=");
    if (qa != std::string::npos) {
      try {
        q = std::stod(params.substr(qa + 2));
      } catch (const std::exception&) {
        q = 0;
      }
    }
    std::string lang = primary(tag);
    if (q > 0 && supported(lang)) choices.push_back({lang, q});
  }
  std::stable_sort(choices.begin(), choices.end(),
                   [](const Choice& a, const Choice& b) { return a.q > b.q; });
  if (!choices.empty()) return choices.front().lang;
  return supported(fallback) ? fallback : "en";
}

std::string substitute(const std::string& text, const Poco::JSON::Object& params) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size();) {
    std::size_t close = text[i] == '{' ? text.find('}', i + 1) : std::string::npos;
    if (close != std::string::npos && close - i <= 40) {
      std::string name = text.substr(i + 1, close - i - 1);
      if (!name.empty() && params.has(name)) {
        const auto& v = params.get(name);
        if (v.isString() || v.isNumeric() || v.isBoolean()) {
          out += v.convert<std::string>();
          i = close + 1;
          continue;
        }
      }
    }
    out += text[i++];
  }
  return out;
}

std::string formatMoney(std::int64_t minor, const std::string& currency, const std::string& lang) {
  int exp = currencyExponent(currency);
  std::int64_t unit = 1;
  for (int i = 0; i < exp; ++i) unit *= 10;
  bool whole = minor % unit == 0;
  std::string country = countryOf(currency);
  std::string localeName = (supported(lang) ? lang : std::string("en")) +
                           (country.empty() ? std::string() : "_" + country);
  UErrorCode st = U_ZERO_ERROR;
  icu::UnicodeString code(currency.c_str());
  icu::CurrencyUnit cu(code.getTerminatedBuffer(), st);
  if (U_FAILURE(st) || currency.size() != 3) return formatMajor(minor, currency) + " " + currency;
  auto f = icu::number::NumberFormatter::withLocale(icu::Locale(localeName.c_str()))
               .unit(cu)
               .unitWidth(UNUM_UNIT_WIDTH_ISO_CODE)
               .precision(whole ? icu::number::Precision::integer()
                                : icu::number::Precision::fixedFraction(exp));
  std::string s;
  auto formatted = f.formatDecimal(formatMajor(minor, currency).c_str(), st);
  formatted.toString(st).toUTF8String(s);
  if (U_FAILURE(st) || s.empty()) return formatMajor(minor, currency) + " " + currency;
  const Symbol* sym = localSymbol(currency);
  std::size_t at = s.find(currency);
  if (!sym || at == std::string::npos) return s;
  std::string before = s.substr(0, at), after = s.substr(at + currency.size());
  if (stripSpaces(before, true).empty() || before == "-") {  // symbol first: "TSh 1,000"
    std::string number = stripSpaces(after, true);
    return before + sym->text + (sym->attached ? "" : " ") + number;
  }
  return stripSpaces(before, false) + " " + sym->text + after;  // symbol last: "1 000 TSh"
}

// ---- catalogs ------------------------------------------------------------------------

Catalogs::Catalogs(std::string dir) : dir_(std::move(dir)) {}

void Catalogs::setFallback(const std::string& ns, const std::string& messagesDir) {
  std::lock_guard<std::mutex> lock(mutex_);
  fallback_[ns] = messagesDir;
}

const Catalog& Catalogs::kernel(const std::string& lang) {
  const auto& all = kernelCatalogs();
  auto it = all.find(lang);
  return it == all.end() ? all.at("en") : it->second;
}

Catalog Catalogs::readFile(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw std::runtime_error("cannot read " + path);
  std::stringstream ss;
  ss << f.rdbuf();
  Poco::JSON::Object::Ptr o;
  try {
    o = Poco::JSON::Parser().parse(ss.str()).extract<Poco::JSON::Object::Ptr>();
  } catch (const std::exception& e) {
    throw std::runtime_error(path + ": not a JSON object (" + e.what() + ")");
  }
  if (!o) throw std::runtime_error(path + ": not a JSON object");
  Catalog c;
  for (const auto& kv : *o) {
    if (!kv.second.isString())
      throw std::runtime_error(path + ": value of \"" + kv.first + "\" is not a string");
    c[kv.first] = kv.second.convert<std::string>();
  }
  return c;
}

const Catalogs::Entry& Catalogs::entry(const std::string& ns) const {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = cache_.find(ns);
  if (it != cache_.end()) return *it->second;
  auto e = std::make_shared<Entry>();
  bool safeName =
      !ns.empty() && ns.find('/') == std::string::npos && ns.find("..") == std::string::npos;
  std::string folder = dir_.empty() ? std::string() : dir_ + "/" + ns + "/messages";
  if (folder.empty() || !std::ifstream(folder + "/en.json")) {
    auto fb = fallback_.find(ns);
    if (fb != fallback_.end()) folder = fb->second;
  }
  if (!folder.empty() && safeName) {
    for (const auto& lang : languages()) {
      std::string path = folder + "/" + lang + ".json";
      std::ifstream probe(path);
      if (!probe) {
        if (lang == "en") break;  // no English catalog: the namespace has none
        e->problems.push_back(path + ": missing");
        continue;
      }
      try {
        e->byLang[lang] = readFile(path);
      } catch (const std::exception& ex) {
        e->problems.push_back(ex.what());
      }
    }
  }
  return *cache_.emplace(ns, std::move(e)).first->second;
}

std::string Catalogs::text(const std::string& ns, const std::string& lang,
                           const std::string& key) const {
  const Entry& e = entry(ns);
  for (const std::string& l : {lang, std::string("en")}) {
    auto c = e.byLang.find(l);
    if (c != e.byLang.end()) {
      auto t = c->second.find(key);
      if (t != c->second.end()) return t->second;
    }
  }
  for (const std::string& l : {lang, std::string("en")}) {
    const Catalog& k = kernel(l);
    auto t = k.find(key);
    if (t != k.end()) return t->second;
  }
  return key;
}

Catalog Catalogs::table(const std::string& ns, const std::string& lang) const {
  Catalog out = kernel("en");
  for (const auto& kv : kernel(lang)) out[kv.first] = kv.second;
  const Entry& e = entry(ns);
  for (const std::string& l : {std::string("en"), lang}) {
    auto c = e.byLang.find(l);
    if (c == e.byLang.end()) continue;
    for (const auto& kv : c->second) out[kv.first] = kv.second;
  }
  return out;
}

namespace {

// Whether `text` is `pattern` with each "{name}" standing for a non-empty value (put in
// `params`).
bool matchesPattern(const std::string& pattern, const std::string& text,
                    Poco::JSON::Object* params) {
  std::vector<std::string> literals, names;
  std::string lit;
  for (std::size_t i = 0; i < pattern.size();) {
    std::size_t close = pattern[i] == '{' ? pattern.find('}', i + 1) : std::string::npos;
    if (close != std::string::npos && close - i <= 40 && close > i + 1) {
      literals.push_back(lit);
      lit.clear();
      names.push_back(pattern.substr(i + 1, close - i - 1));
      i = close + 1;
    } else {
      lit += pattern[i++];
    }
  }
  literals.push_back(lit);
  if (names.empty()) return false;
  if (text.compare(0, literals[0].size(), literals[0]) != 0) return false;
  std::size_t at = literals[0].size();
  Poco::JSON::Object found;
  for (std::size_t k = 0; k < names.size(); ++k) {
    const std::string& next = literals[k + 1];
    std::size_t end;
    if (k + 1 == names.size()) {
      if (text.size() < at + next.size() ||
          text.compare(text.size() - next.size(), next.size(), next) != 0)
        return false;
      end = text.size() - next.size();
    } else {
      end = next.empty() ? std::string::npos : text.find(next, at + 1);
    }
    if (end == std::string::npos || end <= at) return false;
    found.set(names[k], text.substr(at, end - at));
    at = end + next.size();
  }
  if (params)
    for (const auto& kv : found) params->set(kv.first, kv.second);
  return true;
}

}  // namespace

std::string Catalogs::keyOf(const std::string& ns, const std::string& english,
                            Poco::JSON::Object* params) const {
  const std::string text = trim(english);
  if (text.empty()) return {};
  const Entry& e = entry(ns);
  auto own = e.byLang.find("en");
  const Catalog* tables[] = {own == e.byLang.end() ? nullptr : &own->second, &kernel("en")};
  for (const Catalog* c : tables)
    if (c)
      for (const auto& kv : *c)
        if (kv.second == text) return kv.first;
  for (const Catalog* c : tables)
    if (c)
      for (const auto& kv : *c)
        if (kv.second.find('{') != std::string::npos && matchesPattern(kv.second, text, params))
          return kv.first;
  return {};
}

std::vector<std::string> Catalogs::missing(const std::string& ns, const std::string& lang) const {
  std::vector<std::string> out;
  const Entry& e = entry(ns);
  auto en = e.byLang.find("en");
  auto other = e.byLang.find(lang);
  if (en == e.byLang.end()) return out;
  for (const auto& kv : en->second)
    if (other == e.byLang.end() || !other->second.count(kv.first)) out.push_back(kv.first);
  return out;
}

std::vector<std::string> Catalogs::problems(const std::string& ns) const {
  return entry(ns).problems;
}

}  // namespace malipo::i18n
