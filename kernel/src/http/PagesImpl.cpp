#include "http/PagesImpl.hpp"

#include <Poco/Base64Encoder.h>
#include <Poco/JSON/Array.h>
#include <Poco/SHA2Engine.h>

#include <mstch/mstch.hpp>
#include <regex>
#include <sstream>
#include <stdexcept>

#include "http/TemplateData.hpp"

namespace malipo {

namespace {

// The layout's styles; @primary@ and @header@ are the brand's colours. Colours meet WCAG 2.1 AA
// contrast on their backgrounds (the primary colour carries white text: choose a dark one).
const char* kCss =
    R"(*{box-sizing:border-box}body{margin:0;font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1f2933;background:#f5f7fa}
main{max-width:32rem;margin:0 auto;padding:1rem}
.site{background:@header@;border-bottom:1px solid #e4e7eb}.site-in{max-width:32rem;margin:0 auto;padding:.6rem 1rem;display:flex;align-items:center;gap:.6rem}
.site img{height:2rem;width:auto;max-width:8rem}.site-name{font-weight:700;font-size:1.05rem;color:#1f2933}
.site-foot{max-width:32rem;margin:0 auto;padding:0 1rem 2rem;color:#3e4c59;font-size:.9rem}.site-foot a{color:@primary@}
.card>:first-child{margin-top:0}.card>:last-child{margin-bottom:0}
.card{background:#fff;border-radius:12px;padding:1.25rem;box-shadow:0 1px 3px rgba(0,0,0,.08);margin-bottom:1rem}
h1{font-size:1.35rem;margin:.25rem 0 1rem}h2{font-size:1.1rem}
a{color:@primary@}:focus-visible{outline:3px solid #f59e0b;outline-offset:2px}
.code{font:700 1.6rem/1.2 ui-monospace,monospace;letter-spacing:.05em;background:#eef2ff;padding:.5rem .75rem;border-radius:8px;display:inline-block}
.muted{color:#52606d;font-size:.9rem}.error{background:#fde8e8;color:#9b1c1c;padding:.75rem;border-radius:8px}
.ok{background:#def7ec;color:#03543f;padding:.75rem;border-radius:8px}.warn{background:#fdf6b2;color:#723b13;padding:.75rem;border-radius:8px}
.deadline{background:#fff8e1;color:#5c3c00;padding:.6rem .75rem;border-radius:8px}
.btn{display:inline-block;border:0;background:@primary@;color:#fff;padding:.75rem 1.25rem;border-radius:8px;font-size:1rem;text-decoration:none;cursor:pointer;width:100%;text-align:center}
.btn.secondary{background:#e4e7eb;color:#1f2933}
button,input,textarea,select{font:inherit}
textarea,input{width:100%;font-size:1rem;padding:.6rem;border:1px solid #7b8794;border-radius:8px}
input[type=radio],input[type=checkbox]{width:auto}pre.screen{white-space:pre-wrap;min-height:8em;border:1px solid #cbd2d9;padding:.75em;background:#f8f8f8}.logo-sm{max-height:3rem}
details{margin:.5rem 0}summary{cursor:pointer;font-weight:600;padding:.4rem 0}
ol li{margin:.3rem 0}dl{display:grid;grid-template-columns:auto 1fr;gap:.25rem .75rem}dt{color:#52606d}dd{margin:0;font-weight:600}
)";

const char* kLayout = R"(<!doctype html>
<html lang="{{lang}}" data-stop-refresh="{{stop_refresh}}"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{title}}</title>
<style>{{{css}}}</style>{{{head}}}</head>
<body><header class="site"><div class="site-in">{{#logo}}<img src="/brand/logo" alt="{{logo_alt}}">{{/logo}}<span class="site-name">{{name}}</span></div></header>
<main>{{{body}}}</main>
{{#support}}<footer class="site-foot"><p id="site-support"><strong>{{help}}</strong>{{#phone}} {{call}}: <a id="site-phone" href="tel:{{phone_tel}}">{{phone}}</a>{{/phone}}{{#email}} · {{email_label}}: <a id="site-email" href="mailto:{{email}}">{{email}}</a>{{/email}}</p></footer>{{/support}}
</body></html>
)";

std::string replaceAll(std::string s, const std::string& from, const std::string& to) {
  for (std::size_t at = s.find(from); at != std::string::npos; at = s.find(from, at + to.size()))
    s.replace(at, from.size(), to);
  return s;
}

bool validColor(const std::string& c) {
  static const std::regex re("#([0-9a-fA-F]{3}|[0-9a-fA-F]{6})");
  return std::regex_match(c, re);
}

std::string sha256Base64(const std::string& text) {
  Poco::SHA2Engine sha(Poco::SHA2Engine::SHA_256);
  sha.update(text);
  const auto& d = sha.digest();
  std::ostringstream os;
  Poco::Base64Encoder enc(os);
  enc.rdbuf()->setLineLength(0);
  enc.write(reinterpret_cast<const char*>(d.data()), static_cast<std::streamsize>(d.size()));
  enc.close();
  return os.str();
}

// A plugin's <meta http-equiv="refresh" content="N[;url=…]">: without JavaScript it stays (in
// <noscript>); with it, /assets/refresh.js reloads after N seconds unless the customer is
// typing or has paused it (WCAG 2.2.1: no refresh the user cannot stop).
std::string refreshByScript(const std::string& head) {
  static const std::regex meta(R"re(<meta http-equiv="refresh" content="([^"<>]*)">)re",
                               std::regex::icase);
  std::smatch m;
  if (!std::regex_search(head, m, meta)) return head;
  return m.prefix().str() + "<meta name=\"malipo-refresh\" content=\"" + m[1].str() +
         "\"><noscript>" + m[0].str() +
         "</noscript><script src=\"/assets/refresh.js\" defer></script>" + m.suffix().str();
}

}  // namespace

const char* PagesImpl::refreshScript() {
  return R"((function () {
  var m = document.querySelector('meta[name="malipo-refresh"]');
  if (!m) return;
  var parts = m.content.split(';'), secs = parseFloat(parts[0]) || 5, url = null;
  for (var i = 1; i < parts.length; i++) {
    var p = parts[i].trim();
    if (/^url=/i.test(p)) url = p.slice(4);
  }
  var paused = false;
  document.addEventListener('focusin', function (e) {
    if (/^(INPUT|TEXTAREA|SELECT)$/.test(e.target.tagName)) paused = true;
  });
  var t = setTimeout(function go() {
    if (paused) return;
    if (url) location.replace(url); else location.reload();
  }, secs * 1000);
  var main = document.querySelector('main');
  if (main) {
    var b = document.createElement('button');
    b.type = 'button';
    b.className = 'btn secondary';
    b.id = 'stop-refresh';
    b.textContent = document.documentElement.getAttribute('data-stop-refresh') || 'Stop refreshing';
    b.addEventListener('click', function () { clearTimeout(t); paused = true; b.remove(); });
    var p = document.createElement('p');
    p.appendChild(b);
    main.appendChild(p);
  }
})();
)";
}

PagesImpl::PagesImpl() : catalogs_(std::make_unique<i18n::Catalogs>()) {
  configure(PageOptions{});
}

void PagesImpl::configure(PageOptions options) {
  for (const std::string* c : {&options.primaryColor, &options.headerColor})
    if (!validColor(*c))
      throw std::invalid_argument("brand: colour \"" + *c + "\" is not #rgb or #rrggbb");
  if (!i18n::supported(options.defaultLanguage))
    throw std::invalid_argument("pages.default_language: \"" + options.defaultLanguage +
                                "\" is not one of en, sw, fr");
  opts_ = std::move(options);
  css_ =
      replaceAll(replaceAll(kCss, "@primary@", opts_.primaryColor), "@header@", opts_.headerColor);
  styleHash_ = "'sha256-" + sha256Base64(css_) + "'";
  catalogs_ = std::make_unique<i18n::Catalogs>(opts_.messagesDir);
}

std::string PagesImpl::negotiate(const std::string& requested,
                                 const std::string& acceptLanguage) const {
  return i18n::negotiate(requested, acceptLanguage, opts_.defaultLanguage);
}

std::string PagesImpl::language(const Request& req) const {
  return negotiate(req.queryParam("lang"), req.header("Accept-Language"));
}

std::string PagesImpl::render(const std::string& title, const std::string& bodyTemplate,
                              const Poco::JSON::Object& data, const std::string& headExtra) const {
  return renderPage("kernel", opts_.defaultLanguage, title, bodyTemplate, data, headExtra);
}

std::string PagesImpl::renderIn(const std::string& lang, const std::string& title,
                                const std::string& bodyTemplate, const Poco::JSON::Object& data,
                                const std::string& headExtra) const {
  return renderPage("kernel", lang, title, bodyTemplate, data, headExtra);
}

std::string PagesImpl::text(const std::string& lang, const std::string& key,
                            const Poco::JSON::Object& params) const {
  return textIn("kernel", lang, key, params);
}

std::string PagesImpl::money(const std::string& lang, std::int64_t minor,
                             const std::string& currency) const {
  return i18n::formatMoney(minor, currency, i18n::supported(lang) ? lang : opts_.defaultLanguage);
}

std::string PagesImpl::textIn(const std::string& ns, const std::string& lang,
                              const std::string& key, const Poco::JSON::Object& params) const {
  Poco::JSON::Object p(params);
  if (!p.has("brand")) p.set("brand", opts_.brand.name);
  std::string l = i18n::supported(lang) ? lang : opts_.defaultLanguage;
  return i18n::substitute(catalogs_->text(ns, l, key), p);
}

std::string PagesImpl::renderPage(const std::string& ns, const std::string& langIn,
                                  const std::string& title, const std::string& bodyTemplate,
                                  const Poco::JSON::Object& data,
                                  const std::string& headExtra) const {
  const std::string lang = i18n::supported(langIn) ? langIn : opts_.defaultLanguage;
  const Brand& b = opts_.brand;
  // {name} in a text: the data's top-level values, and the brand's name.
  Poco::JSON::Object params(data);
  if (!params.has("brand")) params.set("brand", b.name);
  mstch::map t;
  for (const auto& [k, v] : catalogs_->table(ns, lang)) t.emplace(k, i18n::substitute(v, params));

  mstch::map m = templateData(data);
  m.emplace("t", t);
  m.emplace("lang", lang);
  mstch::map site{{"name", b.name},
                  {"support_phone", b.supportPhone},
                  {"support_email", b.supportEmail},
                  {"logo_url", std::string(opts_.hasLogo ? "/brand/logo" : "")}};
  m.emplace("site", site);
  std::string body = mstch::render(bodyTemplate, m);

  std::string phoneTel;
  for (char c : b.supportPhone)
    if ((c >= '0' && c <= '9') || c == '+') phoneTel += c;
  auto k = [&](const char* key) {
    return i18n::substitute(catalogs_->text(ns, lang, key), params);
  };
  mstch::map layout{{"title", title},
                    {"body", body},
                    {"head", refreshByScript(headExtra)},
                    {"stop_refresh", k("kernel_stop_refresh")},
                    {"css", css_},
                    {"lang", lang},
                    {"name", b.name},
                    {"logo", opts_.hasLogo},
                    {"logo_alt", k("kernel_logo_alt")},
                    {"support", !b.supportPhone.empty() || !b.supportEmail.empty()},
                    {"help", k("kernel_help")},
                    {"call", k("kernel_call")},
                    {"email_label", k("kernel_email")},
                    {"phone", b.supportPhone},
                    {"phone_tel", phoneTel},
                    {"email", b.supportEmail}};
  return mstch::render(kLayout, layout);
}

}  // namespace malipo
