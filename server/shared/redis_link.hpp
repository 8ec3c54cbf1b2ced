// server::shared::RedisLink: one blocking connection to Redis, with a
// deadline on the connect and on every command ([shared] redis_timeout_ms).
//
// Who may use it: the sharedd helper only (server/process/sharedd.hpp), a
// process of its own whose waits stall no worker's loop and no master.
// Workers never reach Redis.
//
// Contract: connects lazily; logs in (AUTH user password, or AUTH password)
// when a password is given. Any I/O or protocol failure drops the
// connection, and the next command connects afresh; a Redis error reply
// ("-ERR ...") is a reply, not a failure. error() says what went wrong last,
// never with the password in it. One thread; noexcept after construction.
#pragma once

#include <hiredis/hiredis.h>

#include <chrono>
#include <initializer_list>
#include <memory>
#include <string>
#include <string_view>

#include "config/config.hpp"

namespace ringftpd::server::shared {

struct ReplyFree {
  void operator()(redisReply* r) const noexcept { freeReplyObject(r); }
};
using Reply = std::unique_ptr<redisReply, ReplyFree>;

struct RedisLinkOptions {
  config::RedisEndpoint endpoint;
  std::string user;      // empty: the default user
  std::string password;  // empty: no AUTH
  std::chrono::milliseconds timeout{250};
};

class RedisLink {
 public:
  explicit RedisLink(RedisLinkOptions options);
  ~RedisLink();
  RedisLink(const RedisLink&) = delete;
  RedisLink& operator=(const RedisLink&) = delete;

  // Runs one command, arguments binary safe. nullptr: no connection, a
  // timeout or a protocol error (the link is dropped; see error()).
  [[nodiscard]] Reply command(std::initializer_list<std::string_view> args) noexcept;

  [[nodiscard]] bool is_connected() const noexcept { return context_ != nullptr; }
  [[nodiscard]] const std::string& error() const noexcept { return error_; }
  // "unix:/run/redis/redis-server.sock", for log lines.
  [[nodiscard]] std::string describe() const;

 private:
  struct ContextFree {
    void operator()(redisContext* c) const noexcept { redisFree(c); }
  };
  [[nodiscard]] bool connect() noexcept;
  [[nodiscard]] Reply raw(std::initializer_list<std::string_view> args) noexcept;

  RedisLinkOptions options_;
  std::unique_ptr<redisContext, ContextFree> context_;
  std::string error_;
};

// A reply's bytes (string, status or error replies), or "" for others.
[[nodiscard]] std::string_view reply_text(const redisReply& r) noexcept;

}  // namespace ringftpd::server::shared
