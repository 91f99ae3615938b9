// mstch rendering with one shared, mobile-first layout (see malipo/pages.hpp): the brand's
// header and support footer, its colours, the page's language; catalogs per plugin
// (i18n::Catalogs) and the kernel's money formatter.
#pragma once

#include <memory>

#include "i18n/I18n.hpp"
#include "malipo/host.hpp"
#include "malipo/pages.hpp"

namespace malipo {

struct PageOptions {
  Brand brand{"Malipo", "", ""};
  bool hasLogo = false;                  // GET /brand/logo serves one
  std::string primaryColor = "#1a56db";  // buttons and links (contrast AA with white text)
  std::string headerColor = "#ffffff";   // the header's background
  std::string defaultLanguage = "en";
  std::string messagesDir;  // <dir>/<plugin>/messages/<lang>.json
};

class PagesImpl final : public Pages {
 public:
  PagesImpl();
  // Before any render (not thread-safe with rendering).
  void configure(PageOptions options);

  std::string render(const std::string& title, const std::string& bodyTemplate,
                     const Poco::JSON::Object& data,
                     const std::string& headExtra = {}) const override;
  std::string language(const Request& req) const override;
  std::string renderIn(const std::string& lang, const std::string& title,
                       const std::string& bodyTemplate, const Poco::JSON::Object& data,
                       const std::string& headExtra = {}) const override;
  std::string text(const std::string& lang, const std::string& key,
                   const Poco::JSON::Object& params = Poco::JSON::Object()) const override;
  std::string money(const std::string& lang, std::int64_t minor,
                    const std::string& currency) const override;
  std::string translate(const std::string& lang, const std::string& english) const override;

  // The same for a plugin's catalog namespace `ns` (its name; "kernel": the kernel's only).
  std::string renderPage(const std::string& ns, const std::string& lang, const std::string& title,
                         const std::string& bodyTemplate, const Poco::JSON::Object& data,
                         const std::string& headExtra) const;
  std::string textIn(const std::string& ns, const std::string& lang, const std::string& key,
                     const Poco::JSON::Object& params) const;
  std::string translateIn(const std::string& ns, const std::string& lang,
                          const std::string& english) const;
  // ?lang=, then the language cookie, then Accept-Language, then pages.default_language.
  std::string negotiate(const std::string& requested, const std::string& acceptLanguage,
                        const std::string& cookie = {}) const;

  // While one is alive on a thread, pages rendered there link their language switcher to
  // the request's own path and query (HttpServer wraps each handler in one).
  class CurrentRequest {
   public:
    explicit CurrentRequest(const Request& req);
    ~CurrentRequest();
    CurrentRequest(const CurrentRequest&) = delete;
    CurrentRequest& operator=(const CurrentRequest&) = delete;

   private:
    const Request* previous_;
  };
  // A request with a supported ?lang= gets the language cookie (kLanguageCookie) back, so
  // the choice sticks across the flow's pages, forms and redirects.
  static void rememberLanguage(const Request& req, Response& resp);

  // 'sha256-…' of the layout's <style> (for the Content-Security-Policy's style-src).
  const std::string& styleHash() const { return styleHash_; }
  const i18n::Catalogs& catalogs() const { return *catalogs_; }
  // A plugin's catalogs beside its library (when pages.messages_dir has none for it).
  void setPluginMessages(const std::string& ns, const std::string& dir) {
    catalogs_->setFallback(ns, dir);
  }
  const PageOptions& options() const { return opts_; }
  // GET /assets/refresh.js: the pages' timed reload (in place of <meta http-equiv=refresh>).
  static const char* refreshScript();

 private:
  PageOptions opts_;
  std::string css_, styleHash_;
  std::unique_ptr<i18n::Catalogs> catalogs_;
};

}  // namespace malipo
