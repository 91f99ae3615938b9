// The USSD menu as a pure state machine: which screen to show for a step and an answer.
// Menus are built from what products offer the `ussd_menu` channel (Payments::catalog):
//
//   <title>
//   1. <item> - GHS 10.00          one entry per item, across products
//   …
//   4. Check my balance            one per product that answers accountSummary
//   99. More                       when the entries do not fit one page
//   98. Kiswahili / Français        the other languages (first page; Menu::languages)
//   0. Exit
//
// then (for items sold by quantity) "Enter quantity (1-1000)", then a confirmation, then
// checkout. 98 opens "1. English 2. Kiswahili 3. Français": the chosen language is kept in
// the session's step (ClientState and the session row) until the session ends. The provider
// carries out the effects this module asks for (show a balance,
// create the payment); nothing here does I/O, so the flows are unit-tested directly.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "hubtel_wire.hpp"
#include "malipo/pages.hpp"
#include "malipo/payments.hpp"

namespace malipo::hubtel {

// Every text the customer reads, from the `texts` settings. {placeholders} are filled in.
struct Texts {
  std::string title = "Malipo";
  std::string mainLabel = "Main Menu";
  std::string itemFormat = "{name} - {currency} {price}";
  std::string balanceEntry = "Check my balance";
  std::string balanceEntryProduct = "Check my {product} balance";  // when several products answer
  std::string exitEntry = "Exit";
  std::string moreEntry = "More";
  std::string quantityPrompt = "{name} at {currency} {price} each.\nEnter quantity (1-{max}):";
  std::string quantityLabel = "Quantity";
  std::string confirmPrompt =
      "Buy {qty} x {name}\nTotal: {currency} {total}\n1. Confirm\n2. Cancel";
  std::string confirmLabel = "Confirm";
  std::string checkoutMessage =
      "Please complete payment:\n\nItem: {name}\nQuantity: {qty}\nUnit Price: {currency} "
      "{price}\nTotal: {currency} "
      "{total}\n\nYou will receive a payment prompt.";
  std::string checkoutLabel = "Payment Checkout";
  std::string balanceLabel = "Balance";
  std::string goodbye = "Thank you. Goodbye.";
  std::string cancelled = "Purchase cancelled.";
  std::string invalidChoice = "Invalid choice.";
  std::string invalidQuantity = "Invalid quantity.";
  std::string noItems = "Nothing is on sale right now.";
  std::string itemGone = "This item is no longer available. Please dial again.";
  std::string balanceUnavailable = "Your balance is not available right now.";
  std::string unsupported =
      "This service does not offer that here. Please dial the code to use it.";
  // The main menu's entry to the language screen: the other languages, each in its own words.
  std::string languageEntry = "Kiswahili / Fran\u00e7ais";
  std::string languagePrompt = "Choose your language:";
  std::string languageLabel = "Language";
};

// `configured` with every text still at its built-in (English) default replaced by the
// catalog's `ussd_<setting>` in `lang` (messages/<lang>.json): an operator's own text wins.
Texts localized(const Texts& configured, const Pages& pages, const std::string& lang);

// Where a session is. Encoded into ClientState (and the session row) as
//   "M<page>" | "Q|<product>|<item id>" | "C|<product>|<qty>|<item id>" | "L",
// after "<lang>:" once the customer chose a language ("sw:M0"; none: the default one).
struct Step {
  enum class Kind { main, quantity, confirm, language } kind = Kind::main;
  int page = 0;
  std::string product, itemId;
  std::int64_t qty = 1;
  std::string lang;  // the customer's choice (en, sw, fr); "": Menu::texts
};
std::string encodeStep(const Step& step);
std::optional<Step> decodeStep(const std::string& text);

// A language the customer may choose: its code, its name in its own words, its texts.
struct MenuLanguage {
  std::string code, name;
  Texts texts;
};
// en, sw, fr: `configured` localized into each (see localized()).
std::vector<MenuLanguage> menuLanguages(const Texts& configured, const Pages& pages);

struct Menu {
  std::vector<ChannelItem> items;            // sellable items (GHS), in catalog order
  std::vector<std::string> balanceProducts;  // products with a "Check my balance" entry
  Texts texts;                               // the default language's
  std::vector<MenuLanguage> languages;       // the choice (98); fewer than two: no choice
  std::int64_t maxQuantity = 1000;
  int pageSize = 6;
  // Whether an item may be bought in quantities > 1 (its product's metadata scales).
  std::function<bool(const ChannelItem&)> sellsQuantity;

  const ChannelItem* find(const std::string& product, const std::string& itemId) const;
  // The texts of a step's language (its choice, else the default's).
  const Texts& textsFor(const std::string& lang) const;
};

// What to do next.
struct Outcome {
  enum class Kind {
    show,      // reply (Type response) and stay in `next`
    release,   // reply (Type release): the session ends
    balance,   // look up `product`'s account summary, then release
    checkout,  // create the payment for `qty` × `item`, then AddToCart
  } kind = Kind::show;
  Reply reply;  // for show / release (SessionId and ClientState are the caller's)
  Step next;
  std::string product;
  ChannelItem item;
  std::int64_t qty = 1;
  bool invalidInput = false;  // the screen repeats because the answer was not understood
};

Outcome mainMenu(const Menu& menu, int page, const std::string& notice = "",
                 const std::string& lang = "");
Outcome advance(const Menu& menu, const Step& at, const std::string& input);
// The AddToCart reply for a checkout (seed format; Price is the unit price).
Reply addToCart(const Texts& texts, const std::string& itemName, std::int64_t qty,
                std::int64_t unitPriceMinor);

}  // namespace malipo::hubtel
