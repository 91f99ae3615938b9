#include "http/ClientAddress.hpp"

#include <arpa/inet.h>

#include <cstring>
#include <stdexcept>

namespace malipo {

namespace {

std::string trim(const std::string& s) {
  std::size_t a = s.find_first_not_of(" \t"), b = s.find_last_not_of(" \t");
  return a == std::string::npos ? std::string() : s.substr(a, b - a + 1);
}

// text → 4 or 16 bytes; IPv4-mapped IPv6 as IPv4.
bool parse(const std::string& raw, bool& v6, unsigned char out[16]) {
  std::string t = trim(raw);
  if (!t.empty() && t.front() == '[') {
    std::size_t close = t.find(']');
    if (close == std::string::npos) return false;
    t = t.substr(1, close - 1);
  } else if (t.find('.') != std::string::npos && t.find(':') != std::string::npos &&
             t.find(':') == t.rfind(':')) {
    t = t.substr(0, t.find(':'));  // v4:port
  }
  in_addr a4{};
  if (inet_pton(AF_INET, t.c_str(), &a4) == 1) {
    v6 = false;
    std::memcpy(out, &a4, 4);
    return true;
  }
  in6_addr a6{};
  if (inet_pton(AF_INET6, t.c_str(), &a6) != 1) return false;
  static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  if (std::memcmp(a6.s6_addr, mapped, 12) == 0) {
    v6 = false;
    std::memcpy(out, a6.s6_addr + 12, 4);
    return true;
  }
  v6 = true;
  std::memcpy(out, a6.s6_addr, 16);
  return true;
}

std::string format(bool v6, const unsigned char a[16]) {
  char buf[INET6_ADDRSTRLEN];
  inet_ntop(v6 ? AF_INET6 : AF_INET, a, buf, sizeof buf);
  return buf;
}

}  // namespace

TrustedProxies::TrustedProxies(const std::vector<std::string>& cidrs, const std::string& setting) {
  for (const auto& c : cidrs) {
    Net n;
    std::string addr = trim(c);
    std::size_t slash = addr.find('/');
    std::string bits = slash == std::string::npos ? "" : addr.substr(slash + 1);
    if (slash != std::string::npos) addr = addr.substr(0, slash);
    if (addr.empty() || addr.front() == '[' || !parse(addr, n.v6, n.addr) ||
        addr.find(']') != std::string::npos)
      throw std::invalid_argument(setting + ": '" + c + "' is not an IP address or CIDR");
    const int max = n.v6 ? 128 : 32;
    n.bits = max;
    if (!bits.empty()) {
      if (bits.size() > 3 || bits.find_first_not_of("0123456789") != std::string::npos ||
          std::stoi(bits) > max)
        throw std::invalid_argument(setting + ": '" + c + "' has a bad prefix length");
      n.bits = std::stoi(bits);
    } else if (slash != std::string::npos) {
      throw std::invalid_argument(setting + ": '" + c + "' has a bad prefix length");
    }
    nets_.push_back(n);
  }
}

bool TrustedProxies::contains(const std::string& ip) const {
  if (nets_.empty()) return false;
  bool v6 = false;
  unsigned char a[16];
  if (!parse(ip, v6, a)) return false;
  for (const auto& n : nets_) {
    if (n.v6 != v6) continue;
    int full = n.bits / 8, rest = n.bits % 8;
    if (std::memcmp(a, n.addr, static_cast<std::size_t>(full)) != 0) continue;
    if (rest) {
      unsigned char mask = static_cast<unsigned char>(0xff << (8 - rest));
      if ((a[full] & mask) != (n.addr[full] & mask)) continue;
    }
    return true;
  }
  return false;
}

bool canonicalIp(const std::string& text, std::string& out) {
  bool v6 = false;
  unsigned char a[16];
  if (!parse(text, v6, a)) return false;
  out = format(v6, a);
  return true;
}

std::string clientAddress(const std::string& peer, const std::string& forwardedFor,
                          const TrustedProxies& proxies) {
  if (proxies.empty() || forwardedFor.empty() || !proxies.contains(peer)) return peer;
  std::string current = peer;
  std::size_t end = forwardedFor.size();
  for (;;) {
    std::size_t comma = end == 0 ? std::string::npos : forwardedFor.rfind(',', end - 1);
    std::size_t start = comma == std::string::npos ? 0 : comma + 1;
    std::string entry = trim(forwardedFor.substr(start, end - start));
    std::string ip;
    if (!canonicalIp(entry, ip))
      return current;  // garbage: the proxy that passed it on is the client
    if (!proxies.contains(ip)) return ip;
    current = ip;
    if (comma == std::string::npos) return current;
    end = comma;
  }
}

}  // namespace malipo
