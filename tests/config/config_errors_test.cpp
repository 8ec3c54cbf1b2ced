// One row per rule of the configuration schema: each bad input must be refused
// with "t.toml:line:column: <what>, expected <what>" at the offending place.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

#include "config/config.hpp"
#include "tests/config/temp_tree.hpp"

namespace ringftpd::config {
namespace {

using test_support::ErrorRow;
using test_support::TempTree;

const ErrorRow kRows[] = {
    // Top level.
    {"unknown_top_key", "wokers = 4\n", "t.toml:1:1: ",
     "unknown key 'wokers' at the top level, expected one of: workers, run_as, state_dir, "
     "pid_file, banner, listen, tls, control, data, passive, limits, users, transfer, log, "
     "sandbox, metrics, shared"},
    {"workers_string", "workers = \"4\"\n",
     "t.toml:1:11: ", "workers has the wrong type, expected integer, got string"},
    {"workers_float", "workers = 4.0\n", "t.toml:1:11: ", "expected integer, got float"},
    {"workers_too_many", "workers = 257\n",
     "t.toml:1:11: ", "workers = 257 is out of range, expected 0..256"},
    {"workers_negative", "workers = -1\n", "t.toml:1:11: ", "expected 0..256"},
    {"run_as_empty", "run_as = \"\"\n", "t.toml:1:10: ", "run_as is empty, expected a user name"},
    {"run_as_type", "run_as = 0\n", "t.toml:1:10: ", "expected string, got integer"},
    {"state_dir_empty", "state_dir = \"\"\n", "t.toml:1:13: ", "state_dir is empty"},
    {"banner_line_break", "banner = \"hi\\r\\n230 fake\"\n",
     "t.toml:1:10: ", "banner contains a line break, expected a single line of text"},
    {"banner_nul", "banner = \"a\\u0000b\"\n", "t.toml:1:10: ", "banner contains a NUL character"},
    {"banner_type", "banner = [\"a\"]\n", "t.toml:1:10: ", "expected string, got array"},
    {"dotted_unknown_key", "tls.certfile = \"x\"\n",
     "t.toml:1:5: ", "unknown key 'certfile' in [tls]"},

    // [[listen]]
    {"listen_is_table", "[listen]\nport = 21\n",
     "t.toml:1:1: ", "listen has the wrong type, expected array of tables ([[listen]]), got table"},
    {"listen_empty", "listen = []\n",
     "t.toml:1:10: ", "listen is empty, expected at least one [[listen]] table"},
    {"listen_unknown_key", "[[listen]]\nadress = \"::1\"\n", "t.toml:2:1: ",
     "unknown key 'adress' in listen[0], expected one of: address, port, implicit_tls, "
     "bandwidth_bytes_per_second"},
    {"listen_bandwidth_negative", "[[listen]]\nbandwidth_bytes_per_second = -1\n",
     "t.toml:2:30: ", "listen[0].bandwidth_bytes_per_second = -1 is out of range"},
    {"listen_bandwidth_absurd", "[[listen]]\nbandwidth_bytes_per_second = 2000000000000\n",
     "t.toml:2:30: ", "listen[0].bandwidth_bytes_per_second = 2000000000000 is out of range"},
    {"listen_address_name", "[[listen]]\naddress = \"localhost\"\n",
     "t.toml:2:11: ", "listen[0].address = \"localhost\" is not a numeric address"},
    {"listen_address_scope", "[[listen]]\naddress = \"fe80::1%eth0\"\n",
     "t.toml:2:11: ", "is not a numeric address"},
    {"listen_port_zero", "[[listen]]\nport = 0\n",
     "t.toml:2:8: ", "listen[0].port = 0 is out of range, expected 1..65535"},
    {"listen_port_too_big", "[[listen]]\nport = 65536\n", "t.toml:2:8: ", "expected 1..65535"},
    {"listen_implicit_type", "[[listen]]\nimplicit_tls = \"yes\"\n",
     "t.toml:2:16: ", "listen[0].implicit_tls has the wrong type, expected boolean, got string"},
    {"listen_second_entry_error", "[[listen]]\nport = 21\n[[listen]]\nport = -5\n",
     "t.toml:4:8: ", "listen[1].port = -5 is out of range"},
    {"listen_duplicate",
     "[[listen]]\naddress = \"::1\"\nport = 2121\n"
     "[[listen]]\naddress = \"0:0::1\"\nport = 2121\n",
     "t.toml:6:8: ",
     "listen[1] repeats listen[0] (0:0::1 port 2121), expected each address and port once"},
    {"listen_in_passive_range", "[[listen]]\nport = 50010\n", "t.toml:2:8: ",
     "listen[0] port 50010 is inside passive.ports 50000-50999, expected a listener port "
     "outside the passive range"},
    {"default_listener_in_passive_range", "[passive]\nports = \"2000-3000\"\n",
     "t.toml:2:9: ", "listen[0] port 2121 is inside passive.ports 2000-3000"},

    // [tls]
    {"tls_not_table", "tls = 1\n",
     "t.toml:1:7: ", "tls has the wrong type, expected table, got integer"},
    {"tls_array_of_tables", "[[tls]]\n", "t.toml:1:1: ", "expected table, got array of tables"},
    {"tls_unknown_key", "[tls]\ncertfile = \"x\"\n", "t.toml:2:1: ",
     "unknown key 'certfile' in [tls], expected one of: certificate, private_key, min_version"},
    {"tls_certificate_without_key", "[tls]\ncertificate = \"@DIR@/cert.pem\"\n",
     "t.toml:2:15: ", "tls.certificate is set without tls.private_key, expected both or neither"},
    {"tls_key_without_certificate", "[tls]\nprivate_key = \"@DIR@/key.pem\"\n",
     "t.toml:2:15: ", "tls.private_key is set without tls.certificate, expected both or neither"},
    {"tls_certificate_missing",
     "[tls]\ncertificate = \"@DIR@/none.pem\"\nprivate_key = \"@DIR@/key.pem\"\n", "t.toml:2:15: ",
     "tls.certificate = \"@DIR@/none.pem\" cannot be read (No such file or directory), "
     "expected a readable PEM certificate file"},
    {"tls_key_is_directory",
     "[tls]\ncertificate = \"@DIR@/cert.pem\"\nprivate_key = \"@DIR@/anon\"\n", "t.toml:3:15: ",
     "cannot be read (not a regular file), expected a readable PEM private key file"},
    {"tls_min_version_unknown", "[tls]\nmin_version = \"1.1\"\n",
     "t.toml:2:15: ", "tls.min_version = \"1.1\" is not valid, expected one of \"1.2\", \"1.3\""},
    {"tls_max_version_number", "[tls]\nmax_version = 1.3\n",
     "t.toml:2:15: ", "expected string, got float"},
    {"tls_min_above_max", "[tls]\nmin_version = \"1.3\"\nmax_version = \"1.2\"\n", "t.toml:2:15: ",
     "tls.min_version is above tls.max_version, expected min_version <= max_version"},
    {"tls_lifetime_too_short", "[tls]\nsession_lifetime_seconds = 59\n",
     "t.toml:2:28: ", "tls.session_lifetime_seconds = 59 is out of range, expected 60..604800"},
    {"tls_lifetime_too_long", "[tls]\nsession_lifetime_seconds = 604801\n",
     "t.toml:2:28: ", "expected 60..604800"},
    {"tls_rotation_too_long", "[tls]\nticket_key_rotation_seconds = 86401\n",
     "t.toml:2:31: ", "expected 60..86400"},
    {"tls_cache_zero", "[tls]\nsession_cache_entries = 0\n",
     "t.toml:2:25: ", "expected 1..1000000"},
    {"tls_allow_ccc_type", "[tls]\nallow_ccc = 1\n",
     "t.toml:2:13: ", "tls.allow_ccc has the wrong type, expected boolean, got integer"},
    {"tls_allow_auth_ssl_type", "[tls]\nallow_auth_ssl = \"no\"\n",
     "t.toml:2:18: ", "expected boolean, got string"},
    {"tls_cipher_list_type", "[tls]\ncipher_list = [\"AES\"]\n",
     "t.toml:2:15: ", "expected string, got array"},
    {"tls_client_certs_unknown", "[tls]\nclient_certs = \"maybe\"\n",
     "t.toml:2:16: ", "expected one of \"off\", \"optional\", \"required\""},
    {"tls_client_certs_without_ca", "[tls]\nclient_certs = \"required\"\n",
     "t.toml:2:16: ", "tls.client_certs = \"required\" needs tls.client_ca"},
    {"tls_client_ca_missing",
     "[tls]\nclient_certs = \"optional\"\nclient_ca = \"@DIR@/none.pem\"\n", "t.toml:3:13: ",
     "tls.client_ca = \"@DIR@/none.pem\" cannot be read (No such file or directory)"},
    {"tls_user_field_unknown", "[tls]\nclient_cert_user_field = \"SN\"\n",
     "t.toml:2:26: ", "expected one of \"CN\", \"emailAddress\", \"UID\""},

    // [control]
    {"control_tls_unknown", "[control]\ntls = \"always\"\n", "t.toml:2:7: ",
     "control.tls = \"always\" is not valid, expected one of \"optional\", "
     "\"required_for_login\", \"required\""},
    {"control_anonymous_unknown", "[control]\nanonymous_tls = \"never\"\n",
     "t.toml:2:17: ", "expected one of \"same\", \"clear_allowed\", \"clear_required\""},
    {"control_unknown_key", "[control]\nanonymous = \"same\"\n",
     "t.toml:2:1: ", "unknown key 'anonymous' in [control], expected one of: tls, anonymous_tls"},

    // [data]
    {"data_protection_unknown", "[data]\nprotection = \"private\"\n", "t.toml:2:14: ",
     "expected one of \"clear_only\", \"client_choice\", \"required\", \"per_command\""},
    {"data_clear_list_needs_per_command",
     "[data]\nprotection = \"required\"\nclear_allowed_for = [\"LIST\"]\n",
     "t.toml:3:21: ", "data.clear_allowed_for is set but protection is not per_command"},
    {"data_clear_list_with_default_protection", "[data]\nclear_allowed_for = [\"LIST\"]\n",
     "t.toml:2:21: ", "protection is not per_command"},
    {"data_clear_verb_unknown",
     "[data]\nprotection = \"per_command\"\nclear_allowed_for = [\"LIST\", \"CWD\"]\n",
     "t.toml:3:30: ", "\"CWD\" is not a data transfer verb, expected one of \"LIST\""},
    {"data_clear_verb_twice",
     "[data]\nprotection = \"per_command\"\nclear_allowed_for = [\"list\", \"LIST\"]\n",
     "t.toml:3:30: ", "\"LIST\" is listed twice"},
    {"data_clear_verb_type",
     "[data]\nprotection = \"per_command\"\nclear_allowed_for = [\"LIST\", 3]\n",
     "t.toml:3:30: ", "data.clear_allowed_for[1] has the wrong type, expected string, got integer"},
    {"data_clear_list_type", "[data]\nprotection = \"per_command\"\nclear_allowed_for = \"LIST\"\n",
     "t.toml:3:21: ", "expected array of strings, got string"},
    {"data_reuse_type", "[data]\nrequire_session_reuse = \"yes\"\n",
     "t.toml:2:25: ", "expected boolean, got string"},

    // [passive]
    {"passive_single_port", "[passive]\nports = \"50000\"\n", "t.toml:2:9: ",
     "passive.ports = \"50000\" is not a valid port range, expected \"first-last\" with "
     "1024 <= first <= last <= 65535"},
    {"passive_privileged", "[passive]\nports = \"1000-2000\"\n",
     "t.toml:2:9: ", "is not a valid port range"},
    {"passive_above_65535", "[passive]\nports = \"60000-70000\"\n",
     "t.toml:2:9: ", "is not a valid port range"},
    {"passive_reversed", "[passive]\nports = \"60000-50000\"\n",
     "t.toml:2:9: ", "is not a valid port range"},
    {"passive_not_numbers", "[passive]\nports = \"a-b\"\n",
     "t.toml:2:9: ", "is not a valid port range"},
    {"passive_table_form", "[passive]\nports = { first = 50000, last = 50100 }\n",
     "t.toml:2:9: ", "passive.ports has the wrong type, expected string, got table"},
    {"passive_public_ipv6", "[passive]\npublic_address = \"::1\"\n",
     "t.toml:2:18: ", "passive.public_address = \"::1\" is an IPv6 address"},
    {"passive_public_name_unknown", "[passive]\npublic_address = \"no-such-host.invalid\"\n",
     "t.toml:2:18: ", "passive.public_address = \"no-such-host.invalid\" does not resolve ("},
    {"passive_fewer_ports_than_workers", "workers = 8\n[passive]\nports = \"50000-50006\"\n",
     "t.toml:3:9: ",
     "passive.ports has 7 ports for 8 workers, expected at least one passive port per worker"},

    // [limits]
    {"limits_max_sessions_zero", "[limits]\nmax_sessions = 0\n",
     "t.toml:2:16: ", "limits.max_sessions = 0 is out of range, expected 1..1000000"},
    {"limits_max_sessions_huge", "[limits]\nmax_sessions = 1000001\n",
     "t.toml:2:16: ", "expected 1..1000000"},
    {"limits_per_address_zero", "[limits]\nmax_sessions_per_address = 0\n",
     "t.toml:2:28: ", "out of range"},
    {"limits_line_too_short", "[limits]\nmax_line_bytes = 511\n",
     "t.toml:2:18: ", "expected 512..65536"},
    {"limits_line_too_long", "[limits]\nmax_line_bytes = 65537\n",
     "t.toml:2:18: ", "expected 512..65536"},
    {"limits_delay_zero", "[limits]\nfailed_logins_before_delay = 0\n",
     "t.toml:2:30: ", "expected at least 1"},
    {"limits_max_failed_zero", "[limits]\nmax_failed_logins = 0\n",
     "t.toml:2:21: ", "expected at least 1"},
    {"limits_error_budget_huge", "[limits]\nerror_budget = 10001\n",
     "t.toml:2:16: ", "expected 1..10000"},
    {"limits_idle_zero", "[limits]\nidle_timeout_seconds = 0\n",
     "t.toml:2:24: ", "expected 1..86400"},
    {"limits_login_long", "[limits]\nlogin_timeout_seconds = 86401\n",
     "t.toml:2:25: ", "expected 1..86400"},
    {"limits_handshake_zero", "[limits]\nhandshake_timeout_seconds = 0\n",
     "t.toml:2:29: ", "expected 1..86400"},
    {"limits_stall_long", "[limits]\ndata_stall_timeout_seconds = 86401\n",
     "t.toml:2:30: ", "expected 1..86400"},
    {"limits_bandwidth_negative", "[limits]\nbandwidth_bytes_per_second = -1\n", "t.toml:2:30: ",
     "limits.bandwidth_bytes_per_second = -1 is out of range, expected at least 0"},
    {"limits_float", "[limits]\nerror_budget = 1.5\n",
     "t.toml:2:16: ", "expected integer, got float"},
    {"limits_per_address_above_max", "[limits]\nmax_sessions = 10\nmax_sessions_per_address = 20\n",
     "t.toml:3:28: ",
     "limits.max_sessions_per_address (20) is above limits.max_sessions (10), expected "
     "max_sessions_per_address <= max_sessions"},
    {"limits_default_per_address_above_max", "[limits]\nmax_sessions = 10\n",
     "t.toml:2:16: ", "limits.max_sessions_per_address (64) is above limits.max_sessions (10)"},
    {"limits_delay_above_max", "[limits]\nfailed_logins_before_delay = 5\nmax_failed_logins = 4\n",
     "t.toml:2:30: ", "expected failed_logins_before_delay <= max_failed_logins"},
    {"limits_unknown_key", "[limits]\nmax_clients = 5\n",
     "t.toml:2:1: ", "unknown key 'max_clients' in [limits]"},

    // [users]
    {"users_file_missing", "[users]\nfile = \"@DIR@/none.toml\"\n", "t.toml:2:8: ",
     "users.file = \"@DIR@/none.toml\" cannot be read (No such file or directory), expected a "
     "readable users file"},
    {"users_anonymous_without_root", "[users]\nanonymous = true\n",
     "t.toml:2:13: ", "users.anonymous = true needs users.anonymous_root"},
    {"users_anonymous_root_is_file",
     "[users]\nanonymous = true\nanonymous_root = \"@DIR@/cert.pem\"\n",
     "t.toml:3:18: ", "cannot be used (not a directory), expected an existing directory"},
    {"users_anonymous_root_missing", "[users]\nanonymous = true\nanonymous_root = \"@DIR@/none\"\n",
     "t.toml:3:18: ", "cannot be used (No such file or directory)"},
    {"users_anonymous_write_type", "[users]\nanonymous_write = \"no\"\n",
     "t.toml:2:19: ", "expected boolean, got string"},
    {"users_unknown_key", "[users]\nanonymous_upload = true\n", "t.toml:2:1: ",
     "unknown key 'anonymous_upload' in [users], expected one of: file, anonymous, "
     "anonymous_root, anonymous_write"},

    // [transfer], [log]
    {"transfer_atomic_type", "[transfer]\natomic_uploads = 1\n",
     "t.toml:2:18: ", "transfer.atomic_uploads has the wrong type, expected boolean, got integer"},
    {"transfer_unknown_key", "[transfer]\nresume = true\n",
     "t.toml:2:1: ", "unknown key 'resume' in [transfer], expected one of: atomic_uploads"},
    {"log_level_unknown", "[log]\nlevel = \"trace\"\n",
     "t.toml:2:9: ", "expected one of \"error\", \"warn\", \"info\", \"debug\""},
    {"log_file_type", "[log]\nfile = false\n", "t.toml:2:8: ", "expected string, got boolean"},
    {"log_unknown_key", "[log]\nsyslog = true\n",
     "t.toml:2:1: ", "unknown key 'syslog' in [log], expected one of: level, file, xferlog, json"},
    {"log_json_type", "[log]\njson = true\n", "t.toml:2:8: ", "expected string, got boolean"},
    {"log_json_same_as_file", "[log]\nfile = \"/var/log/r.log\"\njson = \"/var/log/./r.log\"\n",
     "t.toml:3:8: ",
     "log.json names the same file as log.file, expected a file of its own for the JSON lines"},
    {"log_json_same_as_xferlog", "[log]\njson = \"/var/log/x\"\nxferlog = \"/var/log/x\"\n",
     "t.toml:2:8: ", "log.json names the same file as log.xferlog"},

    // [sandbox]
    {"sandbox_enabled_type", "[sandbox]\nenabled = \"no\"\n",
     "t.toml:2:11: ", "sandbox.enabled has the wrong type, expected boolean, got string"},
    {"sandbox_unknown_key", "[sandbox]\nseccomp = false\n",
     "t.toml:2:1: ", "unknown key 'seccomp' in [sandbox], expected one of: enabled"},

    // [metrics]
    {"metrics_without_port", "[metrics]\naddress = \"127.0.0.1\"\n",
     "t.toml:1:1: ", "[metrics] has no port, expected port = 1..65535"},
    {"metrics_port_zero", "[metrics]\nport = 0\n",
     "t.toml:2:8: ", "metrics.port = 0 is out of range, expected 1..65535"},
    {"metrics_port_type", "[metrics]\nport = \"9273\"\n",
     "t.toml:2:8: ", "metrics.port has the wrong type, expected integer, got string"},
    {"metrics_address_name", "[metrics]\naddress = \"localhost\"\nport = 9273\n",
     "t.toml:2:11: ", "metrics.address = \"localhost\" is not a numeric address"},
    {"metrics_unknown_key", "[metrics]\nport = 9273\npath = \"/m\"\n",
     "t.toml:3:1: ", "unknown key 'path' in [metrics], expected one of: address, port"},
    {"metrics_port_in_passive_range", "[passive]\nports = \"9000-9100\"\n[metrics]\nport = 9050\n",
     "t.toml:4:8: ", "metrics.port 9050 is inside passive.ports 9000-9100"},
    {"metrics_port_of_a_listener",
     "[[listen]]\naddress = \"0.0.0.0\"\nport = 2121\n[metrics]\nport = 2121\n",
     "t.toml:5:8: ", "metrics.port 2121 is also listen[0]'s (0.0.0.0), expected a port no"},

    // [shared]
    {"shared_without_redis", "[shared]\nsecret_file = \"@DIR@/users.toml\"\n",
     "t.toml:1:1: ", "[shared] has no redis"},
    {"shared_redis_scheme", "[shared]\nredis = \"redis://h:6379\"\n",
     "t.toml:2:9: ", "shared.redis = \"redis://h:6379\" is not a Redis address"},
    {"shared_redis_relative_socket", "[shared]\nredis = \"unix:redis.sock\"\n",
     "t.toml:2:9: ", "is not a Redis address"},
    {"shared_redis_port", "[shared]\nredis = \"tcp:127.0.0.1:0\"\n",
     "t.toml:2:9: ", "is not a Redis address"},
    {"shared_redis_v6_without_brackets", "[shared]\nredis = \"tcp:::1:6379\"\n",
     "t.toml:2:9: ", "is not a Redis address"},
    {"shared_without_secret", "[shared]\nredis = \"tcp:127.0.0.1:6379\"\n",
     "t.toml:1:1: ", "[shared] has no secret_file"},
    {"shared_secret_missing",
     "[shared]\nredis = \"tcp:127.0.0.1:6379\"\nsecret_file = \"@DIR@/none\"\n",
     "t.toml:3:15: ", "shared.secret_file = \"@DIR@/none\" cannot be read"},
    {"shared_user_without_password",
     "[shared]\nredis = \"tcp:127.0.0.1:6379\"\nredis_user = \"ftp\"\n",
     "t.toml:3:14: ", "shared.redis_user is set without shared.redis_password_file"},
    {"shared_timeout_range", "[shared]\nredis = \"tcp:127.0.0.1:6379\"\nredis_timeout_ms = 5\n",
     "t.toml:3:20: ", "shared.redis_timeout_ms = 5 is out of range, expected 10..10000"},
    {"shared_prefix_chars",
     "[shared]\nredis = \"tcp:h:6379\"\nsecret_file = \"@DIR@/users.toml\"\nkey_prefix = \"a b\"\n",
     "t.toml:4:14: ", "shared.key_prefix = \"a b\" is not a usable prefix"},
    {"shared_unknown_key",
     "[shared]\nredis = \"tcp:h:6379\"\nsecret_file = \"@DIR@/users.toml\"\nredis_db = 2\n",
     "t.toml:4:1: ", "unknown key 'redis_db' in [shared]"},

    // TOML syntax.
    {"syntax_missing_value", "workers = 4\nbanner =\n",
     "t.toml:2:9: ", "invalid TOML: Error while parsing key-value pair: expected value"},
    {"syntax_duplicate_key", "workers = 1\nworkers = 2\n", "t.toml:2:",
     "invalid TOML: Error while parsing key-value pair: cannot redefine existing integer "
     "'workers'"},
    {"syntax_unclosed_table", "[tls\n", "t.toml:1:5: ", "invalid TOML: "},
    {"syntax_table_twice", "[tls]\n[tls]\n", "t.toml:2:1: ", "cannot redefine existing table"},
};

class ConfigErrors : public ::testing::TestWithParam<ErrorRow> {
 protected:
  TempTree tree_;
};

TEST_P(ConfigErrors, IsRefusedAtItsPlace) {
  const ErrorRow& row = GetParam();
  try {
    (void)parse(tree_.expand(row.toml), "t.toml");
    FAIL() << "accepted:\n" << row.toml;
  } catch (const ConfigError& e) {
    EXPECT_THAT(e.what(), ::testing::StartsWith(row.prefix));
    EXPECT_THAT(e.what(), ::testing::HasSubstr(tree_.expand(row.detail)));
  }
}

INSTANTIATE_TEST_SUITE_P(Schema, ConfigErrors, ::testing::ValuesIn(kRows), test_support::row_name);

}  // namespace
}  // namespace ringftpd::config
