// JSON data as mstch sees it: what pages and the console render.
#include <Poco/JSON/Array.h>
#include <gtest/gtest.h>

#include "http/TemplateData.hpp"

using namespace malipo;

TEST(TemplateData, IntegersPastTwoToThe31RenderAsTheirDigits) {
  Poco::JSON::Object o;
  o.set("amount_minor", static_cast<Poco::Int64>(3000000000LL));  // TZS 30,000,000.00
  o.set("negative", static_cast<Poco::Int64>(-5000000000LL));
  o.set("unsigned", static_cast<Poco::UInt64>(4294967296ULL));
  o.set("small", 42);
  EXPECT_EQ(mstch::render("{{amount_minor}} {{negative}} {{unsigned}} {{small}}", templateData(o)),
            "3000000000 -5000000000 4294967296 42");
}

TEST(TemplateData, ZeroIsFalsyAndAnyOtherNumberTruthyInASection) {
  Poco::JSON::Object o;
  o.set("zero", 0).set("big", static_cast<Poco::Int64>(3000000000LL)).set("one", 1);
  EXPECT_EQ(
      mstch::render("{{#zero}}z{{/zero}}{{^zero}}!z{{/zero}}{{#big}}b{{/big}}{{#one}}o{{/one}}",
                    templateData(o)),
      "!zbo");
}

TEST(TemplateData, NestedObjectsAndArraysByPointerOrByValue) {
  Poco::JSON::Object::Ptr inner = new Poco::JSON::Object;
  inner->set("name", "Asha");
  Poco::JSON::Array list;
  list.add(Poco::JSON::Object().set("n", 1));
  list.add(Poco::JSON::Object().set("n", 2));
  Poco::JSON::Object o;
  o.set("who", inner).set("items", list).set("yes", true).set("nothing", Poco::Dynamic::Var());
  EXPECT_EQ(mstch::render(
                "{{who.name}}:{{#items}}{{n}}{{/items}}:{{#yes}}y{{/yes}}{{^nothing}}-{{/nothing}}",
                templateData(o)),
            "Asha:12:y-");
}
