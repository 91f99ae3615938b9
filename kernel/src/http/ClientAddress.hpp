// The client address of a request, decided in one place for every allow-list and rate
// limiter (Request::clientIp).
//
// Without trusted proxies it is the socket peer, whatever the headers say. When the peer is a
// trusted proxy (server.trusted_proxies: CIDRs, IPv4 or IPv6), X-Forwarded-For is walked from
// the right, skipping trusted proxies, and the first other address is the client: the one the
// nearest trusted proxy saw. Entries a client wrote itself sit to the left of it and are never
// reached. An entry that is not an IP address stops the walk at the proxy that passed it on.
#pragma once

#include <string>
#include <vector>

namespace malipo {

class TrustedProxies {
 public:
  TrustedProxies() = default;
  // Throws std::invalid_argument naming the entry that is not an address or CIDR (and
  // `setting`, the list it came from). Also the set behind the kernel's webhook allow-lists.
  explicit TrustedProxies(const std::vector<std::string>& cidrs,
                          const std::string& setting = "server.trusted_proxies");
  bool contains(const std::string& ip) const;
  bool empty() const { return nets_.empty(); }

 private:
  struct Net {
    bool v6 = false;
    unsigned char addr[16] = {};
    int bits = 0;
  };
  std::vector<Net> nets_;
};

// Parses an IPv4 or IPv6 address (IPv4-mapped IPv6 becomes IPv4; "[v6]", "v4:port" and
// "[v6]:port" are accepted) into its canonical text; false when it is not an address.
bool canonicalIp(const std::string& text, std::string& out);

std::string clientAddress(const std::string& peer, const std::string& forwardedFor,
                          const TrustedProxies& proxies);

}  // namespace malipo
