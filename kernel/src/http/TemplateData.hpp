// JSON data for mstch templates, shared by the customer pages and the operator console.
#pragma once

#include <Poco/JSON/Object.h>

#include <mstch/mstch.hpp>

namespace malipo {

// Objects become maps, arrays arrays, booleans booleans. An integer stays an mstch int when it
// fits one (so a zero is falsy in a section, as mustache means) and becomes its decimal text
// otherwise: amounts in minor units pass 2^31 (TZS 30,000,000.00), and a text is truthy, as any
// non-zero number is.
mstch::map templateData(const Poco::JSON::Object& o);

}  // namespace malipo
