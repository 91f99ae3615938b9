// The USSD menu as a pure state machine: which screen to show for a step and an answer.
// Menus are built from what products offer the `ussd_menu` channel (Payments::catalog):
//
//   <title>
//   1. <item> - GHS 10.00          one entry per item, across products
//   …
//   4. Check my balance            one per product that answers accountSummary
//   99. More                       when the entries do not fit one page
//   0. Exit
//
// then (for items sold by quantity) "Enter quantity (1-1000)", then a confirmation, then
// checkout. The provider carries out the effects this module asks for (show a balance,
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
};

// `configured` with every text still at its built-in (English) default replaced by the
// catalog's `ussd_<setting>` in `lang` (messages/<lang>.json): an operator's own text wins.
Texts localized(const Texts& configured, const Pages& pages, const std::string& lang);

// Where a session is. Encoded into ClientState (and the session row) as
//   "M<page>" | "Q|<product>|<item id>" | "C|<product>|<qty>|<item id>".
struct Step {
  enum class Kind { main, quantity, confirm } kind = Kind::main;
  int page = 0;
  std::string product, itemId;
  std::int64_t qty = 1;
};
std::string encodeStep(const Step& step);
std::optional<Step> decodeStep(const std::string& text);

struct Menu {
  std::vector<ChannelItem> items;            // sellable items (GHS), in catalog order
  std::vector<std::string> balanceProducts;  // products with a "Check my balance" entry
  Texts texts;
  std::int64_t maxQuantity = 1000;
  int pageSize = 6;
  // Whether an item may be bought in quantities > 1 (its product's metadata scales).
  std::function<bool(const ChannelItem&)> sellsQuantity;

  const ChannelItem* find(const std::string& product, const std::string& itemId) const;
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

Outcome mainMenu(const Menu& menu, int page, const std::string& notice = "");
Outcome advance(const Menu& menu, const Step& at, const std::string& input);
// The AddToCart reply for a checkout (seed format; Price is the unit price).
Reply addToCart(const Texts& texts, const std::string& itemName, std::int64_t qty,
                std::int64_t unitPriceMinor);

}  // namespace malipo::hubtel
