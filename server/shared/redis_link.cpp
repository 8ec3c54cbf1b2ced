#include "server/shared/redis_link.hpp"

#include <string.h>  // explicit_bzero
#include <sys/time.h>

#include <vector>

namespace ringftpd::server::shared {
namespace {

timeval to_timeval(std::chrono::milliseconds ms) {
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(ms.count() / 1000);
  tv.tv_usec = static_cast<suseconds_t>(ms.count() % 1000 * 1000);
  return tv;
}

}  // namespace

std::string_view reply_text(const redisReply& r) noexcept {
  if (r.type == REDIS_REPLY_STRING || r.type == REDIS_REPLY_STATUS || r.type == REDIS_REPLY_ERROR) {
    return {r.str, r.len};
  }
  return {};
}

RedisLink::RedisLink(RedisLinkOptions options) : options_(std::move(options)) {}

RedisLink::~RedisLink() {
  explicit_bzero(options_.password.data(), options_.password.size());
}

std::string RedisLink::describe() const {
  const config::RedisEndpoint& e = options_.endpoint;
  if (e.kind == config::RedisEndpoint::Kind::Unix) return "unix:" + e.path;
  return "tcp:" + e.host + ":" + std::to_string(e.port);
}

bool RedisLink::connect() noexcept {
  const config::RedisEndpoint& e = options_.endpoint;
  const timeval tv = to_timeval(options_.timeout);
  redisContext* c = e.kind == config::RedisEndpoint::Kind::Unix
                        ? redisConnectUnixWithTimeout(e.path.c_str(), tv)
                        : redisConnectWithTimeout(e.host.c_str(), e.port, tv);
  if (c == nullptr) {
    error_ = "cannot allocate a Redis context";
    return false;
  }
  context_.reset(c);
  if (c->err != 0 || redisSetTimeout(c, tv) != REDIS_OK) {
    error_ = std::string("connect ") + describe() + ": " + c->errstr;
    context_.reset();
    return false;
  }
  if (!options_.password.empty()) {
    Reply r = options_.user.empty() ? raw({"AUTH", options_.password})
                                    : raw({"AUTH", options_.user, options_.password});
    if (!r) return false;  // raw() dropped the link and said why
    if (r->type == REDIS_REPLY_ERROR) {
      // Redis's own words ("WRONGPASS ..."): they never echo the password.
      error_ = "AUTH at " + describe() + " refused: " + std::string(reply_text(*r));
      context_.reset();
      return false;
    }
  }
  return true;
}

Reply RedisLink::raw(std::initializer_list<std::string_view> args) noexcept {
  try {
    std::vector<const char*> argv;
    std::vector<std::size_t> lens;
    argv.reserve(args.size());
    lens.reserve(args.size());
    for (std::string_view a : args) {
      argv.push_back(a.data());
      lens.push_back(a.size());
    }
    void* r =
        redisCommandArgv(context_.get(), static_cast<int>(argv.size()), argv.data(), lens.data());
    if (r == nullptr) {
      error_ = describe() + ": " + (context_->err != 0 ? context_->errstr : "no reply");
      context_.reset();  // the connection's state is unknown now
      return nullptr;
    }
    return Reply(static_cast<redisReply*>(r));
  } catch (...) {  // bad_alloc
    error_ = "out of memory";
    context_.reset();
    return nullptr;
  }
}

Reply RedisLink::command(std::initializer_list<std::string_view> args) noexcept {
  if (!context_ && !connect()) return nullptr;
  return raw(args);
}

}  // namespace ringftpd::server::shared
