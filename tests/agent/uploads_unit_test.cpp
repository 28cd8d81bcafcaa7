// The pieces of the upload methods: gzip payloads, blob names and SAS URLs, background task
// status (as upstream's BackgroundTask), and uploads against the blob stand-in.
#include <catch2/catch.hpp>
#include <condition_variable>
#include <thread>

#include "agent/upstream/blob.h"
#include "agent/upstream/gzip.h"
#include "agent/upstream/tasks.h"
#include "tests/agent/hub_fixture.h"

using namespace agent::upstream;
using namespace std::chrono_literals;

TEST_CASE("log payloads gzip and unzip to the same bytes", "[unit]") {
  std::string text;
  for (int i = 0; i < 1000; ++i) text += "line " + std::to_string(i) + "\n";
  auto packed = gzip_compress(text);
  REQUIRE(packed);
  CHECK(packed->size() < text.size() / 3);
  CHECK(static_cast<unsigned char>((*packed)[0]) == 0x1f);  // gzip magic
  CHECK(static_cast<unsigned char>((*packed)[1]) == 0x8b);
  CHECK(agent_test::gunzip(*packed) == text);
  auto empty = gzip_compress("");
  REQUIRE(empty);
  CHECK(agent_test::gunzip(*empty) == "");
}

TEST_CASE("blob names and SAS URLs follow upstream", "[unit]") {
  std::time_t t = 1700000000;  // 2023-11-14 22:13:20 UTC
  CHECK(blob_name("hub.example", "dev1", "sensor", "log.gz", t) ==
        "hub.example/dev1/sensor-2023-11-14--22-13-20.log.gz");
  CHECK(BlobContainer::open("https://acct.blob.example/logs?sv=1&sig=x", "", ""));
  CHECK(BlobContainer::open("https://acct.blob.example/logs/?sig=x", "", ""));
  CHECK(BlobContainer::open("https://$upstream:443/logs?sig=x", "parent.local", ""));
  for (const char* bad : {"http://acct.blob.example/logs?sig=x", "https://acct.blob.example/?sig=x",
                          "https://acct.blob.example", "not a url", "https://u:p@h/logs"}) {
    auto c = BlobContainer::open(bad, "", "");
    INFO(bad);
    REQUIRE_FALSE(c);
    CHECK_THAT(c.error().message, Catch::StartsWith("invalid sasUrl"));
    CHECK_THAT(c.error().message, !Catch::Contains("sig=") && !Catch::Contains("acct"));
  }
}

TEST_CASE("background tasks go from Running to Completed or Failed", "[unit]") {
  Tasks tasks;
  std::mutex m;
  std::condition_variable cv;
  bool release = false;
  auto started = tasks.run("upload logs", [&](const std::atomic<bool>&) -> edge::Status {
    std::unique_lock lock(m);
    cv.wait(lock, [&] { return release; });
    return {};
  });
  REQUIRE(started);
  std::string id = (*started)["correlationId"];
  CHECK((*started)["status"] == "Running");
  CHECK(tasks.status(id)["status"] == "Running");
  {
    std::lock_guard lock(m);
    release = true;
  }
  cv.notify_all();
  auto wait_done = [&](const std::string& i) {
    for (int n = 0; n < 100 && tasks.status(i)["status"] == "Running"; ++n)
      std::this_thread::sleep_for(10ms);
    return tasks.status(i);
  };
  CHECK(wait_done(id) == nlohmann::json{{"status", "Completed"}, {"message", ""}, {"correlationId", id}});

  auto failing = tasks.run("upload support bundle", [](const std::atomic<bool>&) -> edge::Status {
    return edge::fail(edge::ErrorKind::Unavailable, "the storage service answered 403");
  });
  REQUIRE(failing);
  auto failed = wait_done((*failing)["correlationId"]);
  CHECK(failed["status"] == "Failed");
  CHECK(failed["message"] ==
        "Task upload support bundle failed because of error the storage service answered 403");
  CHECK(tasks.status("nope") ==
        nlohmann::json{{"status", "Unknown"}, {"message", ""}, {"correlationId", "nope"}});

  // Bounded: a fifth task while four run is refused.
  std::atomic<bool> hold{true};
  std::vector<std::string> ids;
  for (size_t i = 0; i < Tasks::kMaxRunning; ++i) {
    auto r = tasks.run("upload logs", [&](const std::atomic<bool>& stopping) -> edge::Status {
      while (hold && !stopping) std::this_thread::sleep_for(5ms);
      return {};
    });
    REQUIRE(r);
    ids.push_back((*r)["correlationId"]);
  }
  auto refused = tasks.run("upload logs", [](const std::atomic<bool>&) { return edge::Status{}; });
  REQUIRE_FALSE(refused);
  CHECK_THAT(refused.error(), Catch::Contains("Too many tasks"));
  hold = false;
  for (const auto& i : ids) CHECK(wait_done(i)["status"] == "Completed");
  CHECK(tasks.run("upload logs", [](const std::atomic<bool>&) { return edge::Status{}; }));
  CHECK(new_guid() != new_guid());
  CHECK(new_guid().size() == 36);
}

TEST_CASE("blob uploads reach the container and failures say why", "[integration]") {
  agent_test::BlobServer server;
  auto c = BlobContainer::open(server.sas_url(), "", server.cert_pem());
  REQUIRE(c);
  REQUIRE(c->put_block_blob("hub/dev/a.json", "[1,2]", "application/json", ""));
  CHECK(server.read("hub/dev/a.json") == "[1,2]");
  CHECK(server.headers("hub/dev/a.json")["x-ms-blob-content-type"] == "application/json");
  CHECK_FALSE(server.headers("hub/dev/a.json").contains("x-ms-blob-content-encoding"));
  REQUIRE(c->create_append_blob("hub/dev/b.log", "text/plain", "gzip"));
  REQUIRE(c->append_block("hub/dev/b.log", "one\n"));
  REQUIRE(c->append_block("hub/dev/b.log", "two\n"));
  CHECK(server.read("hub/dev/b.log") == "one\ntwo\n");
  CHECK(server.blocks("hub/dev/b.log") == 2);
  CHECK_FALSE(c->append_block("hub/dev/b.log", std::string(kMaxAppendBlock + 1, 'x')));
  auto missing = c->append_block("hub/dev/never-created.log", "x");
  REQUIRE_FALSE(missing);
  CHECK_THAT(missing.error().message, Catch::Contains("404 BlobNotFound"));
  auto denied = BlobContainer::open(server.sas_url("logs", "wrong-sig"), "", server.cert_pem());
  REQUIRE(denied);
  auto r = denied->put_block_blob("hub/dev/c.json", "{}", "", "");
  REQUIRE_FALSE(r);
  CHECK(r.error().kind == edge::ErrorKind::Forbidden);
  CHECK_THAT(r.error().message, Catch::Contains("403 AuthenticationFailed") &&
                                    !Catch::Contains("wrong-sig"));
  // A server the trust bundle does not vouch for is refused.
  auto untrusted = BlobContainer::open(server.sas_url(), "", "");
  REQUIRE(untrusted);
  auto u = untrusted->put_block_blob("hub/dev/d.json", "{}", "", "");
  REQUIRE_FALSE(u);
  CHECK(u.error().kind == edge::ErrorKind::Unavailable);
}

TEST_CASE("blob uploads go through the HTTPS proxy over the agent's TLS", "[integration]") {
  agent_test::BlobServer server;
  std::string sas = server.sas_url();
  int port = std::stoi(sas.substr(sas.rfind(':') + 1));
  agent_test::Tinyproxy proxy("agent", "pr0xy", port);
  ::setenv("https_proxy", proxy.url("agent:pr0xy").c_str(), 1);
  ::unsetenv("no_proxy");
  ::unsetenv("NO_PROXY");
  auto c = BlobContainer::open(sas, "", server.cert_pem());
  REQUIRE(c);
  auto put = c->put_block_blob("hub/dev/proxied.json", "{\"via\":\"proxy\"}", "application/json", "");
  INFO((put ? "" : put.error().message) << "\n" << proxy.log());
  REQUIRE(put);
  CHECK(server.read("hub/dev/proxied.json") == "{\"via\":\"proxy\"}");
  CHECK_THAT(proxy.log(), Catch::Contains("CONNECT"));
  // Refused credentials fail at once with the proxy's answer, and never show the password.
  ::setenv("https_proxy", proxy.url("agent:wrong").c_str(), 1);
  auto refused = c->put_block_blob("hub/dev/refused.json", "{}", "", "");
  ::unsetenv("https_proxy");
  REQUIRE_FALSE(refused);
  CHECK_THAT(refused.error().message, Catch::Contains("refused CONNECT") && !Catch::Contains("wrong"));
}
