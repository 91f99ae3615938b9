#include "hubtel_menu.hpp"

#include <algorithm>
#include <cctype>

namespace malipo::hubtel {

namespace {

const int kMoreChoice = 99;
const int kLanguageChoice = 98;

std::string trim(const std::string& s) {
  std::size_t a = s.find_first_not_of(" \t\r\n");
  if (a == std::string::npos) return {};
  std::size_t b = s.find_last_not_of(" \t\r\n");
  return s.substr(a, b - a + 1);
}

// A plain positive number as a customer types it ("05" is 5); nullopt for anything else.
std::optional<std::int64_t> number(const std::string& raw) {
  std::string s = trim(raw);
  if (s.empty() || s.size() > 7) return std::nullopt;
  std::int64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + (c - '0');
  }
  return v;
}

std::vector<std::pair<std::string, std::string>> itemVars(const ChannelItem& ci, std::int64_t qty,
                                                          std::int64_t max) {
  return {{"name", ci.item.name},
          {"price", minorToCedis(ci.item.amountMinor)},
          {"currency", kCurrency},
          {"qty", std::to_string(qty)},
          {"total", minorToCedis(ci.item.amountMinor * qty)},
          {"max", std::to_string(max)},
          {"product", ci.product}};
}

Outcome show(const std::string& message, const std::string& label, const Step& next,
             const std::string& fieldType = "text") {
  Outcome o;
  o.kind = Outcome::Kind::show;
  o.reply.type = "response";
  o.reply.message = message;
  o.reply.label = label;
  o.reply.dataType = "input";
  o.reply.fieldType = fieldType;
  o.next = next;
  return o;
}

Outcome release(const std::string& message, const std::string& label = "") {
  Outcome o;
  o.kind = Outcome::Kind::release;
  o.reply = Reply::release("", message, label);
  return o;
}

Outcome invalid(Outcome o) {
  o.invalidInput = true;
  return o;
}

std::string withNotice(const std::string& notice, const std::string& text) {
  return notice.empty() ? text : notice + "\n" + text;
}

Outcome quantityPrompt(const Menu& menu, const ChannelItem& ci, const std::string& lang,
                       const std::string& notice = "") {
  const Texts& t = menu.textsFor(lang);
  Step next;
  next.kind = Step::Kind::quantity;
  next.product = ci.product;
  next.itemId = ci.item.id;
  next.lang = lang;
  return show(withNotice(notice, fill(t.quantityPrompt, itemVars(ci, 1, menu.maxQuantity))),
              t.quantityLabel, next, "number");
}

Outcome confirmPrompt(const Menu& menu, const ChannelItem& ci, std::int64_t qty,
                      const std::string& lang, const std::string& notice = "") {
  const Texts& t = menu.textsFor(lang);
  Step next;
  next.kind = Step::Kind::confirm;
  next.product = ci.product;
  next.itemId = ci.item.id;
  next.qty = qty;
  next.lang = lang;
  return show(withNotice(notice, fill(t.confirmPrompt, itemVars(ci, qty, menu.maxQuantity))),
              t.confirmLabel, next, "number");
}

Outcome languageScreen(const Menu& menu, const std::string& lang, const std::string& notice = "") {
  const Texts& t = menu.textsFor(lang);
  std::string text = withNotice(notice, t.languagePrompt);
  for (std::size_t i = 0; i < menu.languages.size(); ++i)
    text += "\n" + std::to_string(i + 1) + ". " + menu.languages[i].name;
  Step next;
  next.kind = Step::Kind::language;
  next.lang = lang;
  return show(text, t.languageLabel, next, "number");
}

bool offersLanguages(const Menu& menu) {
  return menu.languages.size() >= 2;
}

std::size_t entryCount(const Menu& menu) {
  return menu.items.size() + menu.balanceProducts.size();
}

}  // namespace

std::string encodeStep(const Step& s) {
  const std::string lang = s.lang.empty() ? std::string() : s.lang + ":";
  switch (s.kind) {
    case Step::Kind::main:
      return lang + "M" + std::to_string(s.page);
    case Step::Kind::quantity:
      return lang + "Q|" + s.product + "|" + s.itemId;
    case Step::Kind::confirm:
      return lang + "C|" + s.product + "|" + std::to_string(s.qty) + "|" + s.itemId;
    case Step::Kind::language:
      return lang + "L";
  }
  return lang + "M0";
}

std::optional<Step> decodeStep(const std::string& text) {
  Step s;
  std::string t = text;
  // "<lang>:" first: two lowercase letters (a step never starts so otherwise).
  if (t.size() >= 3 && t[2] == ':' && std::islower(static_cast<unsigned char>(t[0])) &&
      std::islower(static_cast<unsigned char>(t[1]))) {
    s.lang = t.substr(0, 2);
    t = t.substr(3);
  }
  if (t == "L") {
    s.kind = Step::Kind::language;
    return s;
  }
  if (t.size() >= 2 && t[0] == 'M') {
    auto page = number(t.substr(1));
    if (!page || *page > 1000) return std::nullopt;
    s.page = static_cast<int>(*page);
    return s;
  }
  if (t.rfind("Q|", 0) == 0) {
    std::size_t bar = t.find('|', 2);
    if (bar == std::string::npos) return std::nullopt;
    s.kind = Step::Kind::quantity;
    s.product = t.substr(2, bar - 2);
    s.itemId = t.substr(bar + 1);
    if (s.product.empty() || s.itemId.empty()) return std::nullopt;
    return s;
  }
  if (t.rfind("C|", 0) == 0) {
    std::size_t b1 = t.find('|', 2);
    if (b1 == std::string::npos) return std::nullopt;
    std::size_t b2 = t.find('|', b1 + 1);
    if (b2 == std::string::npos) return std::nullopt;
    auto qty = number(t.substr(b1 + 1, b2 - b1 - 1));
    s.kind = Step::Kind::confirm;
    s.product = t.substr(2, b1 - 2);
    s.itemId = t.substr(b2 + 1);
    if (!qty || *qty < 1 || s.product.empty() || s.itemId.empty()) return std::nullopt;
    s.qty = *qty;
    return s;
  }
  return std::nullopt;
}

const Texts& Menu::textsFor(const std::string& lang) const {
  if (!lang.empty())
    for (const auto& l : languages)
      if (l.code == lang) return l.texts;
  return texts;
}

const ChannelItem* Menu::find(const std::string& product, const std::string& itemId) const {
  for (const auto& ci : items)
    if (ci.product == product && ci.item.id == itemId) return &ci;
  return nullptr;
}

Outcome mainMenu(const Menu& menu, int page, const std::string& notice, const std::string& lang) {
  const Texts& t = menu.textsFor(lang);
  std::size_t n = entryCount(menu);
  std::size_t size = static_cast<std::size_t>(std::max(1, menu.pageSize));
  std::size_t pages = n == 0 ? 1 : (n + size - 1) / size;
  if (page < 0 || static_cast<std::size_t>(page) >= pages) page = 0;
  std::string text = withNotice(notice, t.title);
  if (n == 0) text += "\n" + t.noItems;
  std::size_t start = static_cast<std::size_t>(page) * size, end = std::min(n, start + size);
  for (std::size_t i = start; i < end; ++i) {
    std::string label;
    if (i < menu.items.size()) {
      label = fill(t.itemFormat, itemVars(menu.items[i], 1, menu.maxQuantity));
    } else {
      const std::string& product = menu.balanceProducts[i - menu.items.size()];
      label = menu.balanceProducts.size() == 1
                  ? t.balanceEntry
                  : fill(t.balanceEntryProduct, {{"product", product}});
    }
    text += "\n" + std::to_string(i + 1) + ". " + label;
  }
  if (end < n) text += "\n" + std::to_string(kMoreChoice) + ". " + t.moreEntry;
  if (page == 0 && offersLanguages(menu))
    text += "\n" + std::to_string(kLanguageChoice) + ". " + t.languageEntry;
  text += "\n0. " + t.exitEntry;
  Step next;
  next.page = page;
  next.lang = lang;
  return show(text, t.mainLabel, next);
}

Outcome advance(const Menu& menu, const Step& at, const std::string& input) {
  const Texts& t = menu.textsFor(at.lang);
  const std::string& lang = at.lang;
  auto choice = number(input);
  switch (at.kind) {
    case Step::Kind::main: {
      std::size_t n = entryCount(menu);
      std::size_t size = static_cast<std::size_t>(std::max(1, menu.pageSize));
      if (choice && *choice == 0) return release(t.goodbye);
      if (choice && *choice == kMoreChoice && static_cast<std::size_t>(at.page + 1) * size < n)
        return mainMenu(menu, at.page + 1, "", lang);
      if (choice && *choice == kLanguageChoice && offersLanguages(menu))
        return languageScreen(menu, lang);
      // Any entry number counts, whichever page shows it: the numbers are stable.
      if (choice && *choice >= 1 && static_cast<std::size_t>(*choice) <= n &&
          *choice != kMoreChoice && *choice != kLanguageChoice) {
        std::size_t i = static_cast<std::size_t>(*choice - 1);
        if (i < menu.items.size()) {
          const ChannelItem& ci = menu.items[i];
          bool byQuantity = menu.maxQuantity > 1 && menu.sellsQuantity && menu.sellsQuantity(ci);
          return byQuantity ? quantityPrompt(menu, ci, lang) : confirmPrompt(menu, ci, 1, lang);
        }
        Outcome o;
        o.kind = Outcome::Kind::balance;
        o.product = menu.balanceProducts[i - menu.items.size()];
        o.next = at;
        return o;
      }
      return invalid(mainMenu(menu, at.page, t.invalidChoice, lang));
    }
    case Step::Kind::language: {
      if (choice && *choice >= 1 && static_cast<std::size_t>(*choice) <= menu.languages.size())
        return mainMenu(menu, 0, "", menu.languages[static_cast<std::size_t>(*choice - 1)].code);
      return invalid(languageScreen(menu, lang, t.invalidChoice));
    }
    case Step::Kind::quantity: {
      const ChannelItem* ci = menu.find(at.product, at.itemId);
      if (!ci) return release(t.itemGone);
      if (choice && *choice >= 1 && *choice <= menu.maxQuantity)
        return confirmPrompt(menu, *ci, *choice, lang);
      return invalid(quantityPrompt(menu, *ci, lang, t.invalidQuantity));
    }
    case Step::Kind::confirm: {
      const ChannelItem* ci = menu.find(at.product, at.itemId);
      if (!ci) return release(t.itemGone);
      if (at.qty < 1 || at.qty > std::max<std::int64_t>(1, menu.maxQuantity))
        return release(t.itemGone);
      if (choice && *choice == 1) {
        Outcome o;
        o.kind = Outcome::Kind::checkout;
        o.item = *ci;
        o.qty = at.qty;
        o.next = at;
        return o;
      }
      if (choice && *choice == 2) return release(t.cancelled);
      return invalid(confirmPrompt(menu, *ci, at.qty, lang, t.invalidChoice));
    }
  }
  return mainMenu(menu, 0, "", lang);
}

Reply addToCart(const Texts& texts, const std::string& itemName, std::int64_t qty,
                std::int64_t unitPriceMinor) {
  Reply r;
  r.type = "AddToCart";
  r.message = fill(texts.checkoutMessage, {{"name", itemName},
                                           {"qty", std::to_string(qty)},
                                           {"price", minorToCedis(unitPriceMinor)},
                                           {"total", minorToCedis(unitPriceMinor * qty)},
                                           {"currency", kCurrency}});
  r.label = texts.checkoutLabel;
  r.dataType = "display";
  r.fieldType = "text";
  r.hasItem = true;
  r.itemName = itemName;
  r.qty = qty;
  r.unitPriceMinor = unitPriceMinor;
  return r;
}

Texts localized(const Texts& configured, const Pages& pages, const std::string& lang) {
  static const Texts builtIn;
  Texts out = configured;
  auto pick = [&](std::string Texts::*m, const std::string& key) {
    if (configured.*m != builtIn.*m) return;  // the operator's own text
    std::string t = pages.text(lang, "ussd_" + key);
    if (!t.empty() && t != "ussd_" + key) out.*m = t;
  };
  pick(&Texts::mainLabel, "main_label");
  pick(&Texts::itemFormat, "item_format");
  pick(&Texts::balanceEntry, "balance_entry");
  pick(&Texts::balanceEntryProduct, "balance_entry_product");
  pick(&Texts::exitEntry, "exit_entry");
  pick(&Texts::moreEntry, "more_entry");
  pick(&Texts::quantityPrompt, "quantity_prompt");
  pick(&Texts::quantityLabel, "quantity_label");
  pick(&Texts::confirmPrompt, "confirm_prompt");
  pick(&Texts::confirmLabel, "confirm_label");
  pick(&Texts::checkoutMessage, "checkout_message");
  pick(&Texts::checkoutLabel, "checkout_label");
  pick(&Texts::balanceLabel, "balance_label");
  pick(&Texts::goodbye, "goodbye");
  pick(&Texts::cancelled, "cancelled");
  pick(&Texts::invalidChoice, "invalid_choice");
  pick(&Texts::invalidQuantity, "invalid_quantity");
  pick(&Texts::noItems, "no_items");
  pick(&Texts::itemGone, "item_gone");
  pick(&Texts::balanceUnavailable, "balance_unavailable");
  pick(&Texts::unsupported, "unsupported");
  pick(&Texts::languageEntry, "language_entry");
  pick(&Texts::languagePrompt, "language_prompt");
  pick(&Texts::languageLabel, "language_label");
  return out;
}

std::vector<MenuLanguage> menuLanguages(const Texts& configured, const Pages& pages) {
  return {{"en", "English", localized(configured, pages, "en")},
          {"sw", "Kiswahili", localized(configured, pages, "sw")},
          {"fr", "Fran\u00e7ais", localized(configured, pages, "fr")}};
}

}  // namespace malipo::hubtel
