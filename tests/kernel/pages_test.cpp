// Customer pages: language negotiation, catalogs and their fallback, the money formatter, the
// layout's brand, and the security headers through real HTTP.
#include <dirent.h>
#include <gtest/gtest.h>

#include <fstream>
#include <regex>
#include <set>

#include "app/Kernel.hpp"
#include "config/ConfigLoader.hpp"
#include "http/PagesImpl.hpp"
#include "http/SecurityHeaders.hpp"
#include "i18n/I18n.hpp"
#include "support/TestSupport.hpp"

namespace malipo::test {
namespace {

TEST(Language, QueryThenAcceptLanguageThenDefault) {
  EXPECT_EQ(i18n::negotiate("sw", "fr-FR,fr;q=0.9", "en"), "sw");
  EXPECT_EQ(i18n::negotiate("SW-tz", "", "en"), "sw");
  EXPECT_EQ(i18n::negotiate("", "fr-CI,fr;q=0.9,en;q=0.5", "en"), "fr");
  EXPECT_EQ(i18n::negotiate("", "de-DE,sw-TZ;q=0.8,en;q=0.9", "fr"), "en");  // by q
  EXPECT_EQ(i18n::negotiate("", "de-DE,sw-TZ;q=0.8", "en"), "sw");
  EXPECT_EQ(i18n::negotiate("zz", "de, it;q=0.5", "fr"), "fr");    // nothing supported
  EXPECT_EQ(i18n::negotiate("", "sw;q=0, fr;q=0.1", "en"), "fr");  // q=0: not acceptable
  EXPECT_EQ(i18n::negotiate("", "", "xx"), "en");
  EXPECT_EQ(i18n::negotiate("", "garbage;;;q=abc,,,", "sw"), "sw");
}

TEST(Money, LocalSymbolsAndDigits) {
  EXPECT_EQ(i18n::formatMoney(100000, "TZS", "sw"), "TSh 1,000");
  EXPECT_EQ(i18n::formatMoney(100000, "TZS", "en"), "TSh 1,000");
  EXPECT_EQ(i18n::formatMoney(1050, "GHS", "en"), "GH\xE2\x82\xB5 10.50");
  EXPECT_EQ(i18n::formatMoney(1000, "GHS", "en"), "GH\xE2\x82\xB5 10");
  EXPECT_EQ(i18n::formatMoney(500000, "NGN", "en"),
            "\xE2\x82\xA6"
            "5,000");
  EXPECT_EQ(i18n::formatMoney(10000, "KES", "sw"), "KSh 100");
  EXPECT_EQ(i18n::formatMoney(123456789, "TZS", "en"), "TSh 1,234,567.89");
  // French: the number first, CLDR's digit grouping (narrow no-break space) and comma.
  EXPECT_EQ(i18n::formatMoney(1050, "GHS", "fr"), "10,50 GH\xE2\x82\xB5");
  EXPECT_EQ(i18n::formatMoney(5000, "XOF", "fr"),
            "5\xE2\x80\xAF"
            "000 F CFA");  // no decimals
  EXPECT_EQ(i18n::formatMoney(-150, "GHS", "en"), "-GH\xE2\x82\xB5 1.50");
  // No symbol of our own: ICU's ISO code form.
  EXPECT_EQ(i18n::formatMoney(250, "ZAR", "en"),
            "ZAR\xC2\xA0"
            "2.50");
}

TEST(Catalogs, FallBackToEnglishThenKernelThenKey) {
  TempDir dir;
  ASSERT_EQ(system(("mkdir -p " + dir.path() + "/shop/messages").c_str()), 0);
  writeFile(dir.path() + "/shop/messages/en.json", R"({"hello":"Hello {name}","only_en":"E"})");
  writeFile(dir.path() + "/shop/messages/sw.json", R"({"hello":"Habari {name}"})");
  writeFile(dir.path() + "/shop/messages/fr.json", R"({"hello": 3})");  // not a string
  i18n::Catalogs c(dir.path());
  EXPECT_EQ(c.text("shop", "sw", "hello"), "Habari {name}");
  EXPECT_EQ(c.text("shop", "sw", "only_en"), "E");
  EXPECT_EQ(c.text("shop", "fr", "hello"), "Hello {name}");  // the bad file is not used
  EXPECT_EQ(c.text("shop", "sw", "kernel_help"), "Unahitaji msaada?");
  EXPECT_EQ(c.text("shop", "sw", "no_such_key"), "no_such_key");
  EXPECT_EQ(c.missing("shop", "sw"), std::vector<std::string>{"only_en"});
  ASSERT_EQ(c.problems("shop").size(), 1u);
  EXPECT_NE(c.problems("shop")[0].find("not a string"), std::string::npos);
  EXPECT_EQ(c.text("../etc", "en", "x"), "x");  // a namespace is a name, never a path
  Poco::JSON::Object p;
  p.set("name", "Asha");
  EXPECT_EQ(i18n::substitute(c.text("shop", "sw", "hello"), p), "Habari Asha");
}

// Every plugin's catalogs: valid, each language with every English key, and the same
// {placeholders} as the English text (a test that names what is missing).
TEST(Catalogs, EveryPluginCatalogIsComplete) {
  std::string root = std::string(MALIPO_SOURCE_DIR) + "/plugins";
  i18n::Catalogs c(root);
  DIR* d = opendir(root.c_str());
  ASSERT_TRUE(d);
  int checked = 0;
  std::regex ph("\\{[a-z_]+\\}");
  auto placeholders = [&](const std::string& s) {
    std::set<std::string> out;
    for (std::sregex_iterator it(s.begin(), s.end(), ph), end; it != end; ++it)
      out.insert(it->str());
    return out;
  };
  while (dirent* e = readdir(d)) {
    std::string ns = e->d_name;
    if (ns[0] == '.') continue;
    std::ifstream probe(root + "/" + ns + "/messages/en.json");
    if (!probe) continue;
    ++checked;
    EXPECT_TRUE(c.problems(ns).empty()) << ns << ": " << c.problems(ns).front();
    i18n::Catalog en = i18n::Catalogs::readFile(root + "/" + ns + "/messages/en.json");
    for (const char* lang : {"sw", "fr"}) {
      for (const auto& key : c.missing(ns, lang))
        ADD_FAILURE() << "plugins/" << ns << "/messages/" << lang << ".json lacks \"" << key
                      << "\"";
      i18n::Catalog other;
      try {
        other = i18n::Catalogs::readFile(root + "/" + ns + "/messages/" + lang + ".json");
      } catch (const std::exception& ex) {
        ADD_FAILURE() << ex.what();
      }
      for (const auto& [k, v] : other) {
        EXPECT_TRUE(en.count(k)) << ns << "/" << lang << ": \"" << k << "\" is not in en.json";
        if (en.count(k)) {
          EXPECT_EQ(placeholders(v), placeholders(en[k])) << ns << "/" << lang << ": " << k;
        }
      }
    }
  }
  closedir(d);
  EXPECT_GE(checked, 2);
  for (const char* lang : {"sw", "fr"})
    for (const auto& [k, v] : i18n::Catalogs::kernel("en"))
      EXPECT_TRUE(i18n::Catalogs::kernel(lang).count(k)) << "kernel " << lang << ": " << k;
}

TEST(Pages, LayoutCarriesLanguageBrandAndCatalogTexts) {
  TempDir dir;
  ASSERT_EQ(system(("mkdir -p " + dir.path() + "/shop/messages").c_str()), 0);
  writeFile(dir.path() + "/shop/messages/en.json", R"({"pay":"Pay {amount} to {brand}"})");
  writeFile(dir.path() + "/shop/messages/sw.json", R"({"pay":"Lipa {amount} kwa {brand}"})");
  PagesImpl pages;
  PageOptions o;
  o.brand = Brand{"Duka <Letu>", "+255 700 111 222", "msaada@duka.example"};
  o.primaryColor = "#0b5";
  o.messagesDir = dir.path();
  pages.configure(o);
  Poco::JSON::Object data;
  data.set("amount", pages.money("sw", 100000, "TZS"));
  std::string html = pages.renderPage("shop", "sw", "T", "<p id=x>{{t.pay}}</p>", data, "");
  EXPECT_NE(html.find("<html lang=\"sw\" "), std::string::npos);
  EXPECT_NE(html.find("<p id=x>Lipa TSh 1,000 kwa Duka &lt;Letu&gt;</p>"), std::string::npos)
      << html;
  EXPECT_NE(html.find("href=\"tel:+255700111222\""), std::string::npos);
  EXPECT_NE(html.find("Unahitaji msaada?"), std::string::npos);
  EXPECT_NE(html.find("background:#0b5"), std::string::npos);
  EXPECT_EQ(html.find("<script"), std::string::npos);
  // The style's hash is what the CSP allows: sha256 of the exact <style> text.
  EXPECT_EQ(pages.styleHash().rfind("'sha256-", 0), 0u);
  EXPECT_THROW(
      {
        PageOptions bad;
        bad.primaryColor = "red;}body{display:none";
        pages.configure(bad);
      },
      std::invalid_argument);
}

// Issue 20: texts stored in English (a provider's failure reason, a product's own error) are
// shown in the customer's language: translate() finds the catalog key whose English text it
// is (the plugin's catalog, then the kernel's), "{name}" matching any value; anything else is
// shown as written.
TEST(Pages, StoredEnglishTextsShowInTheCustomersLanguage) {
  TempDir dir;
  ASSERT_EQ(system(("mkdir -p " + dir.path() + "/shop/messages").c_str()), 0);
  writeFile(
      dir.path() + "/shop/messages/en.json",
      R"({"err_gone":"The order was cancelled by the shop.","err_wait":"Wait {n} min, then retry."})");
  writeFile(
      dir.path() + "/shop/messages/sw.json",
      R"({"err_gone":"Oda imeghairiwa na duka.","err_wait":"Subiri dakika {n}, kisha ujaribu tena."})");
  writeFile(
      dir.path() + "/shop/messages/fr.json",
      R"({"err_gone":"La commande a été annulée par la boutique.","err_wait":"Patientez {n} min, puis réessayez."})");
  PagesImpl pages;
  PageOptions o;
  o.messagesDir = dir.path();
  pages.configure(o);
  EXPECT_EQ(pages.translate("sw", "The payment was declined."), "Malipo yamekataliwa.");
  EXPECT_EQ(pages.translate("fr", "The payment was declined."),
            "Le paiement a \xC3\xA9t\xC3\xA9 refus\xC3\xA9.");
  EXPECT_EQ(pages.translate("sw", " Not paid yet. "), "Bado hujalipa.");
  EXPECT_EQ(pages.translate("en", "The payment was declined."), "The payment was declined.");
  // A value inside the text is carried into the translation.
  const std::string wait =
      "A payment prompt was sent recently. Please wait 37 seconds, or pay from the menu on your "
      "phone.";
  EXPECT_EQ(pages.translate("sw", wait),
            "Ombi la malipo limetumwa hivi punde. Subiri sekunde 37, au lipa kupitia menyu ya "
            "simu yako.");
  EXPECT_NE(pages.translate("fr", wait).find("Patientez 37 secondes"), std::string::npos);
  // The plugin's own texts, in its namespace (and the kernel's there too).
  EXPECT_EQ(pages.translateIn("shop", "sw", "The order was cancelled by the shop."),
            "Oda imeghairiwa na duka.");
  EXPECT_EQ(pages.translateIn("shop", "fr", "Wait 5 min, then retry."),
            "Patientez 5 min, puis r\xC3\xA9"
            "essayez.");
  EXPECT_EQ(pages.translateIn("shop", "sw", "The payment was cancelled."), "Malipo yameghairiwa.");
  // Not in any catalog: as the provider wrote it (English).
  EXPECT_EQ(pages.translateIn("shop", "sw", "Card issuer unavailable (91)."),
            "Card issuer unavailable (91).");
  EXPECT_EQ(pages.translateIn("shop", "sw", ""), "");
  EXPECT_EQ(pages.translateIn("shop", "sw", "Wait , then retry."), "Wait , then retry.");
}

// Every failure reason the kernel and the bundled providers store (`reason = "…"` in their
// sources; refunds are the operator's and stay English) is in the kernel's catalog, so a page
// shows it in Swahili and French. A provider that adds a reason gets this test's failure.
TEST(Catalogs, EveryBundledFailureReasonIsTranslated) {
  const std::string root = MALIPO_SOURCE_DIR;
  std::vector<std::string> files = {root + "/kernel/src/payments/PaymentMachine.cpp"};
  DIR* d = opendir((root + "/plugins").c_str());
  ASSERT_TRUE(d);
  while (dirent* e = readdir(d)) {
    std::string p = e->d_name;
    if (p[0] == '.') continue;
    if (DIR* src = opendir((root + "/plugins/" + p + "/src").c_str())) {
      while (dirent* f = readdir(src)) {
        std::string n = f->d_name;
        if (n.size() > 4 && n.substr(n.size() - 4) == ".cpp")
          files.push_back(root + "/plugins/" + p + "/src/" + n);
      }
      closedir(src);
    }
  }
  closedir(d);
  PagesImpl pages;
  std::regex literal(R"re(\breason = "([^"]+)";)re");
  int found = 0;
  for (const auto& file : files) {
    std::ifstream in(file);
    for (std::string line; std::getline(in, line);) {
      std::smatch m;
      if (!std::regex_search(line, m, literal)) continue;
      std::string text = m[1].str(), lower = text;
      for (char& ch : lower) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
      if (lower.find("refund") != std::string::npos) continue;
      ++found;
      for (const char* lang : {"sw", "fr"})
        EXPECT_NE(pages.translate(lang, text), text)
            << file << ": \"" << text << "\" has no " << lang << " text in the kernel's catalog";
    }
  }
  EXPECT_GE(found, 10);
}

// The language switcher: every translated page links to the others, keeping its own path and
// query (a signed ?access= link stays), without JavaScript; a page rendered without a language
// (render()) has none. A ?lang= choice comes back as a cookie, which language() reads after
// ?lang= and before Accept-Language.
TEST(Pages, LanguageSwitcherKeepsThePathAndTheChoiceSticks) {
  PagesImpl pages;
  Request req;
  req.method = "GET";
  req.path = "/api/cv-pdf/abc/status-page";
  req.rawQuery = "access=1.x%2By&lang=sw";
  req.query = {{"access", "1.x+y"}, {"lang", "sw"}};
  std::string html;
  {
    PagesImpl::CurrentRequest current(req);
    html = pages.renderIn(pages.language(req), "T", "<p>x</p>", Poco::JSON::Object());
  }
  EXPECT_NE(html.find("<nav class=\"langs\" aria-label=\"Lugha\">"), std::string::npos) << html;
  EXPECT_NE(html.find("<a href=\"/api/cv-pdf/abc/status-page?access=1.x%2By&amp;lang=en\" "
                      "lang=\"en\" hreflang=\"en\">English</a>"),
            std::string::npos)
      << html;
  EXPECT_NE(html.find("href=\"/api/cv-pdf/abc/status-page?access=1.x%2By&amp;lang=fr\""),
            std::string::npos);
  EXPECT_NE(html.find("<span lang=\"sw\" aria-current=\"true\">Kiswahili</span>"),
            std::string::npos);
  EXPECT_EQ(html.find("<script"), std::string::npos);
  {
    Request evil = req;  // a raw query is escaped in the links
    evil.rawQuery = "q=\"><script>x</script>";
    PagesImpl::CurrentRequest current(evil);
    std::string e = pages.renderIn("en", "T", "<p>x</p>", Poco::JSON::Object());
    EXPECT_EQ(e.find("<script"), std::string::npos) << e;
    EXPECT_NE(e.find("?q=&quot;&gt;&lt;script&gt;x&lt;/script&gt;&amp;lang=sw\""),
              std::string::npos)
        << e;
  }
  EXPECT_EQ(pages.render("T", "<p>x</p>", Poco::JSON::Object()).find("class=\"langs\""),
            std::string::npos);

  Response resp = Response::html(200, html);
  PagesImpl::rememberLanguage(req, resp);
  std::string cookie;
  for (const auto& [n, v] : resp.headers)
    if (n == "Set-Cookie") cookie = v;
  EXPECT_EQ(cookie, "malipo_lang=sw; Path=/; Max-Age=31536000; SameSite=Lax; HttpOnly");
  Request unsupported;
  unsupported.query = {{"lang", "de"}};
  Response none = Response::html(200, "");
  PagesImpl::rememberLanguage(unsupported, none);
  EXPECT_TRUE(none.headers.empty());

  Request next;  // the flow's next page: no ?lang=, the cookie, a French browser
  next.headers["Cookie"] = "a=b; malipo_lang=sw; c=d";
  next.headers["Accept-Language"] = "fr-FR,fr;q=0.9";
  EXPECT_EQ(pages.language(next), "sw");
  next.query = {{"lang", "en"}};
  EXPECT_EQ(pages.language(next), "en");  // a new ?lang= wins
  next.query.clear();
  next.headers["Cookie"] = "malipo_lang=zz";
  EXPECT_EQ(pages.language(next), "fr");  // a cookie naming no language: Accept-Language
}

TEST(SecurityHeaders, FrameAncestorsOnlyUnderFrameablePaths) {
  SecurityOptions o;
  o.frameAncestors = {"https://shop.example", ""};
  o.frameablePaths = {"/payments/flutterwave/return"};
  EXPECT_TRUE(frameablePath(o, "/payments/flutterwave/return"));
  EXPECT_TRUE(frameablePath(o, "/payments/flutterwave/return/x"));
  EXPECT_FALSE(frameablePath(o, "/payments/flutterwave/return.js"));
  EXPECT_FALSE(frameablePath(o, "/api/cv-pdf/x/payment-page"));
  EXPECT_NE(contentSecurityPolicy(o, "/payments/flutterwave/return")
                .find("frame-ancestors 'self' https://shop.example"),
            std::string::npos);
  EXPECT_NE(contentSecurityPolicy(o, "/api/x").find("frame-ancestors 'none'"), std::string::npos);
  Response json = Response::text(200, "{}", "application/json");
  addSecurityHeaders(o, "/api/x", json);
  Response html = Response::html(200, "<p>");
  html.header("Referrer-Policy", "no-referrer");  // a handler's own wins
  addSecurityHeaders(o, "/api/x", html);
  auto get = [](const Response& r, const std::string& k) {
    std::string v;
    for (const auto& [n, val] : r.headers)
      if (n == k) v = val;
    return v;
  };
  EXPECT_EQ(get(json, "X-Content-Type-Options"), "nosniff");
  EXPECT_EQ(get(json, "Content-Security-Policy"), "");
  EXPECT_EQ(get(html, "Referrer-Policy"), "no-referrer");
  EXPECT_EQ(get(html, "X-Frame-Options"), "DENY");
  EXPECT_NE(get(html, "Content-Security-Policy").find("script-src 'self';"), std::string::npos);
}

// Through HTTP: the kernel's own page (sandbox index) in the configured language, the brand's
// logo served, every answer with the headers.
TEST(PagesHttp, HeadersLanguageAndLogo) {
  TempDir dir;
  writeFile(dir.file("logo.svg"),
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"8\" height=\"8\"/>");
  std::string yaml =
      "server: {listen: 127.0.0.1:0, access_log: false}\n"
      "database: {url: \"sqlite:" +
      dir.file("k.db") +
      "\"}\n"
      "log: {level: error}\n"
      "sandbox: true\n"
      "brand: {name: Duka, support_phone: \"+233 20 000 0000\", logo: \"" +
      dir.file("logo.svg") +
      "\"}\n"
      "pages: {default_language: fr, frame_ancestors: [\"http://127.0.0.1:1\"], "
      "frameable_paths: [/healthz]}\n";
  Kernel k(ConfigLoader::loadString(yaml, "pages.yaml"));
  k.open();
  k.start();
  HttpResult index = http(k.port(), "GET", "/");
  ASSERT_EQ(index.status, 200);
  EXPECT_NE(index.body.find("<html lang=\"fr\" "), std::string::npos);
  EXPECT_NE(index.body.find("Besoin d&#39;aide ?"), std::string::npos);
  EXPECT_NE(index.body.find("<img src=\"/brand/logo\""), std::string::npos);
  std::string csp = index.header("Content-Security-Policy");
  EXPECT_NE(csp.find("frame-ancestors 'none'"), std::string::npos) << csp;
  EXPECT_NE(csp.find("default-src 'self'"), std::string::npos);
  EXPECT_EQ(csp.find("unsafe-inline"), std::string::npos);
  EXPECT_EQ(index.header("X-Content-Type-Options"), "nosniff");
  EXPECT_EQ(index.header("Referrer-Policy"), "same-origin");
  EXPECT_EQ(index.header("X-Frame-Options"), "DENY");
  // The style in the page is the one the CSP's hash names.
  std::size_t a = index.body.find("<style>") + 7, b = index.body.find("</style>");
  EXPECT_NE(csp.find("style-src 'self' 'sha256-"), std::string::npos);
  EXPECT_GT(b, a);
  HttpResult logo = http(k.port(), "GET", "/brand/logo");
  EXPECT_EQ(logo.status, 200);
  EXPECT_EQ(logo.header("Content-Type").rfind("image/svg+xml", 0), 0u);
  EXPECT_NE(logo.body.find("<svg"), std::string::npos);
  EXPECT_EQ(http(k.port(), "GET", "/healthz").header("X-Content-Type-Options"), "nosniff");
  // A ?lang= choice comes back as the language cookie, on any answer.
  EXPECT_EQ(http(k.port(), "GET", "/?lang=sw").header("Set-Cookie"),
            "malipo_lang=sw; Path=/; Max-Age=31536000; SameSite=Lax; HttpOnly");
  EXPECT_EQ(http(k.port(), "GET", "/").header("Set-Cookie"), "");
}

TEST(PagesHttp, BadBrandSettingsStopStartUp) {
  TempDir dir;
  std::string base = "server: {listen: 127.0.0.1:0}\ndatabase: {url: \"sqlite:" + dir.file("k.db") +
                     "\"}\nlog: {level: error}\n";
  EXPECT_THROW(
      {
        Kernel k(ConfigLoader::loadString(base + "brand: {primary_color: blue}\n", "a.yaml"));
        k.open();
      },
      std::exception);
  EXPECT_THROW(
      {
        Kernel k(
            ConfigLoader::loadString(base + "brand: {logo: /nonexistent/logo.png}\n", "b.yaml"));
        k.open();
      },
      std::exception);
}

}  // namespace
}  // namespace malipo::test
